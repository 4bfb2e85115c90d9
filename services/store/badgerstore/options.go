package badgerstore

import (
	"log/slog"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/options"

	"github.com/intercooperative-network/icn-go/services/store"
)

// Defaults sized for a daemon that may run several nodes in one test
// process (badger's own defaults are 5 × 64 MiB memtables and a 256 MiB
// block cache).
const (
	DefaultMemTableSize   = 16 << 20
	DefaultBlockCacheSize = 32 << 20
	DefaultIndexCacheSize = 16 << 20
	numMemtables          = 3
	valueLogFileSize      = 128 << 20
)

// Option changes how Open configures badger. Options are for code and
// tests; the defaults suit a daemon.
type Option func(*config)

type config struct {
	memTableSize   int64
	blockCacheSize int64
	indexCacheSize int64
	beforeGroup    func(n int) // test hook: called by the committer with each group's size
}

func defaultConfig() config {
	return config{
		memTableSize:   DefaultMemTableSize,
		blockCacheSize: DefaultBlockCacheSize,
		indexCacheSize: DefaultIndexCacheSize,
	}
}

// WithMemTableSize sets the size of each of the three memtables. Badger
// limits one transaction to 15% of it, and Open fails if that cannot hold
// a batch of store.MaxBatchOps operations and store.MaxBatchBytes bytes
// (so it must be at least about 15 MiB).
func WithMemTableSize(n int64) Option { return func(c *config) { c.memTableSize = n } }

// WithBlockCacheSize sets the size of the cache of decompressed table blocks.
func WithBlockCacheSize(n int64) Option { return func(c *config) { c.blockCacheSize = n } }

// WithIndexCacheSize sets the size of the cache of table indexes and bloom
// filters. Zero keeps every index in memory, unbounded.
func WithIndexCacheSize(n int64) Option { return func(c *config) { c.indexCacheSize = n } }

// badgerOptions is the one place badger is configured; the benchmarks use
// it too, so the baseline runs on the same tuning.
func badgerOptions(dir string, logger *slog.Logger, c config, syncFailures *atomic.Uint64) badger.Options {
	return badger.DefaultOptions(dir).
		// Durability: every write request syncs the memtable WAL and the
		// value log before it completes (see doc.go for why not DB.Sync).
		WithSyncWrites(true).
		// Values from store.LargeValue on go to the value log and weigh a
		// pointer in a transaction, as store.Batch.Size counts them.
		WithValueThreshold(store.LargeValue).
		WithLogger(newBadgerLogger(logger, syncFailures)).
		WithMemTableSize(c.memTableSize).
		WithNumMemtables(numMemtables).
		WithBlockCacheSize(c.blockCacheSize).
		WithIndexCacheSize(c.indexCacheSize).
		WithCompression(options.Snappy).
		WithValueLogFileSize(valueLogFileSize).
		// Two compactors is badger's minimum short of none.
		WithNumCompactors(2).
		// Every update transaction is a blind write: nothing to conflict on.
		WithDetectConflicts(false).
		// Badger's metrics go to the process-wide expvar registry.
		WithMetricsEnabled(false)
}
