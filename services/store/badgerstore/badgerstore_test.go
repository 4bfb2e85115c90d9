package badgerstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/intercooperative-network/icn-go/services/store"
	"github.com/intercooperative-network/icn-go/services/store/storetest"
)

// withBeforeGroup makes the committer call f with each group's size before
// writing it; f may block to hold the committer while requests queue up.
func withBeforeGroup(f func(n int)) Option { return func(c *config) { c.beforeGroup = f } }

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func openAt(t *testing.T, dir string, opts ...Option) *Store {
	t.Helper()
	s, err := Open(dir, testLogger(t), opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openAt(t, t.TempDir()) })
}

func (s *Store) queueLen() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

func (s *Store) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// waitFor polls cond until it holds, failing the test after a deadline.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// gate holds the committer inside its before-group hook until opened.
type gate struct {
	sizes chan int
	open  chan struct{}
	once  sync.Once
}

func newGate() *gate { return &gate{sizes: make(chan int, 100), open: make(chan struct{})} }

func (g *gate) hook(n int) { g.sizes <- n; <-g.open }
func (g *gate) release()   { g.once.Do(func() { close(g.open) }) }

func (g *gate) nextGroup(t *testing.T) int {
	t.Helper()
	select {
	case n := <-g.sizes:
		return n
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for the committer to take a group")
		return 0
	}
}

func batchOf(kv ...string) *store.Batch {
	var b store.Batch
	for i := 0; i+1 < len(kv); i += 2 {
		b.Put([]byte(kv[i]), []byte(kv[i+1]))
	}
	return &b
}

// commitAsync runs Commit in a goroutine and returns its result channel.
func commitAsync(ctx context.Context, s *Store, b *store.Batch) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- s.Commit(ctx, b) }()
	return ch
}

func result(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("timed out waiting for Commit to return")
		return nil
	}
}

func TestGroupCommitTakesEveryWaitingBatch(t *testing.T) {
	g := newGate()
	t.Cleanup(g.release)
	s := openAt(t, t.TempDir(), withBeforeGroup(g.hook))

	first := commitAsync(t.Context(), s, batchOf("first", "1"))
	if n := g.nextGroup(t); n != 1 {
		t.Fatalf("first group has %d batches", n)
	}
	// The committer is busy with the first group: the rest queue up.
	const waiting = 15
	results := make([]<-chan error, waiting)
	for i := range results {
		results[i] = commitAsync(t.Context(), s, batchOf(fmt.Sprintf("k%02d", i), "v", fmt.Sprintf("k%02d/b", i), "v"))
	}
	waitFor(t, "15 queued commits", func() bool { return s.queueLen() == waiting })
	g.release()
	if n := g.nextGroup(t); n != waiting {
		t.Fatalf("second group has %d batches, want all %d that were waiting", n, waiting)
	}
	if err := result(t, first); err != nil {
		t.Fatal(err)
	}
	for _, ch := range results {
		if err := result(t, ch); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := s.groups.Load(), int64(2); got != want {
		t.Errorf("%d groups, want %d", got, want)
	}
	if got, want := s.txns.Load(), int64(2); got != want {
		t.Errorf("%d transactions, want %d (one per group)", got, want)
	}
	for i := range waiting {
		if ok, err := s.Has(t.Context(), fmt.Appendf(nil, "k%02d/b", i)); !ok || err != nil {
			t.Fatalf("k%02d/b: %v, %v", i, ok, err)
		}
	}
}

func TestCommitCancelledBeforeTakenWritesNothing(t *testing.T) {
	g := newGate()
	t.Cleanup(g.release)
	s := openAt(t, t.TempDir(), withBeforeGroup(g.hook))

	first := commitAsync(t.Context(), s, batchOf("first", "1"))
	g.nextGroup(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancelled := commitAsync(ctx, s, batchOf("cancelled", "1"))
	waitFor(t, "the commit to queue", func() bool { return s.queueLen() == 1 })
	cancel()
	if err := result(t, cancelled); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Commit = %v, want context.Canceled", err)
	}
	g.release()
	if err := result(t, first); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(t.Context(), batchOf("after", "1")); err != nil {
		t.Fatal(err)
	}
	if n := g.nextGroup(t); n != 1 {
		t.Fatalf("group after the cancellation has %d batches; the cancelled one must be skipped", n)
	}
	if ok, _ := s.Has(t.Context(), []byte("cancelled")); ok {
		t.Fatal("a batch cancelled before it was taken was written")
	}
}

func TestCommitCancelledAfterTakenReportsTheWrite(t *testing.T) {
	g := newGate()
	t.Cleanup(g.release)
	s := openAt(t, t.TempDir(), withBeforeGroup(g.hook))

	ctx, cancel := context.WithCancel(t.Context())
	ch := commitAsync(ctx, s, batchOf("taken", "1"))
	g.nextGroup(t) // taken: the committer holds it
	cancel()
	g.release()
	if err := result(t, ch); err != nil {
		t.Fatalf("Commit = %v; a batch taken before the cancellation was written and must be reported so", err)
	}
	if ok, err := s.Has(t.Context(), []byte("taken")); !ok || err != nil {
		t.Fatalf("Has = %v, %v", ok, err)
	}
}

func TestCloseDrainsPendingCommits(t *testing.T) {
	dir := t.TempDir()
	g := newGate()
	t.Cleanup(g.release)
	s, err := Open(dir, testLogger(t), withBeforeGroup(g.hook))
	if err != nil {
		t.Fatal(err)
	}
	first := commitAsync(t.Context(), s, batchOf("first", "1"))
	g.nextGroup(t)
	second := commitAsync(t.Context(), s, batchOf("second", "2"))
	waitFor(t, "the second commit to queue", func() bool { return s.queueLen() == 1 })

	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	waitFor(t, "Close to start", s.isClosed)
	if err := s.Commit(t.Context(), batchOf("late", "3")); !errors.Is(err, store.ErrClosed) {
		t.Fatalf("Commit during Close = %v, want ErrClosed", err)
	}
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) with commits pending", err)
	default:
	}
	g.release()
	for _, ch := range []<-chan error{first, second, closed} {
		if err := result(t, ch); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}

	s = openAt(t, dir)
	for k, v := range map[string]string{"first": "1", "second": "2"} {
		if got, err := s.Get(t.Context(), []byte(k)); err != nil || string(got) != v {
			t.Fatalf("after reopen, %s = %q, %v", k, got, err)
		}
	}
	if ok, _ := s.Has(t.Context(), []byte("late")); ok {
		t.Fatal("a commit refused with ErrClosed was written")
	}
}

