package stack

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	libnet "github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

const (
	// protectTag marks the peers the redial loop keeps in the connection
	// manager, so it never trims a connection we would redial at once.
	protectTag = "icn-redial"
	// pollEvery bounds the loop's sleep: it learns the DHT routing table
	// and expires old peers at least this often.
	pollEvery = 2 * time.Second
	// dialTimeout bounds one redial attempt.
	dialTimeout = 5 * time.Second
	// kickEvery bounds how often a healed path (a peer we were failing to
	// reach is back) makes every other lost peer retry at once.
	kickEvery = time.Second
	// refreshEvery bounds how often reaching a bootstrap peer triggers a
	// DHT routing-table refresh (a lookup of ourselves: discovery).
	refreshEvery = 30 * time.Second
	// refreshFirst is the gap before the second discovery refresh after
	// first contact; the gaps double up to refreshEvery and then the
	// schedule ends (the DHT's own periodic refresh takes over). One
	// lookup at first contact is not enough: the peers we asked may not
	// yet have the nodes that joined just before us in their tables, and a
	// node that learnt nobody would wait a whole refresh period to mesh.
	refreshFirst = 500 * time.Millisecond
)

// target is a peer the redial loop keeps connected: a configured bootstrap
// peer or a recently seen one.
type target struct {
	bootstrap bool
	addrs     []ma.Multiaddr
	lastSeen  time.Time
	delay     time.Duration // current backoff; 0 while the peer is not failing
	next      time.Time     // no dial before this
	dialing   bool
}

// redialer keeps the bootstrap peers and up to RecentMax recently seen peers
// (from connections and the DHT routing table) connected. A lost peer is
// retried after a jittered delay that starts at RedialInitial and doubles up
// to RedialMax on each failure (the wait is drawn from [RedialInitial/2,
// delay]). When a peer we were failing to reach connects again (the path
// healed: a partition ended, the network came back), every other lost peer
// is retried at once instead of waiting out its backoff, so recovery takes
// one round of dials, not one backoff period.
type redialer struct {
	r *run

	mu          sync.Mutex
	targets     map[peer.ID]*target
	lastKick    time.Time
	lastRefresh time.Time
	refreshGap  time.Duration // next gap of the start-up schedule; 0 once it ended
	wake        chan struct{}
}

func newRedialer(r *run, now time.Time) *redialer {
	d := &redialer{r: r, targets: map[peer.ID]*target{}, refreshGap: refreshFirst, wake: make(chan struct{}, 1)}
	for _, ai := range r.s.cfg.Bootstrap {
		if ai.ID == r.s.self {
			continue
		}
		d.targets[ai.ID] = &target{bootstrap: true, addrs: ai.Addrs, lastSeen: now}
		r.h.ConnManager().Protect(ai.ID, protectTag)
	}
	return d
}

func (d *redialer) poke() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// jitter spreads a delay over [floor, delay] ("full jitter": many nodes
// retrying the same peers do not retry in step, and the first of them comes
// back early), with floor at most half the delay.
func jitter(delay, floor time.Duration) time.Duration {
	floor = min(floor, delay/2)
	return floor + time.Duration(rand.Int64N(int64(delay-floor)+1))
}

// remember adds p as recently seen, evicting the least recently seen
// non-bootstrap peer when full; nil if p cannot be added. Holds d.mu.
func (d *redialer) remember(p peer.ID, now time.Time) *target {
	if p == d.r.s.self {
		return nil
	}
	if t, ok := d.targets[p]; ok {
		return t
	}
	if len(d.targets) >= d.r.s.cfg.RecentMax+len(d.r.s.cfg.Bootstrap) {
		var oldest peer.ID
		var ot *target
		for id, t := range d.targets {
			if !t.bootstrap && !t.dialing && (ot == nil || t.lastSeen.Before(ot.lastSeen)) {
				oldest, ot = id, t
			}
		}
		if ot == nil {
			return nil
		}
		d.forget(oldest)
	}
	t := &target{lastSeen: now}
	d.targets[p] = t
	d.r.h.ConnManager().Protect(p, protectTag)
	return t
}

func (d *redialer) forget(p peer.ID) {
	delete(d.targets, p)
	d.r.h.ConnManager().Unprotect(p, protectTag)
}

// reached records that p is connected; if we had been failing to reach it,
// the path healed and every other lost peer is retried now. Holds d.mu.
func (d *redialer) reached(p peer.ID, t *target, now time.Time) {
	healed := t.delay > 0
	t.delay, t.next, t.lastSeen = 0, time.Time{}, now
	if !healed || now.Sub(d.lastKick) < kickEvery {
		return
	}
	d.lastKick = now
	for id, o := range d.targets {
		if id != p && o.delay > 0 {
			o.delay = 0
			o.next = now.Add(time.Duration(rand.Int64N(int64(d.r.s.cfg.RedialInitial) + 1)))
		}
	}
	d.poke()
}

// connected is told of every peer that gained its first connection.
func (d *redialer) connected(p peer.ID, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t := d.remember(p, now); t != nil {
		d.reached(p, t, now)
	}
}

