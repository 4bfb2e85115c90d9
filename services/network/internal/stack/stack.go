// Package stack is the protocol stack both network implementations run on
// their libp2p host: the private DHT and the redial loop, gossipsub, the
// /icn/rpc/1 protocol, peer events, ping, provider records, the fault
// injection block list, and the network metrics. An implementation makes a
// host its own way (sockets or mocknet), hands it to Start, and embeds the
// Stack for the rest of network.Network.
//
// It moves opaque bytes: it must not interpret, sign or verify messages, and
// it holds no state beyond connections and the peers it keeps connected.
package stack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	libnet "github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"
	"github.com/libp2p/go-libp2p/p2p/protocol/ping"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/services/network"
)

// Config tunes the stack; zero fields take the defaults below.
type Config struct {
	// Bootstrap peers are dialed at start and kept connected.
	Bootstrap []peer.AddrInfo
	// RedialInitial and RedialMax bound the redial backoff (250 ms, 5 s).
	RedialInitial, RedialMax time.Duration
	// RecentMax bounds the recently seen peers kept connected (32), and
	// RecentTTL forgets one unreachable for that long (10 min).
	RecentMax int
	RecentTTL time.Duration
	// RPCTimeout bounds a request without a deadline and the serving of one
	// (network.DefaultRPCTimeout).
	RPCTimeout time.Duration
	// MaxRPCSize bounds an RPC frame body (network.MaxRPCSize).
	MaxRPCSize int
	// DHTRefresh is the DHT's periodic routing-table refresh (1 min).
	DHTRefresh time.Duration
	// Cut, if set, reports that the path to a peer is cut outside the
	// stack (memnet's partitions): traffic from such a peer is dropped as
	// from a blocked one, whatever connection or stream it arrives on.
	Cut func(peer.ID) bool
}

func (c Config) withDefaults() Config {
	if c.RedialInitial <= 0 {
		c.RedialInitial = 250 * time.Millisecond
	}
	if c.RedialMax <= 0 {
		c.RedialMax = 5 * time.Second
	}
	c.RedialMax = max(c.RedialMax, c.RedialInitial)
	if c.RecentMax <= 0 {
		c.RecentMax = 32
	}
	if c.RecentTTL <= 0 {
		c.RecentTTL = 10 * time.Minute
	}
	if c.RPCTimeout <= 0 {
		c.RPCTimeout = network.DefaultRPCTimeout
	}
	if c.MaxRPCSize <= 0 {
		c.MaxRPCSize = network.MaxRPCSize
	}
	if c.DHTRefresh <= 0 {
		c.DHTRefresh = time.Minute
	}
	return c
}

// ParseBootstrap turns multiaddrs ending in /p2p/<peer id> into peers (an
// address without a peer ID is refused: we could not authenticate it).
func ParseBootstrap(addrs []string) ([]peer.AddrInfo, error) {
	mas := make([]ma.Multiaddr, 0, len(addrs))
	for _, a := range addrs {
		m, err := ma.NewMultiaddr(a)
		if err != nil {
			return nil, fmt.Errorf("network: bootstrap address %q: %w", a, err)
		}
		if _, err := m.ValueForProtocol(ma.P_P2P); err != nil {
			return nil, fmt.Errorf("network: bootstrap address %q must end in /p2p/<peer id>", a)
		}
		mas = append(mas, m)
	}
	infos, err := peer.AddrInfosFromP2pAddrs(mas...)
	if err != nil {
		return nil, fmt.Errorf("network: bootstrap addresses: %w", err)
	}
	return infos, nil
}

// gossipOverhead is room for gossipsub's framing around a payload of
// network.MaxGossipSize (author, seqno, signature, key, topic).
const gossipOverhead = 16 << 10

// Stack is the protocol stack of one node. It is created once (its metrics
// are registered then) and may be started and stopped.
type Stack struct {
	self    peer.ID
	cfg     Config
	log     *slog.Logger
	m       *metrics
	gate    *gate
	hub     *hub
	handler atomic.Pointer[network.Handler]

	mu  sync.Mutex // serialises Start and Stop
	cur atomic.Pointer[run]
}

