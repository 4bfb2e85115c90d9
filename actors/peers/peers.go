package peers

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/envelope"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/network"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// Name is the subsystem's name in the supervision tree.
const Name = "peers"

// dialTimeout bounds a ConnectPeer's dial: under the HTTP and icnctl
// timeouts (10 s), so that a silent address is reported as unreachable.
const dialTimeout = 8 * time.Second

// replySuffix makes the envelope type of an RPC's reply from its request's.
const replySuffix = ".reply"

// Deps are the peer manager's collaborators.
type Deps struct {
	Network  network.Network
	Identity *identity.Identity
	Clock    clock.Clock
	Metrics  *Metrics
	Logger   *slog.Logger
	// Routes maps each wire type this node understands to the subsystem
	// (tree name) that owns it. Types not in it are refused.
	Routes  map[string]string
	Breaker BreakerConfig
	// MaxBody is the largest message body taken from another node
	// (envelope.DefaultMaxBody if 0). A block fetch's reply carries a
	// whole block: the module sets it to at least the dag's block limit.
	MaxBody int
	// PingInterval is how often each connected peer's round trip is
	// measured (DefaultPingInterval if 0); a peer is also measured as it
	// connects.
	PingInterval time.Duration
}

// DefaultPingInterval is how often connected peers are pinged for the
// peer table's RTT and the nearest-first order of block providers.
const DefaultPingInterval = 30 * time.Second

// pingTimeout bounds one round-trip measurement.
const pingTimeout = 5 * time.Second

// DefaultRoutes are the wire types of a node and their owners.
func DefaultRoutes() map[string]string {
	return map[string]string{messages.WirePing: Name, messages.WireProbe: Name, messages.WireDAGBlock: "dag",
		messages.WireJobAnnounce: "jobs", messages.WireJobBid: "jobs", messages.WireJobAssign: "jobs", messages.WireJobCancel: "jobs",
		messages.WireLedgerPaid: "ledger"}
}

// New returns the producer the supervisor calls on every (re)start.
func New(d Deps) (func() actor.Actor, error) {
	if d.Identity == nil {
		return nil, errors.New("peers: no node identity")
	}
	if d.Routes == nil {
		d.Routes = DefaultRoutes()
	}
	if d.Breaker == (BreakerConfig{}) {
		d.Breaker = DefaultBreaker()
	}
	if d.MaxBody <= 0 {
		d.MaxBody = envelope.DefaultMaxBody
	}
	if d.MaxBody+envelope.Overhead > network.MaxRPCSize {
		return nil, fmt.Errorf("peers: body limit %d does not fit an RPC frame (%d bytes with the envelope, limit %d)",
			d.MaxBody, d.MaxBody+envelope.Overhead, network.MaxRPCSize)
	}
	if d.PingInterval <= 0 {
		d.PingInterval = DefaultPingInterval
	}
	// Outlives incarnations: a restart must not reopen the replay window.
	guard := envelope.NewReplayGuard(envelope.DefaultReplayCapacity)
	var types []string
	for t := range d.Routes {
		types = append(types, t, t+replySuffix)
	}
	slices.Sort(types)
	verifier, err := envelope.NewVerifier(verify, d.Clock, types, envelope.WithReplayGuard(guard), envelope.WithMaxBody(d.MaxBody),
		envelope.WithRecipient(string(d.Identity.DID())))
	if err != nil {
		return nil, err
	}
	subs := &subscriptions{up: map[peer.ID]bool{}}
	return func() actor.Actor {
		return &Actor{Deps: d, verifier: verifier, subs: subs, peers: map[peer.ID]*entry{}, log: d.Logger.With("actor", Name)}
	}, nil
}

// subscriptions are the peer event subscribers (WatchPeers) and the peers
// they last heard were up. They outlive incarnations, as the replay guard
// does: a restart of this actor neither drops a subscriber nor leaves one
// believing in a peer that left while it was down (start tells them the
// difference). Incarnations run one after another but not on one
// goroutine, hence the lock.
type subscriptions struct {
	mu    sync.Mutex
	names []string
	up    map[peer.ID]bool
}

func verify(did string, msg, sig []byte) error { return identity.Verify(identity.DID(did), msg, sig) }

