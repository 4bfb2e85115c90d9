// Package network is the node's connection to the federation: the interface
// actors use to reach other nodes, with a production implementation over
// libp2p (libp2pnet) and an in-process one over libp2p's mocknet (memnet) for
// the test profile. Both run the same protocol stack on a real libp2p
// host.Host keyed by the node key, so the peer ID is the node's own and
// stable across restarts:
//
//   - discovery: a private Kademlia DHT (protocol prefix /icn, server mode),
//     bootstrap peers, and a redial loop that keeps the bootstrap peers and
//     the recently seen peers connected, backing off in seconds;
//   - gossip: gossipsub on the topics [TopicJobs], [TopicGov], [TopicBlocks];
//   - direct RPC: one request frame and one reply frame on a stream of
//     [ProtocolRPC];
//   - connectivity events, ping/RTT, and DHT provider records;
//   - fault injection: blocking peers (a connection gater plus disconnect).
//
// The package moves opaque bytes. It holds no domain state and must not
// interpret, sign or verify messages: the signed envelope lives in messages
// and the peers actor checks it, using the authenticated peer IDs and keys
// this package reports.
package network

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	ma "github.com/multiformats/go-multiaddr"
)

// The gossip topics. Only these exist: Publish and Subscribe refuse others
// with ErrUnknownTopic.
const (
	TopicJobs   = "icn/jobs/1"
	TopicGov    = "icn/gov/1"
	TopicBlocks = "icn/blocks/1"
)

// Topics lists every gossip topic; each node joins all of them at start, so
// it relays every topic whether or not anyone on the node subscribes.
func Topics() []string { return []string{TopicJobs, TopicGov, TopicBlocks} }

const (
	// ProtocolRPC is the direct request/response protocol.
	ProtocolRPC protocol.ID = "/icn/rpc/1"
	// DHTPrefix is the Kademlia protocol prefix: /icn/kad/1.0.0, a private
	// DHT that never joins the public IPFS one.
	DHTPrefix protocol.ID = "/icn"
	// MaxGossipSize is the largest gossip payload (1 MiB).
	MaxGossipSize = 1 << 20
	// MaxRPCSize is the largest RPC request or reply body: room for the
	// largest block a node may be configured for (16 MiB, block.MaxSize)
	// in a signed envelope, since a block fetch's reply is one.
	MaxRPCSize = 16<<20 + 64<<10
	// DefaultRPCTimeout bounds a Request whose context has no deadline, and
	// the serving of one request.
	DefaultRPCTimeout = 10 * time.Second
)

// Errors. Each is wrapped with context (peer, size) and matched with
// errors.Is; a handler's error arrives as a *RemoteError.
var (
	// ErrNotStarted: the network is not running (before Start, after Stop).
	ErrNotStarted = errors.New("network: not started")
	// ErrUnknownTopic: the topic is not one of Topics().
	ErrUnknownTopic = errors.New("network: unknown topic")
	// ErrTooLarge: a gossip payload or an RPC frame is over its limit.
	ErrTooLarge = errors.New("network: message too large")
	// ErrPeerUnreachable: no stream could be opened to the peer (no
	// address, dial refused or timed out, blocked, protocol not spoken).
	ErrPeerUnreachable = errors.New("network: peer unreachable")
	// ErrStreamBroken: the stream was reset or closed before a whole reply
	// arrived (the peer went away or gave up mid-request; it may or may not
	// have processed the request). Such an error matches
	// ErrPeerUnreachable too.
	ErrStreamBroken = errors.New("network: stream broken")
	// ErrProtocol: the peer sent something that is not a frame of ours.
	ErrProtocol = errors.New("network: protocol violation")
	// ErrSelf: a request or dial addressed to this node itself.
	ErrSelf = errors.New("network: peer is this node")
)

// RemoteCode says why the remote side answered with an error frame.
type RemoteCode uint8

// Remote error codes.
const (
	// RemoteHandlerError: the remote handler returned an error.
	RemoteHandlerError RemoteCode = 1
	// RemoteTooLarge: the request (or the handler's reply) was over the
	// limit; a *RemoteError with this code also matches ErrTooLarge.
	RemoteTooLarge RemoteCode = 2
	// RemoteNoHandler: the remote node serves no RPC (yet).
	RemoteNoHandler RemoteCode = 3
)

func (c RemoteCode) String() string {
	switch c {
	case RemoteHandlerError:
		return "handler error"
	case RemoteTooLarge:
		return "too large"
	case RemoteNoHandler:
		return "no handler"
	}
	return fmt.Sprintf("code %d", uint8(c))
}

// RemoteError is the error frame a peer answered with: the remote handler's
// error text (truncated to MaxRemoteErrorLen bytes) and a code.
type RemoteError struct {
	Peer    peer.ID
	Code    RemoteCode
	Message string
}

// MaxRemoteErrorLen bounds the text of an error frame.
const MaxRemoteErrorLen = 1024

func (e *RemoteError) Error() string {
	return fmt.Sprintf("network: peer %s answered %s: %s", e.Peer, e.Code, e.Message)
}

// Is makes a RemoteTooLarge error match ErrTooLarge.
func (e *RemoteError) Is(target error) bool {
	return target == ErrTooLarge && e.Code == RemoteTooLarge
}