// run is one started life of the stack.
type run struct {
	s      *Stack
	h      host.Host
	ctx    context.Context
	cancel context.CancelFunc
	track  tracker
	dht    *dht.IpfsDHT
	ps     *pubsub.PubSub
	topics map[string]*topic
	redial *redialer
	// redialDone closes when the redial loop has returned.
	redialDone chan struct{}
	notify     *libnet.NotifyBundle

	// refreshMu orders routing-table refreshes before the DHT's Close:
	// a refresh that races with Close misuses the DHT's WaitGroup.
	// Dials run in tracked goroutines that outlive the redial loop, so
	// waiting for the loop alone is not enough.
	refreshMu sync.RWMutex
	dhtClosed bool

	upMu sync.Mutex
	up   map[peer.ID]struct{}
}

// New makes the stack of node self and registers its metrics on reg.
func New(self peer.ID, cfg Config, reg prometheus.Registerer, log *slog.Logger) (*Stack, error) {
	s := &Stack{self: self, cfg: cfg.withDefaults(), log: log, gate: newGate(), hub: newHub()}
	m, err := newMetrics(reg, func() int {
		if r := s.cur.Load(); r != nil {
			return len(r.h.Network().Peers())
		}
		return 0
	})
	if err != nil {
		return nil, err
	}
	s.m = m
	return s, nil
}

// Gater is the connection gater a host must be built with for Block to
// refuse connections at the transport.
func (s *Stack) Gater() connmgr.ConnectionGater { return s.gate }

func (s *Stack) current() *run { return s.cur.Load() }

// blocked: no traffic to or from p (Block, or a cut path).
func (s *Stack) blocked(p peer.ID) bool {
	return s.gate.isBlocked(p) || (s.cfg.Cut != nil && s.cfg.Cut(p))
}

// ID implements network.Network.
func (s *Stack) ID() peer.ID { return s.self }

// Host implements network.Network: nil unless started.
func (s *Stack) Host() host.Host {
	if r := s.current(); r != nil {
		return r.h
	}
	return nil
}

// Addrs implements network.Network: nil unless started.
func (s *Stack) Addrs() []ma.Multiaddr {
	if r := s.current(); r != nil {
		return r.h.Addrs()
	}
	return nil
}

// Start runs the stack on h, which it owns from now on (Stop closes it, and
// so does a failed Start).
func (s *Stack) Start(h host.Host) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if h.ID() != s.self {
		return errors.Join(fmt.Errorf("network: host is %s, want %s", h.ID(), s.self), h.Close())
	}
	if s.current() != nil {
		return errors.Join(errors.New("network: already started"), h.Close())
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &run{s: s, h: h, ctx: ctx, cancel: cancel, topics: map[string]*topic{}, up: map[peer.ID]struct{}{}}
	defer func() {
		if err != nil {
			err = errors.Join(err, r.shutdown())
		}
	}()
	r.dht, err = dht.New(h,
		dht.ProtocolPrefix(network.DHTPrefix),
		dht.Mode(dht.ModeServer),
		dht.DisableValues(),
		dht.RoutingTableRefreshPeriod(s.cfg.DHTRefresh),
	)
	if err != nil {
		return fmt.Errorf("network: start dht: %w", err)
	}
	r.ps, err = pubsub.NewGossipSub(ctx, h,
		pubsub.WithMessageSignaturePolicy(pubsub.StrictSign),
		// The publisher sends to every connected subscriber, not only
		// its mesh: announcements reach direct peers at once, including
		// peers that just (re)connected and are not grafted yet (the mesh
		// is repaired only at the next 1 s heartbeat). This gossipsub
		// version has it off by default.
		pubsub.WithFloodPublish(true),
		pubsub.WithMaxMessageSize(network.MaxGossipSize+gossipOverhead),
	)
	if err != nil {
		return fmt.Errorf("network: start gossipsub: %w", err)
	}
	if err := r.joinTopics(); err != nil {
		return err
	}
	ping.NewPingService(h)
	h.SetStreamHandler(network.ProtocolRPC, r.serve)
	now := time.Now()
	for _, ai := range s.cfg.Bootstrap {
		h.Peerstore().AddAddrs(ai.ID, ai.Addrs, peerstore.PermanentAddrTTL)
	}
	r.redial = newRedialer(r, now)
	r.notify = &libnet.NotifyBundle{ConnectedF: r.onConnected, DisconnectedF: r.onDisconnected}
	h.Network().Notify(r.notify)
	for _, p := range h.Network().Peers() {
		r.redial.connected(p, now)
	}
	s.hub.reopen()
	r.redialDone = make(chan struct{})
	if !r.track.Go(func() {
		defer close(r.redialDone)
		r.redial.loop(ctx)
	}) {
		close(r.redialDone)
	}
	s.cur.Store(r)
	s.log.Info("network started", "peer_id", s.self.String(), "addrs", fmt.Sprint(h.Addrs()), "bootstrap", len(s.cfg.Bootstrap))
	return nil
}