// Actor is the peer manager: the peer table, per-peer breakers on
// outbound requests, and the envelope check and routing of every message
// that arrives. Network calls never run on its goroutine.
type Actor struct {
	Deps
	log      *slog.Logger
	verifier *envelope.Verifier
	self     *actor.PID
	sys      *actor.ActorSystem
	tree     *supervisors.Tree
	since    time.Time
	peers    map[peer.ID]*entry
	subs     *subscriptions
	pinger   clock.Timer // the next round of RTT measurements

	ctx     context.Context // ends when the incarnation stops
	stop    context.CancelFunc
	workers sync.WaitGroup
}

// entry is a row of the peer table.
type entry struct {
	did          string
	connected    bool
	since        time.Time
	lastSeen     time.Time
	in, out      uint64
	breaker      breaker
	breakerTrips int
	rtt          time.Duration // the latest round trip measured; 0 if none
	pinging      bool          // a measurement is under way
}

// Internal messages, each tagged with the incarnation that asked for it.
type (
	peerChanged struct {
		owner *Actor
		event network.PeerEvent
	}
	// traffic counts a message to or from a peer.
	traffic struct {
		owner *Actor
		peer  peer.ID
		in    bool
	}
	// asked is the outcome of an AskPeer, for the breaker.
	asked struct {
		owner    *Actor
		peer     peer.ID
		failed   bool
		answered bool // with an accepted reply: a message in
	}
	probeSeen struct{ owner *Actor }
	// measured is the outcome of a ping.
	measured struct {
		owner *Actor
		peer  peer.ID
		rtt   time.Duration
		err   error
	}
	// pingRound is the schedule's tick: measure every connected peer.
	pingRound struct{ owner *Actor }
)

// Receive implements actor.Actor.
func (a *Actor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		a.start(c)
	case *actor.Stopping, *actor.Restarting:
		a.shutdown()
	case *peerChanged:
		if m.owner == a {
			a.changed(m.event)
		}
	case *traffic:
		if m.owner == a {
			e := a.entry(m.peer)
			e.lastSeen = a.Clock.Now()
			if m.in {
				e.in++
			} else {
				e.out++
			}
		}
	case *asked:
		if m.owner == a {
			a.settle(m)
		}
	case *describe:
		if m.owner == a {
			c.Respond(a.info(m.peer))
		}
	case *probeSeen:
		if m.owner == a {
			a.Metrics.probes.Inc()
		}
	case *measured:
		if m.owner == a {
			a.measured(m)
		}
	case *pingRound:
		if m.owner == a {
			a.pingRound()
		}
	case *messages.StatusRequest:
		a.status(c)
	case *messages.ListPeers:
		c.Respond(a.list())
	case *messages.ConnectPeer:
		a.connect(c, m)
	case *messages.PublishGossip:
		reached, err := a.publish(m)
		c.Respond(orError(&messages.GossipPublished{Reached: reached}, err))
	case *messages.AskPeer:
		a.ask(c, m)
	case *messages.PingPeer:
		a.ping(c, m)
	case *messages.WatchPeers:
		a.subs.mu.Lock()
		if !slices.Contains(a.subs.names, m.Subscriber) {
			a.subs.names = append(a.subs.names, m.Subscriber)
		}
		a.subs.mu.Unlock()
		c.Respond(&messages.PeerList{Peers: a.list().Peers})
	case *messages.Provide:
		a.provide(c, m)
	case *messages.FindProviders:
		a.findProviders(c, m)
	case *messages.BlockPeers:
		c.Respond(orError(a.faults(m.Peers, a.Network.Block)))
	case *messages.UnblockPeers:
		ids := m.Peers
		if len(ids) == 0 {
			for _, p := range a.Network.Blocked() {
				ids = append(ids, p.String())
			}
		}
		c.Respond(orError(a.faults(ids, a.Network.Unblock)))
	case *messages.ListFaults:
		c.Respond(a.faultList())
	case *messages.PeerRequestIn:
		if m.Type == messages.WirePing {
			c.Respond(&messages.PeerResponse{Body: m.Body})
			return
		}
		c.Respond(fmt.Errorf("%w: %s", messages.ErrNoRoute, m.Type))
	case *messages.GossipIn:
		// Probes are counted where they arrive; nothing else is ours.
	}
}

