package dag

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/clock/clocktest"
	"github.com/intercooperative-network/icn-go/services/runtest"
	"github.com/intercooperative-network/icn-go/services/store"
	"github.com/intercooperative-network/icn-go/services/store/badgerstore"
	"github.com/intercooperative-network/icn-go/services/store/memstore"
	"github.com/intercooperative-network/icn-go/supervisors"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
		goleak.IgnoreAnyFunction("github.com/golang/glog.(*fileSink).flushDaemon"),
	)
}

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

type node struct {
	tree    *supervisors.Tree
	store   store.Store
	clock   *clocktest.Fake
	metrics *Metrics
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// start runs a tree with only the dag actor over s.
func start(t testing.TB, s store.Store, cfg Config) *node {
	t.Helper()
	return startWith(t, s, cfg, discard())
}

// startWith runs a tree with the dag actor over s, logging to log, and
// the other children given (started before it).
func startWith(t testing.TB, s store.Store, cfg Config, log *slog.Logger, others ...supervisors.ChildSpec) *node {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktest.New(t0)
	d := supervisors.ProductionDefaults()
	d.Intensity, d.Period = 1000, time.Minute
	d.Backoff.Initial, d.Backoff.Max = time.Millisecond, 5*time.Millisecond
	d.Breaker.OpenTimeout, d.Breaker.MaxOpenTimeout = 10*time.Millisecond, 50*time.Millisecond
	children := append(others, supervisors.ChildSpec{
		Name: Name, Restart: supervisors.Permanent, New: New(Deps{Store: s, Clock: clk, Config: cfg, Metrics: m, Logger: log}),
	})
	tree, err := supervisors.New(supervisors.Spec{Name: "icn", Children: children}, discard(), reg, supervisors.WithDefaults(d))
	if err != nil {
		t.Fatal(err)
	}
	runtest.Start(t, tree)
	return &node{tree: tree, store: s, clock: clk, metrics: m}
}

func memNode(t *testing.T) *node {
	return start(t, memstore.New(), Config{MaxBlockSize: 1 << 20, GCGrace: time.Hour})
}

func ask[R any](t *testing.T, n *node, msg any) R {
	t.Helper()
	r, err := supervisors.Ask[R](t.Context(), n.tree, Name, msg)
	if err != nil {
		t.Fatalf("%T: %v", msg, err)
	}
	return r
}

func askErr(t *testing.T, n *node, msg any) error {
	t.Helper()
	_, err := n.tree.Request(t.Context(), Name, msg)
	return err
}

func raw(t testing.TB, s string) block.Block {
	t.Helper()
	b, err := block.NewRaw([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func node1(t testing.TB, v any) block.Block {
	t.Helper()
	b, err := block.Encode(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func put(t *testing.T, n *node, blocks ...block.Block) *messages.PutBlocksReply {
	t.Helper()
	return ask[*messages.PutBlocksReply](t, n, &messages.PutBlocks{Blocks: blocks})
}

func TestPutGetStat(t *testing.T) {
	n := memNode(t)
	b := raw(t, "hello")
	if r := put(t, n, b); r.New != 1 || r.Stored != 1 || r.Bytes != 5 {
		t.Fatalf("first put: %+v", r)
	}
	if r := put(t, n, b); r.New != 0 {
		t.Fatalf("a second put of the same block is not new: %+v", r)
	}
	got := ask[*messages.GetBlockReply](t, n, &messages.GetBlock{CID: b.CID()})
	if !block.Equal(got.Block, b) {
		t.Fatal("get returned other bytes")
	}
	st := ask[*messages.BlockStat](t, n, &messages.StatBlock{CID: b.CID()})
	if st.Size != 5 || st.Codec != block.Raw || st.Pin != "" || !st.ExpiresAt.Equal(t0.Add(time.Hour)) || !st.StoredAt.Equal(t0) {
		t.Fatalf("stat: %+v", st)
	}
	missing := raw(t, "never stored").CID()
	for _, msg := range []any{&messages.GetBlock{CID: missing}, &messages.StatBlock{CID: missing}, &messages.PinBlock{CID: missing}} {
		if err := askErr(t, n, msg); !errors.Is(err, messages.ErrBlockNotFound) {
			t.Errorf("%T of a missing block: %v", msg, err)
		}
	}
	if got := testutil.ToFloat64(n.metrics.blocks); got != 1 {
		t.Fatalf("icn_dag_blocks = %v", got)
	}
}

func TestOversizeBlocksAreRefusedAndNothingIsStored(t *testing.T) {
	n := start(t, memstore.New(), Config{MaxBlockSize: 1024, GCGrace: time.Hour})
	small, big := raw(t, "ok"), raw(t, strings.Repeat("x", 1025))
	err := askErr(t, n, &messages.PutBlocks{Blocks: []block.Block{small, big}})
	if !errors.Is(err, messages.ErrBlockTooLarge) {
		t.Fatalf("err = %v", err)
	}
	if err := askErr(t, n, &messages.GetBlock{CID: small.CID()}); !errors.Is(err, messages.ErrBlockNotFound) {
		t.Fatalf("a refused put stored its first block: %v", err)
	}
}

// dagOf builds root -> {a, b}, a -> leaf, b -> leaf.
func dagOf(t *testing.T, tag string) (root block.Block, all []block.Block) {
	t.Helper()
	leaf := raw(t, "leaf "+tag)
	a := node1(t, map[string]any{"n": "a" + tag, "leaf": block.LinkTo(leaf.CID())})
	b := node1(t, map[string]any{"n": "b" + tag, "leaf": block.LinkTo(leaf.CID())})
	root = node1(t, map[string]any{"kids": []any{block.LinkTo(a.CID()), block.LinkTo(b.CID())}})
	return root, []block.Block{leaf, a, b, root}
}

func TestWalkIsDepthFirstParentsFirstEachOnce(t *testing.T) {
	n := memNode(t)
	root, all := dagOf(t, "1")
	put(t, n, all...)
	w := ask[*messages.WalkDAGReply](t, n, &messages.WalkDAG{Root: root.CID()})
	want := []cid.Cid{root.CID(), all[1].CID(), all[0].CID(), all[2].CID()}
	if !slices.EqualFunc(w.CIDs, want, func(a, b cid.Cid) bool { return a.Equals(b) }) || len(w.Missing) != 0 {
		t.Fatalf("walk %v missing %v, want %v", w.CIDs, w.Missing, want)
	}
	// Without the leaf, the walk reports it missing.
	n2 := memNode(t)
	put(t, n2, all[1:]...)
	w = ask[*messages.WalkDAGReply](t, n2, &messages.WalkDAG{Root: root.CID()})
	if len(w.Missing) != 1 || !w.Missing[0].Equals(all[0].CID()) || len(w.CIDs) != 3 {
		t.Fatalf("incomplete walk: %+v", w)
	}
}

func TestGCKeepsWhatPinsReachAndWhatHasNotExpired(t *testing.T) {
	n := memNode(t)
	rootR, dagR := dagOf(t, "recursive")
	rootD, dagD := dagOf(t, "direct")
	loose := raw(t, "loose")
	short := raw(t, "short ttl")
	put(t, n, dagR...)
	put(t, n, dagD...)
	put(t, n, loose)
	ask[*messages.PutBlocksReply](t, n, &messages.PutBlocks{Blocks: []block.Block{short}, TTL: 3 * time.Hour})
	if r := ask[*messages.PinBlockReply](t, n, &messages.PinBlock{CID: rootR.CID(), Recursive: true}); r.Missing != 0 || !r.Pin.Recursive {
		t.Fatalf("pin: %+v", r)
	}
	ask[*messages.PinBlockReply](t, n, &messages.PinBlock{CID: rootD.CID()})

	// Nothing has expired yet: nothing goes.
	if r := ask[*messages.CollectGarbageReply](t, n, &messages.CollectGarbage{}); r.RemovedCount != 0 || r.Kept != 10 {
		t.Fatalf("gc before expiry: %+v", r)
	}
	// Past the grace period (1 h), before the TTL (3 h).
	n.clock.Advance(2 * time.Hour)
	r := ask[*messages.CollectGarbageReply](t, n, &messages.CollectGarbage{})
	removed := map[string]bool{}
	for _, c := range r.Removed {
		removed[c.String()] = true
	}
	wantGone := []block.Block{loose, dagD[0], dagD[1], dagD[2]} // the direct pin keeps only its root
	if r.RemovedCount != len(wantGone) {
		t.Fatalf("removed %d: %v", r.RemovedCount, r.Removed)
	}
	for _, b := range wantGone {
		if !removed[b.CID().String()] {
			t.Fatalf("%s not removed", b.CID())
		}
	}
	for _, b := range append([]block.Block{short, rootD}, dagR...) {
		if err := askErr(t, n, &messages.GetBlock{CID: b.CID()}); err != nil {
			t.Fatalf("%s was collected: %v", b.CID(), err)
		}
	}
	// Unpinned, the recursive DAG goes at the next collection.
	ask[*messages.UnpinBlockReply](t, n, &messages.UnpinBlock{CID: rootR.CID()})
	if err := askErr(t, n, &messages.UnpinBlock{CID: rootR.CID()}); !errors.Is(err, messages.ErrNotPinned) {
		t.Fatalf("second unpin: %v", err)
	}
	n.clock.Advance(2 * time.Hour)
	r = ask[*messages.CollectGarbageReply](t, n, &messages.CollectGarbage{})
	if r.RemovedCount != 5 || r.Kept != 1 { // the recursive DAG and the short-TTL block; rootD stays
		t.Fatalf("gc after unpin: %+v", r)
	}
	if got := testutil.ToFloat64(n.metrics.blocks); got != 1 {
		t.Fatalf("icn_dag_blocks = %v, want 1", got)
	}
	pins := ask[*messages.ListPinsReply](t, n, &messages.ListPins{})
	if len(pins.Pins) != 1 || !pins.Pins[0].CID.Equals(rootD.CID()) || pins.Pins[0].Recursive {
		t.Fatalf("pins: %+v", pins)
	}
}

func TestAPutCanPinItsRootInTheSameCommit(t *testing.T) {
	n := memNode(t)
	root, all := dagOf(t, "x")
	ask[*messages.PutBlocksReply](t, n, &messages.PutBlocks{Blocks: all, Pin: &messages.PinBlock{CID: root.CID(), Recursive: true}})
	n.clock.Advance(48 * time.Hour)
	if r := ask[*messages.CollectGarbageReply](t, n, &messages.CollectGarbage{}); r.RemovedCount != 0 {
		t.Fatalf("a pinned put was collected: %+v", r)
	}
	if st := ask[*messages.BlockStat](t, n, &messages.StatBlock{CID: root.CID()}); st.Pin != "recursive" || len(st.Links) != 2 {
		t.Fatalf("stat: %+v", st)
	}
}

func TestCorruptBlocksAreReportedNeverReturned(t *testing.T) {
	n := memNode(t)
	b := raw(t, "precious")
	put(t, n, b)
	var batch store.Batch
	batch.Put(key(prefixData, b.CID()), []byte("tampered"))
	if err := n.store.Commit(t.Context(), &batch); err != nil {
		t.Fatal(err)
	}
	if err := askErr(t, n, &messages.GetBlock{CID: b.CID()}); !errors.Is(err, messages.ErrCorruptBlock) {
		t.Fatalf("get of a corrupt block: %v", err)
	}
	if got := testutil.ToFloat64(n.metrics.corrupt); got != 1 {
		t.Fatalf("icn_dag_corrupt_blocks_total = %v", got)
	}
}

func TestLargePutsSpanBatchesAndLargeBlocksWork(t *testing.T) {
	n := start(t, memstore.New(), Config{MaxBlockSize: 8 << 20, GCGrace: time.Hour})
	var blocks []block.Block
	for i := range 5000 { // more ops than one store batch holds
		blocks = append(blocks, raw(t, fmt.Sprintf("block %d", i)))
	}
	big := raw(t, strings.Repeat("b", 8<<20))
	blocks = append(blocks, big)
	if r := put(t, n, blocks...); r.New != 5001 {
		t.Fatalf("%+v", r)
	}
	got := ask[*messages.GetBlockReply](t, n, &messages.GetBlock{CID: big.CID()})
	if !bytes.Equal(got.Block.Data(), big.Data()) {
		t.Fatal("large block differs")
	}
}

func TestCountsAreRebuiltOnRestart(t *testing.T) {
	n := memNode(t)
	for i := range 10 {
		put(t, n, raw(t, fmt.Sprint(i)))
	}
	if err := n.tree.Kill(t.Context(), Name, supervisors.KillStop); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		a, _ := n.tree.Actor(Name)
		if a.Restarts == 1 && a.Status == "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("dag did not come back")
		}
		time.Sleep(time.Millisecond)
	}
	st := ask[*messages.SubsystemStatus](t, n, &messages.StatusRequest{})
	if st.Details["blocks"] != "10" || st.Details["bytes"] != "10" {
		t.Fatalf("after restart: %+v", st.Details)
	}
}

// TestKillsDuringConcurrentPutsLoseNothingAcknowledged kills the dag actor
// in each mode while 1,000 puts are in flight: every acknowledged put is
// readable afterwards, every other put said it failed, and no block is
// half-written (data without meta, or the reverse).
func TestKillsDuringConcurrentPutsLoseNothingAcknowledged(t *testing.T) {
	s, err := badgerstore.Open(t.TempDir(), discard())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	n := start(t, s, Config{MaxBlockSize: 1 << 20, GCGrace: time.Hour})
	for _, mode := range []supervisors.KillMode{supervisors.KillPanic, supervisors.KillStop, supervisors.KillPoison} {
		t.Run(mode.String(), func(t *testing.T) {
			before, _ := n.tree.Actor(Name)
			const puts = 1000
			var mu sync.Mutex
			var acked []block.Block
			failed := 0
			var wg sync.WaitGroup
			sem := make(chan struct{}, 32)
			kill := make(chan struct{})
			for i := range puts {
				if i == puts/4 {
					close(kill)
				}
				b := raw(t, fmt.Sprintf("%s put %d", mode, i))
				sem <- struct{}{}
				wg.Go(func() {
					defer func() { <-sem }()
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					_, err := n.tree.Request(ctx, Name, &messages.PutBlocks{Blocks: []block.Block{b}})
					mu.Lock()
					defer mu.Unlock()
					if err != nil {
						if !errors.Is(err, supervisors.ErrUnavailable) {
							t.Errorf("a failed put must say the dag is unavailable: %v", err)
						}
						failed++
						return
					}
					acked = append(acked, b)
				})
				select {
				case <-kill:
					kill = nil
					go func() { _ = n.tree.Kill(context.Background(), Name, mode) }()
				default:
				}
			}
			wg.Wait()
			deadline := time.Now().Add(10 * time.Second)
			for {
				if a, _ := n.tree.Actor(Name); a.Restarts > before.Restarts && a.Status == "running" && a.Breaker == "closed" {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("dag did not come back")
				}
				time.Sleep(time.Millisecond)
			}
			for _, b := range acked {
				got, err := supervisors.Ask[*messages.GetBlockReply](t.Context(), n.tree, Name, &messages.GetBlock{CID: b.CID()})
				if err != nil || !block.Equal(got.Block, b) {
					t.Fatalf("acknowledged block %s lost: %v", b.CID(), err)
				}
			}
			if len(acked)+failed != puts {
				t.Fatalf("%d acked + %d failed != %d", len(acked), failed, puts)
			}
			t.Logf("%s: %d acknowledged, %d refused", mode, len(acked), failed)
		})
	}
	assertNoHalfWrittenBlocks(t, s)
}

func assertNoHalfWrittenBlocks(t *testing.T, s store.Store) {
	t.Helper()
	count := func(prefix []byte) map[string]bool {
		seen := map[string]bool{}
		if err := s.Scan(t.Context(), prefix, nil, func(k, _ []byte) error {
			seen[string(k[len(prefix):])] = true
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		return seen
	}
	data, metas := count(prefixData), count(prefixMeta)
	for k := range data {
		if !metas[k] {
			t.Fatal("block data without meta")
		}
	}
	for k := range metas {
		if !data[k] {
			t.Fatal("meta without block data")
		}
	}
}

func TestRecordsRoundTripAndRejectGarbage(t *testing.T) {
	m := meta{storedAt: t0, expiresAt: t0.Add(time.Hour), size: 42, links: []cid.Cid{raw(t, "a").CID(), raw(t, "b").CID()}}
	back, err := decodeMeta(m.encode())
	if err != nil || !back.storedAt.Equal(m.storedAt) || !back.expiresAt.Equal(m.expiresAt) || back.size != 42 || len(back.links) != 2 || !back.links[1].Equals(m.links[1]) {
		t.Fatalf("meta round trip: %+v %v", back, err)
	}
	enc := m.encode()
	for i := range enc {
		if _, err := decodeMeta(enc[:i]); err == nil {
			t.Fatalf("truncated meta of %d bytes accepted", i)
		}
	}
	p := pin{recursive: true, pinnedAt: t0}
	if back, err := decodePin(p.encode()); err != nil || back.recursive != p.recursive || !back.pinnedAt.Equal(p.pinnedAt) {
		t.Fatalf("pin round trip: %+v %v", back, err)
	}
	if _, err := decodePin([]byte{1, 7, 0, 0, 0, 0, 0, 0, 0, 0}); err == nil {
		t.Fatal("bad pin accepted")
	}
}

func FuzzDecodeMeta(f *testing.F) {
	f.Add(meta{storedAt: t0, size: 3, links: []cid.Cid{block.Sum(block.Raw, []byte("x"))}}.encode())
	f.Add([]byte{1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMeta(b)
		if err != nil {
			return
		}
		if _, err := decodeMeta(m.encode()); err != nil {
			t.Fatalf("re-encoded meta rejected: %v", err)
		}
	})
}

func TestGCRunsOnSchedule(t *testing.T) {
	n := start(t, memstore.New(), Config{MaxBlockSize: 1 << 20, GCGrace: time.Minute, GCInterval: time.Hour})
	put(t, n, raw(t, "soon gone"))
	// Past the grace, the scheduled collection removes it. The actor may
	// arm its timer after the clock moved (see below), so the clock moves
	// an hour at a time until the run has happened.
	deadline := time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(n.metrics.gcRemoved) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("scheduled gc did not run")
		}
		n.clock.Advance(time.Hour)
		time.Sleep(time.Millisecond)
	}
	if err := askErr(t, n, &messages.GetBlock{CID: raw(t, "soon gone").CID()}); !errors.Is(err, messages.ErrBlockNotFound) {
		t.Fatalf("after scheduled gc: %v", err)
	}
	// It re-arms after each run. The test's clock may move before the
	// actor re-arms (the timer then starts from the later time), so the
	// clock moves an hour at a time until the next run has happened.
	put(t, n, raw(t, "later"))
	deadline = time.Now().Add(5 * time.Second)
	for testutil.ToFloat64(n.metrics.gcRemoved) != 2 {
		if time.Now().After(deadline) {
			t.Fatal("scheduled gc did not run again")
		}
		n.clock.Advance(time.Hour)
		time.Sleep(time.Millisecond)
	}
}