// Message is one gossip message received from another node. Our own
// messages are never delivered back: gossipsub itself does deliver a node's
// own publications to its local subscriptions by default, and this package
// drops them.
type Message struct {
	Topic string
	Data  []byte
	// From is the author: the node that published the message. Gossipsub
	// runs in strict-sign mode, so the author's signature over the message
	// was checked with FromKey before delivery; this is the identity an
	// envelope's sender must match.
	From peer.ID
	// FromKey is the author's public key (never nil on a delivered message).
	FromKey crypto.PubKey
	// ReceivedFrom is the neighbour that forwarded the message to us: equal
	// to From only on the first hop. Do not use it to authenticate.
	ReceivedFrom peer.ID
}

// Gossip is publish/subscribe on the fixed topics.
type Gossip interface {
	// Publish sends data (at most MaxGossipSize bytes) to every subscriber
	// of topic on the other nodes. It does not wait for delivery.
	Publish(ctx context.Context, topic string, data []byte) error
	// Subscribe returns the topic's messages from other nodes and a cancel
	// function that closes the channel (Stop closes it too). A subscriber
	// that falls more than a buffer behind loses messages (counted in
	// icn_network_messages_total{direction="dropped"}).
	Subscribe(topic string) (<-chan Message, func(), error)
	// TopicPeers are the peers a message published on topic now reaches:
	// those this node knows to subscribe to it. A peer connected moments
	// ago may not be among them yet (its subscriptions are on the way).
	TopicPeers(topic string) []peer.ID
}

// Handler serves one RPC request from the authenticated peer from. Its
// context ends when the request's serving deadline passes or the network
// stops. A returned error reaches the caller as a *RemoteError carrying
// err.Error(): return only errors meant for the other node.
type Handler func(ctx context.Context, from peer.ID, data []byte) ([]byte, error)

// RPC is direct request/response between two nodes.
type RPC interface {
	// Request sends data to p and waits for its reply, until ctx ends (or
	// DefaultRPCTimeout when ctx has no deadline). A peer we know no
	// address of is looked up in the DHT first. Errors match
	// ErrPeerUnreachable (the request was not delivered, or the stream broke
	// and ErrStreamBroken matches too), ErrTooLarge, ErrProtocol, ErrSelf,
	// context.DeadlineExceeded / context.Canceled, or are a *RemoteError.
	Request(ctx context.Context, p peer.ID, data []byte) ([]byte, error)
	// Handle sets the handler that serves requests from other nodes (nil
	// serves none: callers get a RemoteNoHandler error).
	Handle(h Handler)
}

// EventKind says whether a peer came or went.
type EventKind uint8

// Event kinds.
const (
	PeerConnected EventKind = iota + 1
	PeerDisconnected
)

func (k EventKind) String() string {
	switch k {
	case PeerConnected:
		return "connected"
	case PeerDisconnected:
		return "disconnected"
	}
	return "unknown"
}

// PeerEvent reports that the node gained its first connection to Peer
// (PeerConnected) or lost its last one (PeerDisconnected).
type PeerEvent struct {
	Kind EventKind
	Peer peer.ID
	Time time.Time
}

// Peers is what the node knows about its connections.
type Peers interface {
	// Connect dials a peer (a multiaddr ending in /p2p/<id>) and remembers
	// it as recently seen, so the redial loop keeps it connected.
	Connect(ctx context.Context, addr ma.Multiaddr) error
	// Connected lists the peers with at least one open connection.
	Connected() []peer.ID
	// Events streams peer up/down events in order, from the moment of the
	// call, until cancel or Stop closes the channel (a call after Stop gets
	// a closed channel until the next Start). It never blocks the network:
	// a slow reader's events queue up for it.
	Events() (<-chan PeerEvent, func())
	// Ping measures one round trip with the libp2p ping protocol; it also
	// feeds the RTT average.
	Ping(ctx context.Context, p peer.ID) (time.Duration, error)
	// RTT is the peerstore's moving average of p's round-trip time, 0 if
	// never measured.
	RTT(p peer.ID) time.Duration
	// PublicKey is p's public key (from its peer ID or the peerstore).
	PublicKey(p peer.ID) (crypto.PubKey, error)
}

// Content is the DHT's provider records: who holds which block.
type Content interface {
	// Provide announces this node as a provider of c on the DHT.
	Provide(ctx context.Context, c cid.Cid) error
	// FindProviders returns up to limit providers of c (this node excluded).
	FindProviders(ctx context.Context, c cid.Cid, limit int) ([]peer.AddrInfo, error)
}

// Faults is fault injection: a blocked peer can neither dial nor be dialed
// and its connections are closed, until unblocked.
type Faults interface {
	// Block cuts the node off from peers.
	Block(peers ...peer.ID) error
	// Unblock lifts the block on peers; the redial loop reconnects them.
	Unblock(peers ...peer.ID) error
	// Blocked lists the blocked peers.
	Blocked() []peer.ID
}

// Network is a started libp2p host of this node and the protocols on it.
type Network interface {
	// ID is the node's peer ID (derived from the node key).
	ID() peer.ID
	// Addrs are the addresses the host listens on.
	Addrs() []ma.Multiaddr
	// Host is the underlying libp2p host, nil before start.
	Host() host.Host

	Gossip
	RPC
	Peers
	Content
	Faults
}