// provide puts out a provider record, off the actor's goroutine.
func (a *Actor) provide(c actor.Context, m *messages.Provide) {
	sender, sys, ctx := c.Sender(), a.sys, a.ctx
	a.workers.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, network.DefaultRPCTimeout)
		defer cancel()
		err := a.Network.Provide(ctx, m.CID)
		if err != nil {
			a.log.Debug("provide failed", "cid", m.CID.String(), "err", err)
		}
		if sender != nil {
			sys.Root.Send(sender, orError(&messages.Provided{}, err))
		}
	})
}

// findProviders names the peers that may hold a block: the DHT's
// providers first, then the connected peers, skipping peers whose breaker
// is open.
func (a *Actor) findProviders(c actor.Context, m *messages.FindProviders) {
	limit := m.Limit
	if limit <= 0 {
		limit = 8
	}
	skip := map[peer.ID]bool{a.Network.ID(): true}
	var connected []peer.ID
	for p, e := range a.peers {
		switch {
		case e.breaker.state == stateOpen:
			skip[p] = true
		case e.connected:
			connected = append(connected, p)
		}
	}
	// Nearest first; a peer not measured yet goes after those that were.
	distance := func(p peer.ID) time.Duration {
		if d := a.rtt(p, a.peers[p]); d > 0 {
			return d
		}
		return math.MaxInt64
	}
	slices.SortFunc(connected, func(x, y peer.ID) int {
		return cmp.Or(cmp.Compare(distance(x), distance(y)), cmp.Compare(x, y))
	})
	sender, sys, ctx := c.Sender(), a.sys, a.ctx
	a.workers.Go(func() {
		out := &messages.Providers{}
		add := func(p peer.ID) {
			if !skip[p] && len(out.Peers) < limit {
				skip[p] = true
				out.Peers = append(out.Peers, p.String())
			}
		}
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if found, err := a.Network.FindProviders(ctx, m.CID, limit); err == nil {
			for _, ai := range found {
				add(ai.ID)
			}
		}
		for _, p := range connected {
			add(p)
		}
		if sender != nil {
			sys.Root.Send(sender, out)
		}
	})
}

// faults applies a block or unblock to peer IDs, all or none.
func (a *Actor) faults(ids []string, apply func(...peer.ID) error) (*messages.Faults, error) {
	ps := make([]peer.ID, 0, len(ids))
	for _, s := range ids {
		p, err := peer.Decode(s)
		if err != nil {
			return nil, fmt.Errorf("%w: peer ID %q: %w", messages.ErrInvalidPeer, s, err)
		}
		if p == a.Network.ID() {
			return nil, fmt.Errorf("%w: %s is this node", messages.ErrInvalidPeer, s)
		}
		ps = append(ps, p)
	}
	if err := apply(ps...); err != nil {
		return nil, err
	}
	a.log.Warn("network fault changed", "blocked", len(a.Network.Blocked()))
	return a.faultList(), nil
}

func (a *Actor) faultList() *messages.Faults {
	f := &messages.Faults{Blocked: []string{}}
	for _, p := range a.Network.Blocked() {
		f.Blocked = append(f.Blocked, p.String())
	}
	slices.Sort(f.Blocked)
	return f
}

func orError(v any, err error) any {
	if err != nil {
		return err
	}
	return v
}

// start serves RPC, follows the topics and the peer events, each off the
// actor's goroutine.
func (a *Actor) start(c actor.Context) {
	a.self, a.sys, a.tree = c.Self(), c.ActorSystem(), supervisors.TreeOf(c)
	a.since = a.Clock.Now()
	ctx, cancel := context.WithCancel(context.Background())
	a.ctx, a.stop = ctx, cancel
	// Events first: a peer that comes or goes while the table is read is
	// then reported after it, and changed ignores what the table has.
	events, stopEvents := a.Network.Events()
	for _, p := range a.Network.Connected() {
		e := a.entry(p)
		e.connected, e.since, e.lastSeen = true, a.since, a.since
	}
	a.resync()
	a.Network.Handle(a.serve)
	a.pingRound()

	a.workers.Go(func() {
		defer stopEvents()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-events:
				if !ok {
					return
				}
				a.sys.Root.Send(a.self, &peerChanged{owner: a, event: ev})
			}
		}
	})
	for _, topic := range network.Topics() {
		msgs, unsubscribe, err := a.Network.Subscribe(topic)
		if err != nil {
			// The network is down: the supervisor restarts us into it.
			panic(fmt.Errorf("peers: subscribe %s: %w", topic, err))
		}
		a.workers.Go(func() {
			defer unsubscribe()
			for {
				select {
				case <-ctx.Done():
					return
				case m, ok := <-msgs:
					if !ok {
						return
					}
					a.gossip(ctx, m)
				}
			}
		})
	}
}