// disconnected is told of every peer that lost its last connection.
func (d *redialer) disconnected(p peer.ID, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.targets[p]
	if !ok {
		return
	}
	t.lastSeen = now
	if t.delay == 0 {
		t.next = now.Add(jitter(d.r.s.cfg.RedialInitial, d.r.s.cfg.RedialInitial/2))
	}
	d.poke()
}

// retry makes peers due now (after an unblock).
func (d *redialer) retry(ps []peer.ID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	now := time.Now()
	for _, p := range ps {
		if t, ok := d.targets[p]; ok {
			t.delay, t.next = 0, now
		}
	}
	d.poke()
}

// dialed records the outcome of one attempt.
func (d *redialer) dialed(p peer.ID, err error, now time.Time) (refresh bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.targets[p]
	if !ok {
		return false
	}
	t.dialing = false
	if err == nil {
		d.reached(p, t, now)
		if t.bootstrap && (d.lastRefresh.IsZero() || now.Sub(d.lastRefresh) >= refreshEvery) {
			d.refreshed(now)
			return true
		}
		return false
	}
	cfg := d.r.s.cfg
	if t.delay == 0 {
		t.delay = cfg.RedialInitial
	} else {
		t.delay = min(2*t.delay, cfg.RedialMax)
	}
	t.next = now.Add(jitter(t.delay, cfg.RedialInitial/2))
	d.r.s.log.Debug("redial failed", "peer", p.String(), "retry_in", t.next.Sub(now).String(), "err", err)
	d.poke()
	return false
}

// refreshed records a discovery refresh made now and advances the start-up
// schedule. Holds d.mu.
func (d *redialer) refreshed(now time.Time) {
	if !d.lastRefresh.IsZero() && d.refreshGap > 0 {
		d.refreshGap *= 2
		if d.refreshGap >= refreshEvery {
			d.refreshGap = 0
		}
	}
	d.lastRefresh = now
}

// refreshDue says whether the start-up schedule wants a discovery refresh
// now, and if not how long until it will (0: no refresh planned). The
// schedule starts at the first refresh (first contact with a bootstrap
// peer) or, for a node without bootstrap peers, its first connection.
// Holds d.mu.
func (d *redialer) refreshDue(now time.Time, anyConnected bool) (due bool, in time.Duration) {
	if d.refreshGap == 0 || !anyConnected {
		return false, 0
	}
	if d.lastRefresh.IsZero() {
		d.refreshed(now)
		return true, 0
	}
	next := d.lastRefresh.Add(d.refreshGap)
	if !next.After(now) {
		d.refreshed(now)
		return true, 0
	}
	return false, next.Sub(now)
}

// plan learns the routing table, expires stale peers, and returns the
// peers due for a dial (marked dialing), whether a discovery refresh is
// due, and how long until the next dial or refresh.
func (d *redialer) plan(now time.Time) (due []peer.AddrInfo, refresh bool, wait time.Duration) {
	h := d.r.h
	rt := d.r.dht.RoutingTable().ListPeers()
	anyConnected := len(h.Network().Peers()) > 0
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, p := range rt {
		if _, ok := d.targets[p]; !ok {
			d.remember(p, now)
		}
	}
	wait = pollEvery
	refresh, in := d.refreshDue(now, anyConnected)
	if in > 0 {
		wait = min(wait, in)
	}
	ttl := d.r.s.cfg.RecentTTL
	for p, t := range d.targets {
		if h.Network().Connectedness(p) == libnet.Connected {
			t.lastSeen, t.delay = now, 0
			if addrs := h.Peerstore().Addrs(p); len(addrs) > 0 && !t.bootstrap {
				t.addrs = addrs
			}
			continue
		}
		if !t.bootstrap && now.Sub(t.lastSeen) > ttl {
			d.forget(p)
			continue
		}
		if t.dialing || d.r.s.gate.isBlocked(p) {
			continue
		}
		if t.next.After(now) {
			continue
		}
		t.dialing = true
		due = append(due, peer.AddrInfo{ID: p, Addrs: t.addrs})
	}
	for _, t := range d.targets {
		if !t.dialing && t.next.After(now) {
			wait = min(wait, t.next.Sub(now))
		}
	}
	return due, refresh, wait
}

func (d *redialer) loop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-d.wake:
		}
		due, refresh, wait := d.plan(time.Now())
		for _, ai := range due {
			d.r.track.Go(func() { d.dial(ctx, ai) })
		}
		if refresh {
			d.r.s.log.Debug("discovery: refreshing the routing table")
			d.r.refreshRoutingTable()
		}
		timer.Reset(wait)
	}
}

func (d *redialer) dial(ctx context.Context, ai peer.AddrInfo) {
	dctx, cancel := context.WithTimeout(libnet.WithForceDirectDial(ctx, "icn redial"), dialTimeout)
	err := d.r.h.Connect(dctx, ai)
	cancel()
	if ctx.Err() != nil {
		return
	}
	if d.dialed(ai.ID, err, time.Now()) {
		d.r.s.log.Debug("bootstrap peer reached: refreshing the routing table", "peer", ai.ID.String())
		d.r.refreshRoutingTable()
	}
}
