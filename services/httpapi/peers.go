package httpapi

import (
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/intercooperative-network/icn-go/messages"
)

// The peer manager's name in the tree.
const peersActor = "peers"

// peersBodyLimit bounds a peers or faults request body: a multiaddr, or a
// list of peer IDs (about 52 bytes each) longer than any federation's.
const peersBodyLimit = 64 << 10

// connectWait bounds POST /api/v1/peers. The peer manager's dial has a
// deadline of its own (the network's RPC timeout, 10 s), usually longer
// than the call timeout: waiting past it lets the dial's own failure (502
// peer_unreachable) answer rather than a 504.
const connectWait = 12 * time.Second

// pingWithin bounds a ping series: under icnctl's default timeout (10 s),
// so that a slow peer's series answers with the round trips it had, the
// rest counted as failed.
const pingWithin = 8 * time.Second

// Peer is one row of the peer table (GET /api/v1/peers).
type Peer struct {
	PeerID string `json:"peer_id"`
	// DID is the peer's node identity, derived from its key ("" for a key
	// that is not a node's).
	DID       string   `json:"did"`
	Addrs     []string `json:"addrs"` // known addresses, sorted
	Connected bool     `json:"connected"`
	// Since is when the current connection opened; absent when not connected.
	Since string `json:"since,omitempty"`
	// LastSeen is the last connection event or message, to or from it.
	LastSeen    string  `json:"last_seen,omitempty"`
	RTTMS       float64 `json:"rtt_ms"` // the latest round trip measured; 0 when none
	MessagesIn  uint64  `json:"messages_in"`
	MessagesOut uint64  `json:"messages_out"`
	Breaker     string  `json:"breaker"` // of outbound requests: closed, open, half_open
}

// PeerList is GET /api/v1/peers: connected peers first, then by peer ID.
type PeerList struct {
	Peers []Peer `json:"peers"`
}

// ConnectRequest is the body of POST /api/v1/peers.
type ConnectRequest struct {
	// Addr is a multiaddr ending in /p2p/<peer id>, such as
	// /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW...
	Addr string `json:"addr"`
}

// PingResult is POST /api/v1/peers/{peer}/ping: a series of signed
// round trips through the peer managers of both nodes.
type PingResult struct {
	PeerID string     `json:"peer"`
	DID    string     `json:"did"`
	Count  int        `json:"count"`  // round trips asked for
	RTTMS  RTTSummary `json:"rtt_ms"` // of the round trips that succeeded
	Failed int        `json:"failed"` // round trips that failed or were not tried
}