// shutdown stops serving and waits for the workers.
func (a *Actor) shutdown() {
	if a.stop == nil {
		return
	}
	a.Network.Handle(nil)
	a.stop()
	if a.pinger != nil {
		a.pinger.Stop()
	}
	a.workers.Wait()
	a.stop = nil
}

func (a *Actor) entry(p peer.ID) *entry {
	e := a.peers[p]
	if e == nil {
		did, _ := identity.DIDFromPeerID(p)
		e = &entry{did: string(did), breaker: newBreaker()}
		a.peers[p] = e
	}
	return e
}

// changed records a peer's connection or disconnection and tells the
// watchers.
func (a *Actor) changed(ev network.PeerEvent) {
	e := a.entry(ev.Peer)
	up := ev.Kind == network.PeerConnected
	if e.connected == up {
		// A dial's own report and the network's event say the same thing.
		e.lastSeen = ev.Time
		return
	}
	e.connected, e.lastSeen = up, ev.Time
	if up {
		e.since = ev.Time
		e.breaker.reconnected()
		a.measure(ev.Peer, e)
	} else {
		e.since = time.Time{}
	}
	a.log.Debug("peer "+ev.Kind.String(), "peer", ev.Peer.String(), "did", e.did)
	a.subs.mu.Lock()
	defer a.subs.mu.Unlock()
	a.tell(ev.Peer, up, ev.Time)
}

// resync tells the subscribers how the peers changed while no incarnation
// was watching: the table just read from the network against what they
// last heard.
func (a *Actor) resync() {
	now := a.Clock.Now()
	a.subs.mu.Lock()
	defer a.subs.mu.Unlock()
	for _, p := range slices.Sorted(maps.Keys(a.subs.up)) {
		if e := a.peers[p]; e == nil || !e.connected {
			a.tell(p, false, now)
		}
	}
	for _, p := range slices.Sorted(maps.Keys(a.peers)) {
		if a.peers[p].connected && !a.subs.up[p] {
			a.tell(p, true, now)
		}
	}
}

// tell records that p is up or down and sends the event to every
// subscriber. The caller holds a.subs.mu.
func (a *Actor) tell(p peer.ID, up bool, at time.Time) {
	if up {
		a.subs.up[p] = true
	} else {
		delete(a.subs.up, p)
	}
	did, _ := identity.DIDFromPeerID(p)
	for _, w := range a.subs.names {
		_ = a.tree.Send(context.Background(), w, &messages.PeerEvent{Peer: p.String(), DID: string(did), Up: up, Time: at})
	}
}

// pingRound measures every connected peer and schedules the next round.
func (a *Actor) pingRound() {
	for p, e := range a.peers {
		if e.connected {
			a.measure(p, e)
		}
	}
	self, sys, owner := a.self, a.sys, a
	a.pinger = a.Clock.AfterFunc(a.PingInterval, func() { sys.Root.Send(self, &pingRound{owner: owner}) })
}

// measure pings p off the actor's goroutine, unless a ping is under way.
func (a *Actor) measure(p peer.ID, e *entry) {
	if e.pinging {
		return
	}
	e.pinging = true
	owner, ctx := a, a.ctx
	a.workers.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, pingTimeout)
		defer cancel()
		rtt, err := owner.Network.Ping(ctx, p)
		owner.sys.Root.Send(owner.self, &measured{owner: owner, peer: p, rtt: rtt, err: err})
	})
}

