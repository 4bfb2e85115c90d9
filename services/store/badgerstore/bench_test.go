package badgerstore

import (
	"bytes"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/dgraph-io/badger/v4"

	"github.com/intercooperative-network/icn-go/services/store"
)

// BenchmarkDurableCommit compares durable 1 KiB single-key commits through
// the store's group commit with raw badger single-key transactions on the
// same options (SyncWrites=true), from 1 and 16 goroutines. The ops/s
// metric is commits acknowledged per second, across all goroutines.
func BenchmarkDurableCommit(b *testing.B) {
	value := bytes.Repeat([]byte{'v'}, 1024)
	key := func(i int64) []byte { return fmt.Appendf(nil, "bench/%012d", i) }
	for _, goroutines := range []int{1, 16} {
		b.Run(fmt.Sprintf("impl=store/goroutines=%d", goroutines), func(b *testing.B) {
			s, err := Open(b.TempDir(), nil)
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				if err := s.Close(); err != nil {
					b.Error(err)
				}
			}()
			ctx := b.Context()
			runCommits(b, goroutines, func(i int64) error {
				var batch store.Batch
				batch.Put(key(i), value)
				return s.Commit(ctx, &batch)
			})
			b.ReportMetric(float64(s.groups.Load())/float64(b.N), "groups/op")
		})
		b.Run(fmt.Sprintf("impl=badger-txn/goroutines=%d", goroutines), func(b *testing.B) {
			db, err := badger.Open(badgerOptions(b.TempDir(), slog.New(slog.DiscardHandler), defaultConfig(), new(atomic.Uint64)))
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				if err := db.Close(); err != nil {
					b.Error(err)
				}
			}()
			runCommits(b, goroutines, func(i int64) error {
				return db.Update(func(txn *badger.Txn) error { return txn.Set(key(i), value) })
			})
		})
	}
}

// runCommits calls commit b.N times in total from the given number of
// goroutines and reports ops/s.
func runCommits(b *testing.B, goroutines int, commit func(i int64) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	for range goroutines {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				if err := commit(i); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
