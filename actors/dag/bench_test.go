package dag

import (
	"context"
	crand "crypto/rand"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/store"
	"github.com/intercooperative-network/icn-go/services/store/badgerstore"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// The DAG benchmarks put each operation through the dag actor (name
// lookup, supervision, durable group commit, hash verification on read)
// next to raw badger doing the same durable write or read in the same run.

const writers = 16

var sizes = []struct {
	name string
	n    int
}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = crand.Read(b)
	return b
}

// rawBadger opens badger with the durability and value threshold the
// store uses.
func rawBadger(b *testing.B) *badger.DB {
	b.Helper()
	db, err := badger.Open(badger.DefaultOptions(b.TempDir()).WithSyncWrites(true).
		WithValueThreshold(store.LargeValue).WithLogger(nil).WithDetectConflicts(false).WithMetricsEnabled(false))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = db.Close() })
	return db
}

// defaultCache is the production default of dag.cache_mb.
const defaultCache = 64 << 20

func dagTree(b *testing.B) *supervisors.Tree {
	b.Helper()
	return dagTreeWith(b, Config{MaxBlockSize: 1 << 20, GCGrace: time.Hour, CacheBytes: defaultCache})
}

func dagTreeWith(b *testing.B, cfg Config) *supervisors.Tree {
	b.Helper()
	s, err := badgerstore.Open(b.TempDir(), nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	n := start(b, s, cfg)
	return n.tree
}

// parallel runs op from `writers` goroutines until b.N ops are done and
// reports ops/s and the latency percentiles.
func parallel(b *testing.B, op func(i int64) error) {
	b.Helper()
	var next atomic.Int64
	lat := make([][]time.Duration, writers)
	var wg sync.WaitGroup
	b.ResetTimer()
	began := time.Now()
	for w := range writers {
		wg.Go(func() {
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				t := time.Now()
				if err := op(i); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(began)
	b.StopTimer()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "ops/s")
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
}

func BenchmarkPut(b *testing.B) {
	for _, sz := range sizes {
		b.Run(sz.name+"/raw-badger", func(b *testing.B) {
			db := rawBadger(b)
			vals := make([][]byte, 256)
			for i := range vals {
				vals[i] = randomBytes(sz.n)
			}
			parallel(b, func(i int64) error {
				return db.Update(func(txn *badger.Txn) error {
					return txn.Set(fmt.Appendf(nil, "k%012d", i), vals[i%256])
				})
			})
		})
		b.Run(sz.name+"/dag-actor", func(b *testing.B) {
			tree := dagTree(b)
			seed := randomBytes(sz.n)
			ctx := context.Background()
			parallel(b, func(i int64) error {
				data := slices.Clone(seed)
				copy(data, fmt.Appendf(nil, "%012d", i)) // every block distinct
				blk, err := block.NewRaw(data)
				if err != nil {
					return err
				}
				_, err = tree.Request(ctx, Name, &messages.PutBlocks{Blocks: []block.Block{blk}})
				return err
			})
		})
	}
}

func BenchmarkGet(b *testing.B) {
	const stored = 2000
	for _, sz := range sizes {
		b.Run(sz.name+"/raw-badger", func(b *testing.B) {
			db := rawBadger(b)
			wb := db.NewWriteBatch()
			for i := range stored {
				if err := wb.Set(fmt.Appendf(nil, "k%012d", i), randomBytes(sz.n)); err != nil {
					b.Fatal(err)
				}
			}
			if err := wb.Flush(); err != nil {
				b.Fatal(err)
			}
			parallel(b, func(i int64) error {
				return db.View(func(txn *badger.Txn) error {
					it, err := txn.Get(fmt.Appendf(nil, "k%012d", rand.IntN(stored)))
					if err != nil {
						return err
					}
					_, err = it.ValueCopy(nil)
					return err
				})
			})
		})
		for _, cache := range []struct {
			name  string
			bytes int64
		}{{"dag-actor", defaultCache}, {"dag-actor-uncached", 0}, {"dag-actor-cache256", 256 << 20}} {
			b.Run(sz.name+"/"+cache.name, func(b *testing.B) {
				getThroughTheActor(b, dagTreeWith(b, Config{MaxBlockSize: 1 << 20, GCGrace: time.Hour, CacheBytes: cache.bytes}), sz.n)
			})
		}
	}
}

// getThroughTheActor stores 2000 blocks of n bytes and reads them back at
// random, from `writers` goroutines.
func getThroughTheActor(b *testing.B, tree *supervisors.Tree, n int) {
	const stored = 2000
	ctx := context.Background()
	cids := make([]cid.Cid, stored)
	batch := make([]block.Block, 0, 100)
	for i := range stored {
		blk, _ := block.NewRaw(randomBytes(n))
		cids[i] = blk.CID()
		if batch = append(batch, blk); len(batch) == cap(batch) {
			if _, err := tree.Request(ctx, Name, &messages.PutBlocks{Blocks: batch}); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	parallel(b, func(int64) error {
		want := cids[rand.IntN(stored)]
		r, err := supervisors.Ask[*messages.GetBlockReply](ctx, tree, Name, &messages.GetBlock{CID: want})
		if err == nil && !r.Block.CID().Equals(want) {
			err = fmt.Errorf("asked for %s, got %s", want, r.Block.CID())
		}
		return err
	})
}