// measured records a ping's round trip.
func (a *Actor) measured(m *measured) {
	e := a.entry(m.peer)
	e.pinging = false
	if m.err != nil {
		// The breaker is for requests; a lost peer shows in its events.
		a.log.Debug("ping failed", "peer", m.peer.String(), "err", m.err)
		return
	}
	e.rtt = m.rtt
}

// rtt is p's latest round trip: ours, else libp2p's average (which our
// pings feed, and which survives a restart of this actor); 0 if none.
func (a *Actor) rtt(p peer.ID, e *entry) time.Duration {
	if e != nil && e.rtt > 0 {
		return e.rtt
	}
	return a.Network.RTT(p)
}

func (a *Actor) connectedCount() int {
	n := 0
	for _, e := range a.peers {
		if e.connected {
			n++
		}
	}
	return n
}

// list is the peer table, connected peers first.
func (a *Actor) list() *messages.PeerList {
	out := make([]messages.PeerInfo, 0, len(a.peers))
	h := a.Network.Host()
	for _, p := range slices.Sorted(maps.Keys(a.peers)) {
		e := a.peers[p]
		info := messages.PeerInfo{
			PeerID: p.String(), DID: e.did, Connected: e.connected, Since: e.since, LastSeen: e.lastSeen,
			RTT: a.rtt(p, e), MessagesIn: e.in, MessagesOut: e.out, Breaker: e.breaker.state,
		}
		if h != nil {
			for _, addr := range h.Peerstore().Addrs(p) {
				info.Addrs = append(info.Addrs, addr.String())
			}
			slices.Sort(info.Addrs)
		}
		out = append(out, info)
	}
	slices.SortStableFunc(out, func(x, y messages.PeerInfo) int {
		switch {
		case x.Connected == y.Connected:
			return 0
		case x.Connected:
			return -1
		}
		return 1
	})
	return &messages.PeerList{Peers: out}
}

func (a *Actor) info(p peer.ID) messages.PeerInfo {
	for _, i := range a.list().Peers {
		if i.PeerID == p.String() {
			return i
		}
	}
	return messages.PeerInfo{PeerID: p.String()}
}

// connect dials an address off the actor's goroutine.
func (a *Actor) connect(c actor.Context, m *messages.ConnectPeer) {
	addr, err := ma.NewMultiaddr(strings.TrimSpace(m.Addr))
	var ai *peer.AddrInfo
	if err == nil {
		ai, err = peer.AddrInfoFromP2pAddr(addr)
	}
	if err != nil {
		c.Respond(fmt.Errorf("%w: %q: %w (want /ip4/.../tcp/.../p2p/<peer id>)", messages.ErrInvalidPeer, m.Addr, err))
		return
	}
	sender, sys, self := c.Sender(), a.sys, a.self
	owner := a
	a.workers.Go(func() {
		ctx, cancel := context.WithTimeout(owner.ctx, dialTimeout)
		defer cancel()
		if err := owner.Network.Connect(ctx, addr); err != nil {
			sys.Root.Send(sender, fmt.Errorf("%w: dial %s: %w", messages.ErrPeerFailed, ai.ID, err))
			return
		}
		// Answered by the actor, so the row shows the connection.
		sys.Root.Send(self, &peerChanged{owner: owner, event: network.PeerEvent{Kind: network.PeerConnected, Peer: ai.ID, Time: owner.Clock.Now()}})
		sys.Root.RequestWithCustomSender(self, &describe{owner: owner, peer: ai.ID}, sender)
	})
}

// describe asks the actor for a peer's row on behalf of a caller.
type describe struct {
	owner *Actor
	peer  peer.ID
}

// publish seals and gossips a message.
// publish gossips m and returns the peers it went to.
func (a *Actor) publish(m *messages.PublishGossip) ([]string, error) {
	if _, ok := a.Routes[m.Type]; !ok {
		return nil, fmt.Errorf("%w: %s", messages.ErrNoRoute, m.Type)
	}
	data, err := envelope.Seal(a.signer(), m.Type, "", m.Body, a.Clock.Now(), rand.Reader)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	reached := a.Network.TopicPeers(m.Topic)
	if err := a.Network.Publish(ctx, m.Topic, data); err != nil {
		return nil, err
	}
	// Flood publishing sends our own messages to every peer known to
	// subscribe to the topic.
	out := make([]string, 0, len(reached))
	for _, p := range reached {
		out = append(out, p.String())
		if e, ok := a.peers[p]; ok {
			e.out++
		}
	}
	return out, nil
}

