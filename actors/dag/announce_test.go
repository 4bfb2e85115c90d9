package dag

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/ipfs/go-cid"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/store/memstore"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// fakePeers stands in for the peer manager: it records the provider
// records asked of it, and answers each as fail says.
type fakePeers struct {
	mu       sync.Mutex
	provided map[string]int // CID string -> announces that succeeded
	asked    int
	fail     func(asked int) error // nil: every announce succeeds
	stall    bool                  // never answer
}

func (f *fakePeers) Receive(c actor.Context) {
	m, ok := c.Message().(*messages.Provide)
	if !ok {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.asked++
	if f.stall {
		return
	}
	if f.fail != nil {
		if err := f.fail(f.asked); err != nil {
			c.Respond(err)
			return
		}
	}
	f.provided[m.CID.String()]++
	c.Respond(&messages.Provided{})
}

func (f *fakePeers) count(c cid.Cid) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.provided[c.String()]
}

func (f *fakePeers) total() (asked int, provided map[string]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]int{}
	for k, v := range f.provided {
		out[k] = v
	}
	return f.asked, out
}

// withPeers starts a dag actor next to fp, as its peer manager.
func withPeers(t *testing.T, fp *fakePeers, cfg Config) *node {
	t.Helper()
	if fp.provided == nil {
		fp.provided = map[string]int{}
	}
	if cfg.MaxBlockSize == 0 {
		cfg.MaxBlockSize, cfg.GCGrace = 1<<20, time.Hour
	}
	return startWith(t, memstore.New(), cfg, discard(),
		supervisors.ChildSpec{Name: peersName, Restart: supervisors.Permanent, New: func() actor.Actor { return fp }})
}

// eventually polls cond until it holds, failing the test after 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("never: %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func announced(n *node, result string) float64 {
	return testutil.ToFloat64(n.metrics.announces.WithLabelValues(result))
}

func TestEveryNewPinnedRootIsAnnounced(t *testing.T) {
	fp := &fakePeers{}
	n := withPeers(t, fp, Config{})
	unpinned := raw(t, "kept for a while, not announced")
	put(t, n, unpinned)
	putRoot, all := dagOf(t, "put")
	ask[*messages.PutBlocksReply](t, n, &messages.PutBlocks{Blocks: all, Pin: &messages.PinBlock{CID: putRoot.CID(), Recursive: true}})
	pinned := raw(t, "pinned later")
	put(t, n, pinned)
	ask[*messages.PinBlockReply](t, n, &messages.PinBlock{CID: pinned.CID()})

	// The start's sweep of the pins may announce a root a second time.
	eventually(t, "both roots announced", func() bool { return fp.count(putRoot.CID()) > 0 && fp.count(pinned.CID()) > 0 })
	if got := fp.count(unpinned.CID()); got != 0 {
		t.Fatalf("an unpinned block was announced %d times", got)
	}
	if got := announced(n, "failed"); got != 0 {
		t.Fatalf("icn_dag_announces_total{result=failed} = %v", got)
	}
}

func TestAFailedAnnounceIsRetriedWithBackoff(t *testing.T) {
	fp := &fakePeers{fail: func(asked int) error {
		if asked <= 2 {
			return errors.New("no peers in the routing table")
		}
		return nil
	}}
	n := withPeers(t, fp, Config{})
	b := raw(t, "announce me")
	put(t, n, b)
	ask[*messages.PinBlockReply](t, n, &messages.PinBlock{CID: b.CID()})

	eventually(t, "the first failure", func() bool { return announced(n, "failed") == 1 })
	n.clock.Advance(announceRetryMin - time.Millisecond)
	n.clock.Advance(time.Millisecond) // the first retry is due
	eventually(t, "the second failure", func() bool { return announced(n, "failed") == 2 })
	n.clock.Advance(announceRetryMin) // the second retry waits twice as long
	if got := fp.count(b.CID()); got != 0 {
		t.Fatalf("retried before its delay: %d", got)
	}
	n.clock.Advance(announceRetryMin)
	eventually(t, "the retry succeeding", func() bool { return fp.count(b.CID()) == 1 && announced(n, "announced") == 1 })
}

func TestRetryDelayDoublesUpToItsCap(t *testing.T) {
	for _, tc := range []struct {
		failures int
		want     time.Duration
	}{
		{1, announceRetryMin},
		{2, 2 * announceRetryMin},
		{3, 4 * announceRetryMin},
		{20, announceRetryMax},
		{1000, announceRetryMax},
	} {
		if got := retryDelay(tc.failures); got != tc.want {
			t.Errorf("retryDelay(%d) = %s, want %s", tc.failures, got, tc.want)
		}
	}
}

func TestPinnedRootsAreAnnouncedAgainOnRestartAndOnSchedule(t *testing.T) {
	// Roots pinned by an earlier run of the node, which had no network.
	cfg := Config{MaxBlockSize: 1 << 20, GCGrace: time.Hour, ReprovideInterval: time.Hour}
	s := memstore.New()
	before := start(t, s, cfg)
	var roots []cid.Cid
	for i := range 3 {
		b := raw(t, fmt.Sprint("root ", i))
		ask[*messages.PutBlocksReply](t, before, &messages.PutBlocks{Blocks: []block.Block{b}, Pin: &messages.PinBlock{CID: b.CID()}})
		roots = append(roots, b.CID())
	}
	if err := before.tree.Stop(t.Context()); err != nil {
		t.Fatal(err)
	}

	fp := &fakePeers{provided: map[string]int{}}
	n := startWith(t, s, cfg, discard(),
		supervisors.ChildSpec{Name: peersName, Restart: supervisors.Permanent, New: func() actor.Actor { return fp }})
	each := func(want int) func() bool {
		return func() bool {
			for _, r := range roots {
				if fp.count(r) != want {
					return false
				}
			}
			return true
		}
	}
	eventually(t, "every root announced on start", each(1))

	if err := n.tree.Kill(t.Context(), Name, supervisors.KillPanic); err != nil {
		t.Fatal(err)
	}
	eventually(t, "every root announced again after a restart", each(2))

	ask[*messages.UnpinBlockReply](t, n, &messages.UnpinBlock{CID: roots[2]})
	n.clock.Advance(time.Hour)
	eventually(t, "the pinned roots announced on schedule", func() bool { return fp.count(roots[0]) == 3 && fp.count(roots[1]) == 3 })
	if got := fp.count(roots[2]); got != 2 {
		t.Fatalf("an unpinned root was announced on schedule: %d", got)
	}
}

func TestAStalledNetworkNeverBlocksTheActor(t *testing.T) {
	fp := &fakePeers{stall: true}
	n := withPeers(t, fp, Config{})
	for i := range 2 * announceWorkers {
		b := raw(t, fmt.Sprint("root ", i))
		ask[*messages.PutBlocksReply](t, n, &messages.PutBlocks{Blocks: []block.Block{b}, Pin: &messages.PinBlock{CID: b.CID()}})
	}
	eventually(t, "every worker waiting on the network", func() bool { a, _ := fp.total(); return a == announceWorkers })
	b := raw(t, "still served")
	put(t, n, b)
	ask[*messages.GetBlockReply](t, n, &messages.GetBlock{CID: b.CID()})
	ask[*messages.PinBlockReply](t, n, &messages.PinBlock{CID: b.CID()})
}