// bigBatch returns a batch of nearly store.MaxBatchBytes bytes made of
// values just under the value threshold (store.LargeValue), so that badger
// counts them in full against its transaction limit (values at or above the
// threshold go to the value log and count as a pointer).
func bigBatch(i int) *store.Batch {
	var b store.Batch
	for j := range bigValues {
		b.Put(fmt.Appendf(nil, "big/%d/%d", i, j), bytes.Repeat([]byte{byte('a' + i)}, bigValueLen))
	}
	return &b
}

const (
	bigValues   = 31
	bigValueLen = store.LargeValue - 1024
)

func TestGroupOfLargeValuesIsSplitByTotalBytes(t *testing.T) {
	g := newGate()
	t.Cleanup(g.release)
	s := openAt(t, t.TempDir(), withBeforeGroup(g.hook))
	const valueLen = 4 * store.LargeValue // to the value log: a pointer to badger's limits
	s.txnTotal = 2*valueLen + 1024        // read by the committer after the channel send in Commit
	first := commitAsync(t.Context(), s, batchOf("first", "1"))
	g.nextGroup(t)
	var results []<-chan error
	for i := range 4 {
		var b store.Batch
		b.Put(fmt.Appendf(nil, "large/%d", i), bytes.Repeat([]byte{byte('a' + i)}, valueLen))
		results = append(results, commitAsync(t.Context(), s, &b))
	}
	waitFor(t, "4 queued commits", func() bool { return s.queueLen() == 4 })
	g.release()
	if n := g.nextGroup(t); n != 4 {
		t.Fatalf("group of %d, want 4", n)
	}
	for _, ch := range append(results, first) {
		if err := result(t, ch); err != nil {
			t.Fatal(err)
		}
	}
	// [first] then [large0 large1] [large2 large3].
	if n := s.txns.Load(); n != 3 {
		t.Errorf("%d transactions, want 3", n)
	}
	for i := range 4 {
		if v, err := s.Get(t.Context(), fmt.Appendf(nil, "large/%d", i)); err != nil || len(v) != valueLen || v[0] != byte('a'+i) {
			t.Fatalf("large/%d: %d bytes, %v", i, len(v), err)
		}
	}
}