func (a *Actor) signer() envelope.Signer { return signerOf(a.Identity) }

// signerOf signs envelopes as id.
func signerOf(id *identity.Identity) envelope.Signer {
	return envelope.Signer{DID: string(id.DID()), Sign: func(msg []byte) ([]byte, error) { return id.Sign(msg), nil }}
}

// ask sends an RPC, unless the peer's breaker is open.
func (a *Actor) ask(c actor.Context, m *messages.AskPeer) {
	p, err := peer.Decode(m.Peer)
	if err != nil {
		c.Respond(fmt.Errorf("%w: peer ID %q: %w", messages.ErrInvalidPeer, m.Peer, err))
		return
	}
	if _, ok := a.Routes[m.Type]; !ok {
		c.Respond(fmt.Errorf("%w: %s", messages.ErrNoRoute, m.Type))
		return
	}
	e := a.entry(p)
	if ok, wait := e.breaker.allow(a.Clock.Now()); !ok {
		a.Metrics.requests.WithLabelValues("fast_fail").Inc()
		c.Respond(&messages.PeerUnavailableError{Peer: m.Peer, RetryAfter: wait})
		return
	}
	data, err := envelope.Seal(a.signer(), m.Type, e.did, m.Body, a.Clock.Now(), rand.Reader)
	if err != nil {
		c.Respond(err)
		return
	}
	sender, owner := c.Sender(), a
	did := e.did
	a.workers.Go(func() {
		ctx, cancel := within(owner.ctx, m.Timeout)
		defer cancel()
		answer, err := owner.roundTrip(ctx, p, did, m.Type, data)
		if sender != nil {
			owner.sys.Root.Send(sender, orError(answer, err))
		}
	})
}

// roundTrip sends a sealed request of type typ to p, whose DID is did, and
// checks the reply. It runs off the actor's goroutine; the actor hears of
// the outcome, for the breaker, before roundTrip returns.
func (a *Actor) roundTrip(ctx context.Context, p peer.ID, did, typ string, data []byte) (*messages.PeerAnswer, error) {
	began := time.Now()
	reply, err := a.Network.Request(ctx, p, data)
	var answer *messages.PeerAnswer
	failed, answered := false, false
	var remote *network.RemoteError
	switch {
	case errors.As(err, &remote):
		err = fmt.Errorf("peers: %s refused %s: %s", p, typ, remote.Message) // it answered: alive
	case err != nil:
		failed, err = true, fmt.Errorf("%w: %s: %w", messages.ErrPeerFailed, p, err)
	default:
		env, oerr := a.verifier.Open(reply, did)
		var re *envelope.RejectError
		switch {
		case errors.As(oerr, &re) && re.Reason == envelope.ReasonOversize:
			// Over our limit, not wrong: the peer's may be larger.
			err = fmt.Errorf("peers: %s answered %s with more than this node takes: %w", p, typ, oerr)
			a.rejected(oerr)
		case oerr != nil:
			failed, err = true, fmt.Errorf("%w: %s answered with a bad envelope: %w", messages.ErrPeerFailed, p, oerr)
			a.rejected(oerr)
		case env.Type != typ+replySuffix:
			failed, err = true, fmt.Errorf("%w: %s answered %s to %s", messages.ErrPeerFailed, p, env.Type, typ)
		default:
			answered, answer = true, &messages.PeerAnswer{Peer: p.String(), Body: env.Body, Took: time.Since(began)}
		}
	}
	a.Metrics.rpc.WithLabelValues(a.method(typ), sideRequest).Observe(time.Since(began).Seconds())
	a.sys.Root.Send(a.self, &asked{owner: a, peer: p, failed: failed, answered: answered})
	return answer, err
}