// RTTSummary is the spread of a ping series' round trips in milliseconds
// (nearest-rank percentiles).
type RTTSummary struct {
	Min float64 `json:"min"`
	P50 float64 `json:"p50"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// PartitionRequest is the body of POST /admin/faults/partition, and the
// optional body of DELETE /admin/faults/partition.
type PartitionRequest struct {
	Peers []string `json:"peers"` // peer IDs
}

// Faults are the network faults in force (GET /admin/faults): the peers
// this node is cut off from, sorted.
type Faults struct {
	Blocked []string `json:"blocked"`
}

func (s *Server) peersRoutes() {
	a := s.public
	a.handle(Route{Method: "GET", Path: "/api/v1/peers", Tag: "network",
		Summary:     "The peer table: every peer this node knows, connected ones first",
		Description: "since is absent for a peer that is not connected; rtt_ms is 0 until a round trip was measured.",
		Response:    PeerList{}, Errors: []int{500, 503, 504}, Handle: s.getPeers})
	a.handle(Route{Method: "POST", Path: "/api/v1/peers", Tag: "network",
		Summary: "Dial a peer at a multiaddr ending in /p2p/<peer id>; answers its row once connected",
		Description: "Connecting to a peer already connected succeeds. The dial gives up after 10 s (502 peer_unreachable); " +
			"a peer blocked by fault injection cannot be dialled (502 as well).",
		Body: ConnectRequest{}, BodyLimit: peersBodyLimit,
		Response: Peer{}, Status: http.StatusCreated, Errors: []int{400, 413, 415, 500, 502, 503, 504}, Handle: s.postPeer})
	a.handle(Route{Method: "POST", Path: "/api/v1/peers/{peer}/ping", Tag: "network",
		Summary: "Measure signed RPC round trips to a peer (by peer ID or DID), one after another",
		Description: "{peer} is a peer ID (12D3KooW...) or a node's DID (did:key:...). Each round trip is a signed request over /icn/rpc/1 that the other node's peer manager checks and answers. " +
			"A peer not in the peer table is a 404 not_found, one whose breaker is open a 503 peer_unavailable; " +
			"a peer none of whose round trips succeeded a 502 peer_unreachable. A series stops early when failures open " +
			"the peer's breaker, or after 8 s: the round trips not tried count as failed.",
		Params: []Param{{Name: "count", In: "query", Type: "integer", Description: "round trips, 1 to " + strconv.Itoa(messages.MaxPingCount) +
			" (default " + strconv.Itoa(messages.DefaultPingCount) + ")"}},
		Response: PingResult{}, Errors: []int{400, 404, 500, 502, 503, 504}, Handle: s.pingPeer})
}

func (s *Server) faultRoutes() {
	a := s.admin
	a.handle(Route{Method: "GET", Path: "/admin/faults", Tag: "admin",
		Summary:  "The network faults in force: the peers this node is cut off from",
		Response: Faults{}, Errors: []int{500, 503, 504}, Handle: s.getFaults})
	a.handle(Route{Method: "POST", Path: "/admin/faults/partition", Tag: "admin",
		Summary: "Fault injection: cut this node off from peers (connections closed, no dial either way) until healed",
		Description: "Answers the peers blocked now. Blocking a peer already blocked, or one never seen, is allowed; " +
			"an invalid peer ID or this node's own refuses the whole request.",
		Body: PartitionRequest{}, BodyLimit: peersBodyLimit,
		Response: Faults{}, Errors: []int{400, 413, 415, 500, 503, 504}, Handle: s.postPartition})
	a.handle(Route{Method: "DELETE", Path: "/admin/faults/partition", Tag: "admin",
		Summary: "Heal a partition: unblock the peers given (?peer= repeated, or a body), or every blocked peer when none is",
		Description: "The node redials the peers it unblocks. Answers the peers still blocked. " +
			"Give the peers in the query or in the body, not both.",
		Params: []Param{{Name: "peer", In: "query", Description: "a peer ID to unblock; repeat for several"}},
		Body:   PartitionRequest{}, BodyOptional: true, BodyLimit: peersBodyLimit,
		Response: Faults{}, Errors: []int{400, 413, 415, 500, 503, 504}, Handle: s.deletePartition})
}

// peersCall sends msg to the peer manager and checks the reply's type.
func peersCall[R any](s *Server, r *http.Request, msg any) (R, error) {
	return actorCall[R](s, r, peersActor, msg)
}

// stampOrEmpty is stamp, and "" for the zero time (omitted).
func stampOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return stamp(t)
}

func peerRow(p messages.PeerInfo) Peer {
	addrs := p.Addrs
	if addrs == nil {
		addrs = []string{}
	}
	return Peer{PeerID: p.PeerID, DID: p.DID, Addrs: addrs, Connected: p.Connected, Since: stampOrEmpty(p.Since),
		LastSeen: stampOrEmpty(p.LastSeen), RTTMS: float64(p.RTT.Microseconds()) / 1000,
		MessagesIn: p.MessagesIn, MessagesOut: p.MessagesOut, Breaker: p.Breaker}
}

func faults(f *messages.Faults) Faults {
	out := Faults{Blocked: f.Blocked}
	if out.Blocked == nil {
		out.Blocked = []string{}
	}
	return out
}

func (s *Server) getPeers(w http.ResponseWriter, r *http.Request) error {
	reply, err := peersCall[*messages.PeerList](s, r, &messages.ListPeers{})
	if err != nil {
		return err
	}
	out := PeerList{Peers: make([]Peer, 0, len(reply.Peers))}
	for _, p := range reply.Peers {
		out.Peers = append(out.Peers, peerRow(p))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) postPeer(w http.ResponseWriter, r *http.Request) error {
	var req ConnectRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Addr) == "" {
		return BadRequest(`missing "addr" (a multiaddr ending in /p2p/<peer id>, such as /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW...)`)
	}
	reply, err := actorCallWithin[messages.PeerInfo](s, r, max(s.cfg.CallTimeout, connectWait), peersActor, &messages.ConnectPeer{Addr: req.Addr})
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "peer connected", "peer", reply.PeerID, "did", reply.DID)
	writeJSON(w, http.StatusCreated, peerRow(reply))
	return nil
}

func (s *Server) getFaults(w http.ResponseWriter, r *http.Request) error {
	reply, err := peersCall[*messages.Faults](s, r, &messages.ListFaults{})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, faults(reply))
	return nil
}

func (s *Server) postPartition(w http.ResponseWriter, r *http.Request) error {
	var req PartitionRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if len(req.Peers) == 0 {
		return BadRequest(`missing "peers" (the peer IDs to cut this node off from)`)
	}
	reply, err := peersCall[*messages.Faults](s, r, &messages.BlockPeers{Peers: req.Peers})
	if err != nil {
		return err
	}
	s.log.WarnContext(r.Context(), "fault injected: partition", "peers", req.Peers, "blocked", len(reply.Blocked))
	writeJSON(w, http.StatusOK, faults(reply))
	return nil
}

func (s *Server) deletePartition(w http.ResponseWriter, r *http.Request) error {
	var req PartitionRequest
	inBody, err := decodeOptionalJSON(r, &req)
	if err != nil {
		return err
	}
	query := r.URL.Query()["peer"]
	if inBody && len(query) > 0 {
		return BadRequest("peers given both as ?peer= and in the body: give them one way")
	}
	peers := req.Peers
	if !inBody {
		peers = query
	}
	reply, err := peersCall[*messages.Faults](s, r, &messages.UnblockPeers{Peers: peers})
	if err != nil {
		return err
	}
	healed := "all"
	if len(peers) > 0 {
		healed = strings.Join(peers, ",")
	}
	s.log.WarnContext(r.Context(), "fault healed: partition", "peers", healed, "blocked", len(reply.Blocked))
	writeJSON(w, http.StatusOK, faults(reply))
	return nil
}

func (s *Server) pingPeer(w http.ResponseWriter, r *http.Request) error {
	count := messages.DefaultPingCount
	if v := r.URL.Query().Get("count"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > messages.MaxPingCount {
			return BadRequest("?count=%q: want 1 to %d", v, messages.MaxPingCount)
		}
		count = n
	}
	msg := &messages.PingPeer{Peer: r.PathValue("peer"), Count: count, Within: pingWithin}
	reply, err := actorCallWithin[*messages.PingReport](s, r, max(s.cfg.CallTimeout, pingWithin+time.Second), peersActor, msg)
	if errors.Is(err, messages.ErrUnknownPeer) {
		return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: err.Error(), Details: map[string]any{"peer": msg.Peer}, Err: err}
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pingResult(reply))
	return nil
}

func pingResult(r *messages.PingReport) PingResult {
	out := PingResult{PeerID: r.Peer, DID: r.DID, Count: r.Count, Failed: r.Failed}
	if n := len(r.RTTs); n > 0 {
		ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
		// Nearest rank: the smallest round trip with at least q of them at
		// or under it.
		rank := func(q float64) time.Duration { return r.RTTs[max(0, int(math.Ceil(q*float64(n)))-1)] }
		out.RTTMS = RTTSummary{Min: ms(r.RTTs[0]), P50: ms(rank(0.5)), P99: ms(rank(0.99)), Max: ms(r.RTTs[n-1])}
	}
	return out
}