// TestBadgerStillLogsFailedValueLogSyncs guards ErrSyncFailed: badger
// reports a failed value-log sync only through its logger, with this
// message, which the store watches for. A badger upgrade that rewords it
// must fail here, not silently disable the check.
func TestBadgerStillLogsFailedValueLogSyncs(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/dgraph-io/badger/v4").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	src, err := os.ReadFile(filepath.Join(strings.TrimSpace(string(out)), "value.go"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(src, []byte(valueLogSyncFailure)) {
		t.Fatalf("badger's value.go no longer logs %q: update logger.go", valueLogSyncFailure)
	}
}

func TestGroupTooBigForOneTransactionIsSplitBetweenBatches(t *testing.T) {
	for _, tc := range []struct {
		name    string
		hugeTxn bool // pretend transactions are unbounded, so badger's ErrTxnTooBig forces the split
	}{
		{"planned split", false},
		{"split after ErrTxnTooBig", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGate()
			t.Cleanup(g.release)
			rec := newRecorder(slog.LevelWarn)
			s, err := Open(t.TempDir(), slog.New(rec), withBeforeGroup(g.hook))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				if err := s.Close(); err != nil {
					t.Error(err)
				}
			})
			if tc.hugeTxn {
				s.txnBytes, s.txnOps = 1<<40, 1<<40 // read by the committer after the channel send in Commit
			}
			first := commitAsync(t.Context(), s, batchOf("first", "1"))
			g.nextGroup(t)
			var results []<-chan error
			for i := range 3 {
				results = append(results, commitAsync(t.Context(), s, bigBatch(i)))
			}
			results = append(results, commitAsync(t.Context(), s, batchOf("small", "s")))
			waitFor(t, "4 queued commits", func() bool { return s.queueLen() == 4 })
			g.release()
			if n := g.nextGroup(t); n != 4 {
				t.Fatalf("group of %d, want 4", n)
			}
			for _, ch := range append(results, first) {
				if err := result(t, ch); err != nil {
					t.Fatal(err)
				}
			}
			// One transaction for the first group; the second, about 6 MiB,
			// needs three (badger takes about 2.4 MiB per transaction):
			// [big0] [big1] [big2 small].
			if n := s.txns.Load(); n != 4 {
				t.Errorf("%d transactions, want 4", n)
			}
			split := false
			for _, r := range rec.records() {
				split = split || strings.Contains(r.Message, "splitting")
			}
			if split != tc.hugeTxn {
				t.Errorf("fallback split logged: %v, want %v", split, tc.hugeTxn)
			}
			for i := range 3 {
				for j := range bigValues {
					v, err := s.Get(t.Context(), fmt.Appendf(nil, "big/%d/%d", i, j))
					if err != nil || len(v) != bigValueLen || v[0] != byte('a'+i) || v[len(v)-1] != byte('a'+i) {
						t.Fatalf("big/%d/%d: %d bytes, %v", i, j, len(v), err)
					}
				}
			}
			if ok, err := s.Has(t.Context(), []byte("small")); !ok || err != nil {
				t.Fatalf("small: %v, %v", ok, err)
			}
		})
	}
}

func TestReopenKeepsCommittedState(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(t.Context(), batchOf("a", "1", "b", "2", "c", "3")); err != nil {
		t.Fatal(err)
	}
	var del store.Batch
	del.Delete([]byte("b"))
	del.Put([]byte("a"), []byte("1'"))
	if err := s.Commit(t.Context(), &del); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, dir)
	var got []string
	if err := s.Scan(t.Context(), nil, nil, func(k, v []byte) error {
		got = append(got, string(k)+"="+string(v))
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if strings.Join(got, ",") != "a=1',c=3" {
		t.Fatalf("after reopen: %q", got)
	}
}

func TestOpenRefusesMemtableTooSmallForABatch(t *testing.T) {
	dir := t.TempDir()
	_, err := Open(dir, testLogger(t), WithMemTableSize(8<<20))
	if err == nil || !strings.Contains(err.Error(), "too small") {
		t.Fatalf("Open = %v, want a memtable-too-small error", err)
	}
	// The refused Open closed badger: the directory is not left locked.
	openAt(t, dir)
}

// recorder is a slog.Handler that keeps records.
type recorder struct {
	mu    sync.Mutex
	level slog.Level
	attrs []slog.Attr
	recs  *[]slog.Record
}

func newRecorder(level slog.Level) *recorder {
	return &recorder{level: level, recs: new([]slog.Record)}
}

func (r *recorder) Enabled(_ context.Context, l slog.Level) bool { return l >= r.level }
func (r *recorder) Handle(_ context.Context, rec slog.Record) error {
	rec = rec.Clone()
	rec.AddAttrs(r.attrs...)
	r.mu.Lock()
	defer r.mu.Unlock()
	*r.recs = append(*r.recs, rec)
	return nil
}
func (r *recorder) WithAttrs(as []slog.Attr) slog.Handler {
	return &recorder{level: r.level, attrs: append(append([]slog.Attr{}, r.attrs...), as...), recs: r.recs}
}
func (r *recorder) WithGroup(string) slog.Handler { return r }

func (r *recorder) records() []slog.Record {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]slog.Record(nil), *r.recs...)
}