// ping measures a series of signed round trips to a peer, off the actor's
// goroutine: the operator's view of the RPC path, as a caller of AskPeer
// sees it (seal, send, the other node's check and seal, check).
func (a *Actor) ping(c actor.Context, m *messages.PingPeer) {
	count := cmp.Or(m.Count, messages.DefaultPingCount)
	if count < 0 || count > messages.MaxPingCount {
		c.Respond(fmt.Errorf("peers: ping count %d: want 1 to %d", m.Count, messages.MaxPingCount))
		return
	}
	p, err := a.peerOf(m.Peer)
	if err != nil {
		c.Respond(err)
		return
	}
	e, ok := a.peers[p]
	if !ok {
		c.Respond(fmt.Errorf("%w: %s is not in this node's peer table", messages.ErrUnknownPeer, p))
		return
	}
	if ok, wait := e.breaker.allow(a.Clock.Now()); !ok {
		a.Metrics.requests.WithLabelValues("fast_fail").Inc()
		c.Respond(&messages.PeerUnavailableError{Peer: p.String(), RetryAfter: wait})
		return
	}
	sender, owner, did := c.Sender(), a, e.did
	// A run of failures this long opens the breaker (one, for the probe of
	// a half-open one): the rest would fail at once, so they are not tried.
	giveUp := max(a.Breaker.Failures, 1)
	if e.breaker.state == stateHalfOpen {
		giveUp = 1
	}
	a.workers.Go(func() {
		ctx, cancel := within(owner.ctx, m.Within)
		defer cancel()
		report := &messages.PingReport{Peer: p.String(), DID: did, Count: count}
		var lastErr error
		for run := 0; len(report.RTTs)+report.Failed < count && run < giveUp && ctx.Err() == nil; {
			began := time.Now()
			if _, err := owner.pingOnce(ctx, p, did); err != nil {
				report.Failed++
				lastErr = err
				run++
				continue
			}
			report.RTTs = append(report.RTTs, time.Since(began))
			run = 0
		}
		report.Failed = count - len(report.RTTs)
		slices.Sort(report.RTTs)
		var answer any = report
		if len(report.RTTs) == 0 {
			answer = cmp.Or(lastErr, ctx.Err())
		}
		if sender != nil {
			owner.sys.Root.Send(sender, answer)
		}
	})
}

// pingOnce is one round trip of a ping series, with a fresh nonce.
func (a *Actor) pingOnce(ctx context.Context, p peer.ID, did string) (*messages.PeerAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	data, err := envelope.Seal(a.signer(), messages.WirePing, did, nil, a.Clock.Now(), rand.Reader)
	if err != nil {
		return nil, err
	}
	return a.roundTrip(ctx, p, did, messages.WirePing, data)
}

// peerOf parses a peer ID, or a node's DID, naming another node.
func (a *Actor) peerOf(s string) (peer.ID, error) {
	var p peer.ID
	var err error
	if strings.HasPrefix(s, "did:") {
		p, err = identity.PeerIDFromDID(identity.DID(s))
	} else {
		p, err = peer.Decode(s)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %q is neither a peer ID nor a node's DID: %w", messages.ErrInvalidPeer, s, err)
	}
	if p == a.Network.ID() {
		return "", fmt.Errorf("%w: %s is this node", messages.ErrInvalidPeer, s)
	}
	return p, nil
}

// settle feeds a request's outcome to the peer's breaker.
func (a *Actor) settle(m *asked) {
	e := a.entry(m.peer)
	e.out++
	if m.answered {
		e.in++
	}
	if !m.failed {
		a.Metrics.requests.WithLabelValues("ok").Inc()
		e.lastSeen = a.Clock.Now()
		if e.breaker.state != stateClosed {
			a.log.Info("peer breaker closed", "peer", m.peer.String())
		}
		e.breaker.success()
	} else {
		a.Metrics.requests.WithLabelValues("failed").Inc()
		if e.breaker.failure(a.Clock.Now(), a.Breaker) {
			e.breakerTrips++
			a.log.Warn("peer breaker open", "peer", m.peer.String(), "until", e.breaker.openUntil, "trips", e.breaker.trips)
		}
	}
	open := 0
	for _, e := range a.peers {
		if e.breaker.state == stateOpen {
			open++
		}
	}
	a.Metrics.breakersOpen.Set(float64(open))
}

