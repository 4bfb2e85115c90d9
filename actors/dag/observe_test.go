package dag

import (
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/messages/correlation"
	"github.com/intercooperative-network/icn-go/services/logging"
	"github.com/intercooperative-network/icn-go/services/logging/logtest"
	"github.com/intercooperative-network/icn-go/services/store"
	"github.com/intercooperative-network/icn-go/services/store/memstore"
)

// find returns the first record with the message msg, or nil.
func find(t *testing.T, logs *logtest.Book, msg string) map[string]any {
	t.Helper()
	rs, err := logs.Records(func(r map[string]any) bool { return r["msg"] == msg })
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) == 0 {
		return nil
	}
	return rs[0]
}

func TestLogLinesOfARequestCarryItsID(t *testing.T) {
	logs := &logtest.Book{}
	log := logs.Logger(slog.LevelDebug)
	fs := &faultyStore{Store: memstore.New()}
	n := startWith(t, fs, Config{MaxBlockSize: 1 << 20, GCGrace: time.Hour}, log)

	stored := raw(t, "will rot")
	put(t, n, stored)
	var batch store.Batch
	batch.Put(key(prefixData, stored.CID()), []byte("rotten"))
	if err := fs.Commit(t.Context(), &batch); err != nil {
		t.Fatal(err)
	}
	failing := func(*store.Batch) error { return errors.New("disk full") }
	fs.commitErr.Store(&failing)

	for _, tc := range []struct {
		name, id, msg string
		req           any
		want          error
	}{
		{"put failed", "put-7", "put failed", &messages.PutBlocks{Blocks: []block.Block{raw(t, "never stored")}}, nil},
		{"corrupt block", "get-9", "corrupt block on disk", &messages.GetBlock{CID: stored.CID()}, messages.ErrCorruptBlock},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := correlation.With(t.Context(), tc.id)
			_, err := n.tree.Request(ctx, Name, tc.req)
			if err == nil || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("request: %v, want an error (%v)", err, tc.want)
			}
			var line map[string]any
			eventually(t, "the log line "+tc.msg, func() bool { line = find(t, logs, tc.msg); return line != nil })
			if line[logging.RequestIDKey] != tc.id {
				t.Fatalf("%q logged without its request's id: %v", tc.msg, line)
			}
		})
	}
}

func TestProgressIsReportedEveryBlocksOrPeriod(t *testing.T) {
	now := t0
	clock := func() time.Time { return now }
	var reported []int
	progress := everyBlocksOrPeriod(3, 5*time.Second, clock, func(done, _ int) { reported = append(reported, done) })
	for _, step := range []struct {
		done    int
		elapsed time.Duration
	}{
		{1, 0}, {2, time.Second}, {3, 0}, // the third block: every 3
		{4, time.Second}, {5, 4 * time.Second}, // 5 s since the last: the period
		{6, 0}, {7, 0}, {8, time.Second}, // 3 more since the last
		{9, 0},
	} {
		now = now.Add(step.elapsed)
		progress(step.done, 0)
	}
	if want := []int{3, 5, 8}; !slices.Equal(reported, want) {
		t.Fatalf("reported at %v, want %v", reported, want)
	}
}

func TestAWholeDAGFetchCountsItsBlocks(t *testing.T) {
	n := memNode(t)
	root, all := dagOf(t, "walked")
	put(t, n, all...)
	r := ask[*messages.FetchDAGReply](t, n, &messages.FetchDAG{Root: root.CID()})
	if r.Blocks != len(all) || r.Fetched != 0 {
		t.Fatalf("fetch of a DAG held here: %+v", r)
	}
	if got := testutil.ToFloat64(n.metrics.dagBlocks); got != float64(len(all)) {
		t.Fatalf("icn_dag_fetch_dag_blocks_total = %v, want %d", got, len(all))
	}
	eventually(t, "no DAG fetch in flight", func() bool { return testutil.ToFloat64(n.metrics.dagFetches) == 0 })
}