// Stop closes every subscription, the DHT, gossipsub and the host, and
// waits for the stack's goroutines. Stopping a stopped stack is a no-op.
func (s *Stack) Stop(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.cur.Swap(nil)
	if r == nil {
		return nil
	}
	return r.shutdown()
}

func (r *run) shutdown() error {
	if r.notify != nil {
		r.h.Network().StopNotify(r.notify)
	}
	r.h.RemoveStreamHandler(network.ProtocolRPC)
	r.cancel()
	if r.redialDone != nil { // nil when Start failed before the loop
		<-r.redialDone
	}
	var errs []error
	if r.dht != nil {
		r.refreshMu.Lock()
		r.dhtClosed = true
		r.refreshMu.Unlock()
		errs = append(errs, r.dht.Close())
	}
	errs = append(errs, r.h.Close())
	r.track.closeAndWait()
	for _, tp := range r.topics {
		tp.closeAll() // for topics whose reader never started
	}
	r.s.hub.close()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("network: stop: %w", err)
	}
	return nil
}

// refreshRoutingTable asks the DHT to refresh its routing table, unless
// it is closing. It does not wait for the refresh.
func (r *run) refreshRoutingTable() {
	r.refreshMu.RLock()
	defer r.refreshMu.RUnlock()
	if !r.dhtClosed {
		_ = r.dht.RefreshRoutingTable() // buffered; the result is not needed
	}
}

func (r *run) onConnected(n libnet.Network, c libnet.Conn) {
	p := c.RemotePeer()
	if r.s.blocked(p) {
		// A gater refuses these at the transport; a host without one
		// (mocknet) closes them here.
		r.track.Go(func() { _ = c.Close() })
		return
	}
	now := time.Now()
	r.upMu.Lock()
	_, up := r.up[p]
	if !up && n.Connectedness(p) == libnet.Connected {
		r.up[p] = struct{}{}
		r.s.hub.publish(network.PeerEvent{Kind: network.PeerConnected, Peer: p, Time: now})
	}
	r.upMu.Unlock()
	if !up {
		r.redial.connected(p, now)
	}
}

func (r *run) onDisconnected(n libnet.Network, c libnet.Conn) {
	p := c.RemotePeer()
	now := time.Now()
	r.upMu.Lock()
	_, up := r.up[p]
	down := up && n.Connectedness(p) != libnet.Connected
	if down {
		delete(r.up, p)
		r.s.hub.publish(network.PeerEvent{Kind: network.PeerDisconnected, Peer: p, Time: now})
	}
	r.upMu.Unlock()
	if down {
		r.redial.disconnected(p, now)
	}
}

// Connect implements network.Peers.
func (s *Stack) Connect(ctx context.Context, addr ma.Multiaddr) error {
	r := s.current()
	if r == nil {
		return network.ErrNotStarted
	}
	ai, err := peer.AddrInfoFromP2pAddr(addr)
	if err != nil {
		return fmt.Errorf("network: connect %s: address must end in /p2p/<peer id>: %w", addr, err)
	}
	if ai.ID == s.self {
		return fmt.Errorf("%w: connect %s", network.ErrSelf, addr)
	}
	if s.blocked(ai.ID) {
		return fmt.Errorf("%w: %s is blocked", network.ErrPeerUnreachable, ai.ID)
	}
	if err := r.h.Connect(ctx, *ai); err != nil {
		return fmt.Errorf("%w: %s: %w", network.ErrPeerUnreachable, ai.ID, err)
	}
	r.redial.connected(ai.ID, time.Now())
	return nil
}

