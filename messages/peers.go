package messages

import (
	"errors"
	"time"

	"github.com/ipfs/go-cid"
)

// Wire types: the envelope type of the messages nodes exchange. The peers
// actor routes an incoming message to the subsystem that owns its type.
const (
	// WirePing is an RPC the peers actor answers itself, echoing the body:
	// a liveness probe and the breaker's half-open test.
	WirePing = "peers.ping"
	// WireProbe is gossip the peers actor counts, on any topic: how tests
	// and operators see that a message reaches every node.
	WireProbe = "peers.probe"
	// WireDAGBlock is an RPC the dag answers: the body is a CID's bytes, the
	// reply the block's bytes (the asker checks them against the CID).
	WireDAGBlock = "dag.block"
)

// Errors of the peer manager, matched with errors.Is.
var (
	// ErrPeerUnavailable: the peer's breaker is open after consecutive
	// failures; the call failed at once. Choose another peer, or retry
	// after the *PeerUnavailableError's RetryAfter.
	ErrPeerUnavailable = errors.New("peers: peer unavailable")
	// ErrInvalidPeer: a peer ID or multiaddr that does not parse.
	ErrInvalidPeer = errors.New("peers: invalid peer")
	// ErrNoRoute: no subsystem of this node serves the message type.
	ErrNoRoute = errors.New("peers: no subsystem serves this message type")
	// ErrPeerFailed: the peer could not be reached or did not answer (the
	// cause is wrapped); it counts against the peer's breaker.
	ErrPeerFailed = errors.New("peers: request to peer failed")
)

// PeerUnavailableError says which peer's breaker is open and for how long.
type PeerUnavailableError struct {
	Peer       string
	RetryAfter time.Duration
}

func (e *PeerUnavailableError) Error() string {
	return "peers: " + e.Peer + " is unavailable (breaker open); retry after " + e.RetryAfter.String()
}

// Unwrap makes the error match ErrPeerUnavailable.
func (e *PeerUnavailableError) Unwrap() error { return ErrPeerUnavailable }

// PeerInfo is one row of the peer table.
type PeerInfo struct {
	PeerID      string
	DID         string
	Addrs       []string
	Connected   bool
	Since       time.Time // of the current connection; zero when not connected
	LastSeen    time.Time // last connection event or message
	RTT         time.Duration
	MessagesIn  uint64
	MessagesOut uint64
	Breaker     string // closed, open, half_open
}

// ListPeers asks for the peer table; the answer is a *PeerList.
type ListPeers struct{}

// PeerList is the peer table: connected peers first, then by peer ID.
type PeerList struct{ Peers []PeerInfo }

// ConnectPeer dials a multiaddr ending in /p2p/<peer id>; the answer is the
// peer's *PeerInfo once connected.
type ConnectPeer struct{ Addr string }

// PublishGossip seals Body in an envelope of type Type and gossips it on
// Topic; the answer is *GossipPublished.
type PublishGossip struct {
	Topic string
	Type  string
	Body  []byte
}

// GossipPublished acknowledges a PublishGossip.
type GossipPublished struct {
	// Reached are the peers (IDs) the message went to: those known to
	// subscribe to the topic when it was published. A connected peer not
	// among them (its subscription not yet known) did not get it.
	Reached []string
}

// AskPeer sends an RPC of type Type to Peer and answers its reply body as
// a *PeerAnswer, or an error: *PeerUnavailableError while the peer's
// breaker is open, ErrPeerFailed when the peer could not be reached, or
// the remote subsystem's refusal.
type AskPeer struct {
	Peer    string
	Type    string
	Body    []byte
	Timeout time.Duration // 0: the network's default
}

// PeerAnswer is the reply to an AskPeer.
type PeerAnswer struct {
	Peer string
	Body []byte
	Took time.Duration
}

// GossipIn is a verified gossip message, delivered to the subsystem that
// owns its type.
type GossipIn struct {
	Topic string
	Type  string
	From  string // the author's DID, checked against its libp2p key
	Peer  string // the author's peer ID
	Body  []byte
	Time  time.Time // the author's clock, within the skew window of ours
}

// PeerRequestIn is a verified RPC from another node, asked of the
// subsystem that owns its type; it answers *PeerResponse or an error (whose
// text reaches the other node).
type PeerRequestIn struct {
	Type string
	From string // DID
	Peer string
	Body []byte
}

// PeerResponse answers a PeerRequestIn.
type PeerResponse struct{ Body []byte }

// WatchPeers subscribes the named subsystem to *PeerEvent messages.
type WatchPeers struct{ Subscriber string }

// PeerEvent says a peer connected (Up) or lost its last connection.
type PeerEvent struct {
	Peer string
	DID  string
	Up   bool
	Time time.Time
}

// BlockPeers is fault injection: the node stops talking to Peers (peer
// IDs): their connections close and neither side can dial the other until
// UnblockPeers. The answer is the *Faults in force.
type BlockPeers struct{ Peers []string }

// UnblockPeers lifts the block on Peers, or on every blocked peer when
// Peers is empty; the answer is the *Faults in force.
type UnblockPeers struct{ Peers []string }

// ListFaults asks for the *Faults in force.
type ListFaults struct{}

// Faults are the injected network faults in force: the blocked peers.
type Faults struct{ Blocked []string }

// Provide announces on the DHT that this node holds CID (a pinned root);
// the answer is *Provided once the record is out, or an error.
type Provide struct{ CID cid.Cid }

// Provided acknowledges a Provide.
type Provided struct{}

// FindProviders asks which nodes hold CID: providers on the DHT, then the
// connected peers (any of them may have it); at most Limit (0: 8). The
// answer is *Providers, best candidates first.
type FindProviders struct {
	CID   cid.Cid
	Limit int
}

// Providers are peer IDs that may hold a block.
type Providers struct{ Peers []string }

// ErrUnknownPeer: a peer with no row in the peer table, which holds the
// peers connected or heard from since the peer manager last started.
var ErrUnknownPeer = errors.New("peers: unknown peer")

// Bounds of a PingPeer's series.
const (
	DefaultPingCount = 3
	MaxPingCount     = 1000
)

// PingPeer measures Count signed round trips (WirePing RPCs, one after
// another) to Peer, a peer ID or a node's DID; Count 0 is
// DefaultPingCount. Round trips still to go when Within (if set) runs out
// count as failed. The answer is a *PingReport, or an error: ErrInvalidPeer
// for a peer that does not parse or is this node, ErrUnknownPeer for one
// not in the table, *PeerUnavailableError while its breaker is open, and
// ErrPeerFailed when no round trip succeeded.
type PingPeer struct {
	Peer   string
	Count  int
	Within time.Duration
}

// PingReport is the outcome of a PingPeer: the round trips that succeeded,
// shortest first, and how many failed.
type PingReport struct {
	Peer   string // peer ID
	DID    string
	Count  int
	RTTs   []time.Duration
	Failed int
}
