package envelope

import (
	"sync"
	"time"
)

// DefaultReplayCapacity is how many nonces a ReplayGuard remembers unless
// told otherwise: at about 200 bytes each (measured, the sender's DID
// included), some 13 MB at most. An entry lives until its envelope's time
// plus the skew window, so with the default 60 s window the guard holds at
// least 65536/120 s ≈ 540 accepted envelopes a second (about twice that
// when clocks agree) before it starts to evict.
const DefaultReplayCapacity = 1 << 16

// ReplayGuard remembers the (sender, nonce) pairs of accepted envelopes
// until they expire, in bounded memory. It is safe for concurrent use, and
// every operation is O(1) (amortized).
//
// # Why expiring at time + skew is enough
//
// A Verifier accepts an envelope only if its time is within the skew window
// of now. Once now is past time + skew, any copy of that envelope fails the
// time check before it reaches the guard, so the guard needs to remember a
// nonce only until then: at most twice the window after it arrived (for an
// envelope stamped a whole window in the future). This holds as long as the
// guard and the time check read the same clock and it is not set back; a
// clock set back by d lets envelopes that expired within the last d pass
// again.
//
// # One guard, keyed by sender
//
// The guard is global, bounded by one number, but an entry is the pair
// (sender, nonce): a member who copies another's nonce into its own
// envelope cannot get that member's envelope refused as a replay.
//
// # When it is full
//
// A full guard evicts its oldest entry to make room (and counts it, see
// Evicted) instead of refusing the new envelope. Refusing would let one
// peer's burst make the node deaf to everyone; evicting only weakens replay
// protection for the oldest envelope, which must still pass the signature,
// sender and time checks to be replayed. A non-zero Evicted means the
// guard is too small for the traffic.
type ReplayGuard struct {
	mu       sync.Mutex
	capacity int
	seen     map[replayKey]int64 // -> expiry, unix ms; exactly the entries in queue
	queue    []replayEntry       // a ring, oldest at head; grows up to capacity
	head, n  int
	evicted  uint64
}

type replayKey struct {
	from  string
	nonce [NonceSize]byte
}

type replayEntry struct {
	key     replayKey
	expires int64 // unix ms
}

// NewReplayGuard returns a guard that remembers at most capacity nonces
// (DefaultReplayCapacity if capacity <= 0). Memory grows with use, not with
// capacity.
func NewReplayGuard(capacity int) *ReplayGuard {
	if capacity <= 0 {
		capacity = DefaultReplayCapacity
	}
	return &ReplayGuard{capacity: capacity, seen: make(map[replayKey]int64)}
}

// Remember records that from used nonce, to be remembered until expires,
// and reports whether the pair was new. It returns false, and changes
// nothing, if the pair is already remembered and has not expired at now.
func (g *ReplayGuard) Remember(from string, nonce [NonceSize]byte, expires, now time.Time) bool {
	return g.remember(replayKey{from: from, nonce: nonce}, expires.UnixMilli(), now.UnixMilli())
}

func (g *ReplayGuard) remember(k replayKey, expires, now int64) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	// Forget what has expired. The queue is sorted by expiry, so this
	// stops at the first live entry; after it, seen holds live pairs only.
	for g.n > 0 && g.queue[g.head].expires < now {
		g.pop()
	}
	if _, dup := g.seen[k]; dup {
		return false
	}
	if g.n >= g.capacity {
		g.pop()
		g.evicted++
	}
	// Keep expiries non-decreasing along the queue by holding an entry as
	// long as the one before it: it then lives a little longer than it
	// needs (at most the skew window longer), and pruning above is exact.
	if g.n > 0 {
		expires = max(expires, g.queue[(g.head+g.n-1)%len(g.queue)].expires)
	}
	g.seen[k] = expires
	g.push(replayEntry{key: k, expires: expires})
	return true
}

// push appends e to the ring, growing it (by doubling, up to capacity) when
// it is full; the caller holds mu and n < capacity.
func (g *ReplayGuard) push(e replayEntry) {
	if g.n == len(g.queue) {
		grown := make([]replayEntry, min(max(2*len(g.queue), 64), g.capacity))
		for i := range g.n {
			grown[i] = g.queue[(g.head+i)%len(g.queue)]
		}
		g.queue, g.head = grown, 0
	}
	g.queue[(g.head+g.n)%len(g.queue)] = e
	g.n++
}

// pop forgets the oldest entry; the caller holds mu and n > 0.
func (g *ReplayGuard) pop() {
	delete(g.seen, g.queue[g.head].key)
	g.queue[g.head] = replayEntry{} // let the sender's string go
	g.head = (g.head + 1) % len(g.queue)
	g.n--
}

// Len returns how many nonces the guard holds, expired ones not yet
// forgotten included (they go at the next Remember).
func (g *ReplayGuard) Len() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.n
}

// Evicted returns how many unexpired nonces were forgotten because the
// guard was full.
func (g *ReplayGuard) Evicted() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.evicted
}
