package envelope

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func nonce(i int) (n [NonceSize]byte) {
	copy(n[:], fmt.Sprintf("%016d", i))
	return n
}

func TestReplayGuardExpiry(t *testing.T) {
	g := NewReplayGuard(0)
	exp := t0.Add(DefaultSkew)
	if !g.Remember("a", nonce(1), exp, t0) {
		t.Fatal("first use refused")
	}
	for _, now := range []time.Time{t0, t0.Add(time.Second), exp} {
		if g.Remember("a", nonce(1), exp, now) {
			t.Fatalf("replay at %s accepted", now.Sub(t0))
		}
	}
	if !g.Remember("b", nonce(1), exp, t0) {
		t.Fatal("the same nonce from another sender refused")
	}
	if !g.Remember("a", nonce(1), exp.Add(DefaultSkew), exp.Add(time.Millisecond)) {
		t.Fatal("an expired nonce is still remembered")
	}
	if n := g.Len(); n != 1 {
		t.Fatalf("Len() = %d after expiry, want 1", n)
	}
}

// TestReplayGuardBounded: a full guard evicts its oldest entries, counts
// them, and its memory stays bounded however many nonces pass through.
func TestReplayGuardBounded(t *testing.T) {
	const capacity = 100
	g := NewReplayGuard(capacity)
	for i := range 100_000 {
		if !g.Remember("a", nonce(i), t0.Add(time.Hour), t0) {
			t.Fatalf("nonce %d refused", i)
		}
		if g.Len() > capacity {
			t.Fatalf("Len() = %d > %d", g.Len(), capacity)
		}
		if c := cap(g.queue); c > capacity {
			t.Fatalf("queue capacity %d for at most %d entries", c, capacity)
		}
	}
	if got := g.Evicted(); got != 100_000-capacity {
		t.Errorf("Evicted() = %d, want %d", got, 100_000-capacity)
	}
	if len(g.seen) != g.Len() {
		t.Errorf("map holds %d, queue %d", len(g.seen), g.Len())
	}
	// The newest are remembered, the evicted are not.
	if g.Remember("a", nonce(100_000-1), t0.Add(time.Hour), t0) {
		t.Error("the newest nonce was forgotten")
	}
	if !g.Remember("a", nonce(0), t0.Add(time.Hour), t0) {
		t.Error("an evicted nonce is still remembered")
	}
}

// TestReplayGuardExpiryFreesMemory: entries leave when they expire, in
// arrival order even when their expiries are not.
func TestReplayGuardExpiryFreesMemory(t *testing.T) {
	g := NewReplayGuard(1000)
	for i := range 1000 {
		// Expiries jump around within the window, as envelope times do.
		exp := t0.Add(time.Duration(i%7) * time.Second)
		g.Remember("a", nonce(i), exp, t0)
	}
	if g.Len() != 1000 || g.Evicted() != 0 {
		t.Fatalf("Len() = %d, Evicted() = %d", g.Len(), g.Evicted())
	}
	// A nonce whose own expiry has passed may be held until those before
	// it expire (at most one window longer): never forgotten too early.
	if g.Remember("a", nonce(7), t0.Add(time.Hour), t0.Add(3*time.Second)) {
		t.Error("a nonce was forgotten before its expiry")
	}
	g.Remember("a", nonce(-1), t0.Add(time.Hour), t0.Add(7*time.Second))
	if n := g.Len(); n != 1 {
		t.Fatalf("Len() = %d after every entry expired, want 1", n)
	}
	if len(g.seen) != 1 {
		t.Fatalf("map holds %d after every entry expired", len(g.seen))
	}
}

// TestConcurrentOpen: many goroutines open the same envelopes at once;
// each is accepted exactly once. Run with -race.
func TestConcurrentOpen(t *testing.T) {
	alice, bob := key(1), key(2)
	v, clk := newVerifier(t)
	const n = 200
	rand := &nonces{}
	var all [][]byte
	var senders []string
	for i := range n {
		id := alice
		if i%2 == 1 {
			id = bob
		}
		all = append(all, seal(t, id, "test.ping", "", []byte{byte(i)}, t0, rand))
		senders = append(senders, string(id.DID()))
	}
	var accepted, replays atomic.Int64
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			for j := range n {
				i := (j + w*n/8) % n // each worker starts elsewhere
				_, err := v.Open(all[i], senders[i])
				switch reason(t, err) {
				case "":
					accepted.Add(1)
				case ReasonReplay:
					replays.Add(1)
				default:
					t.Errorf("envelope %d: %v", i, err)
				}
			}
		})
	}
	wg.Go(func() { clk.Advance(time.Millisecond) }) // the clock moves meanwhile
	wg.Wait()
	if accepted.Load() != n || replays.Load() != 7*n {
		t.Fatalf("accepted %d, replays %d; want %d and %d", accepted.Load(), replays.Load(), n, 7*n)
	}
}