// serve answers an RPC from another node: on the network's goroutine, so
// it touches no actor state; the owner subsystem answers.
func (a *Actor) serve(ctx context.Context, from peer.ID, data []byte) ([]byte, error) {
	began, method := time.Now(), methodOther
	defer func() { a.Metrics.rpc.WithLabelValues(method, sideServe).Observe(time.Since(began).Seconds()) }()
	did, _ := identity.DIDFromPeerID(from)
	env, err := a.verifier.Open(data, string(did))
	if err != nil {
		a.rejected(err)
		return nil, fmt.Errorf("rejected: %w", err)
	}
	a.sys.Root.Send(a.self, &traffic{owner: a, peer: from, in: true})
	method = a.method(env.Type)
	owner, ok := a.Routes[env.Type]
	if !ok || strings.HasSuffix(env.Type, replySuffix) {
		return nil, fmt.Errorf("%w: %s", messages.ErrNoRoute, env.Type)
	}
	res, err := a.tree.Request(ctx, owner, &messages.PeerRequestIn{Type: env.Type, From: env.From, Peer: from.String(), Body: env.Body})
	if err != nil {
		return nil, err
	}
	resp, ok := res.(*messages.PeerResponse)
	if !ok {
		return nil, fmt.Errorf("peers: %s answered %T", owner, res)
	}
	reply, err := envelope.Seal(a.signer(), env.Type+replySuffix, env.From, resp.Body, a.Clock.Now(), rand.Reader)
	if err != nil {
		return nil, err
	}
	a.sys.Root.Send(a.self, &traffic{owner: a, peer: from})
	return reply, nil
}

// Label values of icn_rpc_duration_seconds.
const (
	sideRequest = "request" // a request to another node, until its reply is checked
	sideServe   = "serve"   // a request from another node, until its reply is sealed
	methodOther = "other"   // a type this node has no route for, or an envelope refused
)

// method is the metric label of a wire type: the type itself when routed
// here, so the label set stays as small as the routing table.
func (a *Actor) method(typ string) string {
	if _, ok := a.Routes[typ]; ok {
		return typ
	}
	return methodOther
}

// gossip checks a gossip message and hands it to its owner.
func (a *Actor) gossip(ctx context.Context, m network.Message) {
	did, _ := identity.DIDFromPeerID(m.From)
	env, err := a.verifier.Open(m.Data, string(did))
	if err != nil {
		a.rejected(err)
		return
	}
	a.sys.Root.Send(a.self, &traffic{owner: a, peer: m.From, in: true})
	owner, ok := a.Routes[env.Type]
	switch {
	case !ok:
	case env.Type == messages.WireProbe:
		a.sys.Root.Send(a.self, &probeSeen{owner: a})
	default:
		_ = a.tree.Send(ctx, owner, &messages.GossipIn{Topic: m.Topic, Type: env.Type, From: env.From, Peer: m.From.String(),
			Body: env.Body, Time: time.UnixMilli(env.Time)})
	}
}

// rejected counts an envelope refused, by reason.
func (a *Actor) rejected(err error) {
	var re *envelope.RejectError
	reason := "malformed"
	if errors.As(err, &re) {
		reason = re.Reason
	}
	a.Metrics.rejected.WithLabelValues(reason).Inc()
	a.log.Debug("message rejected", "reason", reason, "err", err)
}

func (a *Actor) status(c actor.Context) {
	h := a.Network.Host()
	open := 0
	for _, e := range a.peers {
		if e.breaker.state == stateOpen {
			open++
		}
	}
	details := map[string]string{
		"peer_id": a.Network.ID().String(), "listen_addrs": strconv.Itoa(len(a.Network.Addrs())),
		"connected_peers": strconv.Itoa(a.connectedCount()), "known_peers": strconv.Itoa(len(a.peers)),
		"breakers_open": strconv.Itoa(open),
	}
	c.Respond(&messages.SubsystemStatus{Name: Name, Ready: h != nil, Since: a.since, Details: details})
}

// within is ctx bounded by d, or ctx itself (with a no-op cancel) when d
// is 0: the caller set no bound of its own.
func within(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if d > 0 {
		return context.WithTimeout(ctx, d)
	}
	return ctx, func() {}
}