// Connected implements network.Peers.
func (s *Stack) Connected() []peer.ID {
	r := s.current()
	if r == nil {
		return nil
	}
	return r.h.Network().Peers()
}

// Events implements network.Peers.
func (s *Stack) Events() (<-chan network.PeerEvent, func()) { return s.hub.subscribe() }

// Ping implements network.Peers.
func (s *Stack) Ping(ctx context.Context, p peer.ID) (time.Duration, error) {
	r := s.current()
	if r == nil {
		return 0, network.ErrNotStarted
	}
	if p == s.self {
		return 0, fmt.Errorf("%w: ping %s", network.ErrSelf, p)
	}
	if s.blocked(p) {
		return 0, fmt.Errorf("%w: %s is blocked", network.ErrPeerUnreachable, p)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	r.locate(ctx, p)
	results := ping.Ping(ctx, r.h, p)
	res, ok := <-results
	cancel()
	for range results { // let the pinger finish
	}
	switch {
	case !ok:
		return 0, fmt.Errorf("network: ping %s: %w", p, ctx.Err())
	case res.Error != nil:
		return 0, fmt.Errorf("%w: ping %s: %w", network.ErrPeerUnreachable, p, res.Error)
	}
	return res.RTT, nil
}

// RTT implements network.Peers.
func (s *Stack) RTT(p peer.ID) time.Duration {
	r := s.current()
	if r == nil {
		return 0
	}
	return r.h.Peerstore().LatencyEWMA(p)
}

// PublicKey implements network.Peers.
func (s *Stack) PublicKey(p peer.ID) (crypto.PubKey, error) {
	if k, err := p.ExtractPublicKey(); err == nil {
		return k, nil
	}
	if r := s.current(); r != nil {
		if k := r.h.Peerstore().PubKey(p); k != nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("network: no public key known for %s", p)
}

// Provide implements network.Content.
func (s *Stack) Provide(ctx context.Context, c cid.Cid) error {
	r := s.current()
	if r == nil {
		return network.ErrNotStarted
	}
	if err := r.dht.Provide(ctx, c, true); err != nil {
		return fmt.Errorf("network: provide %s: %w", c, err)
	}
	return nil
}

// FindProviders implements network.Content.
func (s *Stack) FindProviders(ctx context.Context, c cid.Cid, limit int) ([]peer.AddrInfo, error) {
	r := s.current()
	if r == nil {
		return nil, network.ErrNotStarted
	}
	if limit <= 0 {
		limit = 20
	}
	var out []peer.AddrInfo
	for ai := range r.dht.FindProvidersAsync(ctx, c, limit+1) {
		if ai.ID != s.self && len(out) < limit {
			out = append(out, ai)
		}
	}
	if len(out) == 0 && ctx.Err() != nil {
		return nil, fmt.Errorf("network: find providers of %s: %w", c, ctx.Err())
	}
	return out, nil
}

// Block implements network.Faults: the peers are gated and disconnected.
func (s *Stack) Block(peers ...peer.ID) error {
	for _, p := range peers {
		if p == s.self {
			return fmt.Errorf("%w: block %s", network.ErrSelf, p)
		}
	}
	s.gate.block(peers)
	if r := s.current(); r != nil {
		for _, p := range peers {
			if err := r.h.Network().ClosePeer(p); err != nil {
				return fmt.Errorf("network: disconnect %s: %w", p, err)
			}
		}
	}
	s.log.Info("peers blocked", "peers", fmt.Sprint(peers))
	return nil
}

// Unblock implements network.Faults: the redial loop reconnects the peers.
func (s *Stack) Unblock(peers ...peer.ID) error {
	s.gate.unblock(peers)
	if r := s.current(); r != nil {
		r.redial.retry(peers)
	}
	s.log.Info("peers unblocked", "peers", fmt.Sprint(peers))
	return nil
}

// Blocked implements network.Faults.
func (s *Stack) Blocked() []peer.ID { return s.gate.list() }