func attr(rec slog.Record, key string) string {
	var v string
	rec.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
		}
		return true
	})
	return v
}

func TestBadgerLoggerLevels(t *testing.T) {
	cases := []struct {
		call func(l badgerLogger)
		want slog.Level
		msg  string
	}{
		{func(l badgerLogger) { l.Errorf("disk %s\n", "full") }, slog.LevelError, "disk full"},
		{func(l badgerLogger) { l.Warningf("slow %d", 3) }, slog.LevelWarn, "slow 3"},
		{func(l badgerLogger) { l.Infof("flushed %d tables\n", 2) }, slog.LevelDebug, "flushed 2 tables"},
		{func(l badgerLogger) { l.Debugf("detail") }, slog.LevelDebug, "detail"},
	}
	for _, c := range cases {
		rec := newRecorder(slog.LevelDebug)
		c.call(newBadgerLogger(slog.New(rec), nil))
		recs := rec.records()
		if len(recs) != 1 {
			t.Fatalf("%q: %d records", c.msg, len(recs))
		}
		if recs[0].Level != c.want || recs[0].Message != c.msg || attr(recs[0], "lib") != "badger" {
			t.Errorf("got %v %q lib=%q; want %v %q lib=badger", recs[0].Level, recs[0].Message, attr(recs[0], "lib"), c.want, c.msg)
		}
	}

	// Below the handler's level nothing is formatted or emitted.
	rec := newRecorder(slog.LevelWarn)
	l := newBadgerLogger(slog.New(rec), nil)
	l.Infof("%v", failIfFormatted{t})
	l.Debugf("%v", failIfFormatted{t})
	if n := len(rec.records()); n != 0 {
		t.Fatalf("%d records below the level", n)
	}
}

type failIfFormatted struct{ t *testing.T }

func (f failIfFormatted) String() string { f.t.Error("formatted a message below the level"); return "" }

func TestBadgerLogsReachTheGivenLogger(t *testing.T) {
	rec := newRecorder(slog.LevelDebug)
	s, err := Open(t.TempDir(), slog.New(rec))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	fromBadger := 0
	for _, r := range rec.records() {
		if attr(r, "lib") == "badger" {
			fromBadger++
			if r.Level > slog.LevelDebug {
				t.Errorf("badger's routine logging at %v: %q", r.Level, r.Message)
			}
		}
	}
	if fromBadger == 0 {
		t.Fatal("badger logged nothing through the store's logger on open and close")
	}
}

// TestValueLogSyncFailureStopsAcknowledging: badger only logs a failed
// value-log sync; from then on the store must not acknowledge anything.
func TestValueLogSyncFailureStopsAcknowledging(t *testing.T) {
	s, err := Open(t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if err := s.Commit(t.Context(), batchOf("before", "1")); err != nil {
		t.Fatal(err)
	}
	// What badger's valueLog.write does when curlf.Sync fails.
	s.db.Opts().Logger.Errorf("Error while curlf sync: %v\n", errors.New("input/output error"))
	for range 2 {
		if err := s.Commit(t.Context(), batchOf("after", "2")); !errors.Is(err, ErrSyncFailed) {
			t.Fatalf("commit after a failed sync: %v, want ErrSyncFailed", err)
		}
	}
	if v, err := s.Get(t.Context(), []byte("before")); err != nil || string(v) != "1" {
		t.Fatalf("reads still work: %q %v", v, err)
	}
}
