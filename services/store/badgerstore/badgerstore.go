package badgerstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"

	"github.com/intercooperative-network/icn-go/services/store"
)

// Store is a store.Store on badger v4 with group commit. Open it with Open;
// it is safe for concurrent use.
type Store struct {
	db     *badger.DB
	logger *slog.Logger
	cfg    config

	// Per-transaction budget used to pack batches into transactions,
	// below badger's own limits (DB.MaxBatchSize, DB.MaxBatchCount).
	txnBytes, txnOps int64
	txnTotal         int64 // bytes of keys and values in one transaction, large values included

	mu       sync.Mutex
	closed   bool
	queue    []*request     // submitted, not yet taken by the committer
	inflight sync.WaitGroup // calls that entered before Close

	wake chan struct{} // capacity 1: "the queue may be non-empty"
	stop chan struct{} // closed by Close once no call is in flight
	done chan struct{} // closed by the committer when it exits

	closeOnce sync.Once
	closeErr  error

	groups atomic.Int64 // groups committed (tests, later metrics)
	txns   atomic.Int64 // badger transactions committed

	// syncFailures counts value-log syncs badger reported as failed: after
	// one, nothing is acknowledged any more (ErrSyncFailed).
	syncFailures *atomic.Uint64
}

// ErrSyncFailed: badger could not sync its value log. Data acknowledged
// before may not be on disk; every later Commit fails until the node is
// restarted (badger replays its logs on open).
var ErrSyncFailed = errors.New("badgerstore: value log sync failed: the store refuses further writes; restart the node")

var _ store.Store = (*Store)(nil)

// perOpOverhead is what badger's Txn.checkSize adds to len(key)+len(value)
// for each entry: 2 bytes of meta and 10 of version (txn.go; for values at
// or above the value threshold it counts less, so this is an upper bound).
const perOpOverhead = 12

// txnSlackBytes keeps packed transactions clear of badger's limit, which
// DB.sendToWriteCh checks again with the transaction's commit marker added.
const txnSlackBytes = 4 << 10

// maxTxnTotal bounds the bytes, large values included, of one group
// transaction: four of the largest batches.
const maxTxnTotal = 4 * store.MaxBatchTotal

// Open opens (creating if needed) the badger database in dir and starts its
// committer. logger receives badger's own logging and the store's; nil
// discards it. Close the store to stop the committer and close badger.
func Open(dir string, logger *slog.Logger, opts ...Option) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	syncFailures := new(atomic.Uint64)
	db, err := badger.Open(badgerOptions(dir, logger, cfg, syncFailures))
	if err != nil {
		return nil, fmt.Errorf("badgerstore: open %s: %w", dir, err)
	}
	s := &Store{
		syncFailures: syncFailures,
		db:           db,
		logger:       logger,
		cfg:          cfg,
		txnBytes:     db.MaxBatchSize() - txnSlackBytes,
		txnOps:       db.MaxBatchCount() - 2, // room for the commit marker
		txnTotal:     maxTxnTotal,
		wake:         make(chan struct{}, 1),
		stop:         make(chan struct{}),
		done:         make(chan struct{}),
	}
	// Every valid batch must fit in one transaction, or it could not be
	// committed atomically.
	if maxEst := int64(store.MaxBatchBytes + perOpOverhead*store.MaxBatchOps); maxEst > s.txnBytes || store.MaxBatchOps > s.txnOps {
		err := fmt.Errorf("badgerstore: memtable size %d too small: a transaction holds %d bytes and %d ops, a batch may need %d bytes and %d ops",
			cfg.memTableSize, s.txnBytes, s.txnOps, maxEst, store.MaxBatchOps)
		return nil, errors.Join(err, db.Close())
	}
	go s.run()
	return s, nil
}

// enter registers a call so that Close waits for it; it reports false once
// the store is closed.
func (s *Store) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.inflight.Add(1)
	return true
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key []byte) ([]byte, error) {
	if !s.enter() {
		return nil, store.ErrClosed
	}
	defer s.inflight.Done()
	if err := checkRead(ctx, key); err != nil {
		return nil, err
	}
	var v []byte
	err := s.db.View(func(txn *badger.Txn) error {
		item, err := txn.Get(key)
		if err != nil {
			return err
		}
		v, err = item.ValueCopy(nil)
		return err
	})
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return nil, store.ErrNotFound
	case err != nil:
		return nil, fmt.Errorf("badgerstore: get: %w", err)
	case v == nil:
		v = []byte{} // an empty value reads back non-nil, as from memstore
	}
	return v, nil
}

// Has implements store.Store.
func (s *Store) Has(ctx context.Context, key []byte) (bool, error) {
	if !s.enter() {
		return false, store.ErrClosed
	}
	defer s.inflight.Done()
	if err := checkRead(ctx, key); err != nil {
		return false, err
	}
	err := s.db.View(func(txn *badger.Txn) error {
		_, err := txn.Get(key)
		return err
	})
	switch {
	case errors.Is(err, badger.ErrKeyNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("badgerstore: has: %w", err)
	}
	return true, nil
}

func checkRead(ctx context.Context, key []byte) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return store.ValidateKey(key)
}

// Scan implements store.Store. It runs in one read-only badger transaction,
// which is what gives it a snapshot. Values are not prefetched: they are
// read, in place, during fn.
func (s *Store) Scan(ctx context.Context, prefix, start []byte, fn func(key, value []byte) error) error {
	if !s.enter() {
		return store.ErrClosed
	}
	defer s.inflight.Done()
	if err := ctx.Err(); err != nil {
		return err
	}
	seek := prefix
	if bytes.Compare(start, prefix) > 0 {
		seek = start
	}
	var fnErr error // fn's error, returned unchanged
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix})
		defer it.Close()
		for it.Seek(seek); it.ValidForPrefix(prefix); it.Next() {
			if err := ctx.Err(); err != nil {
				fnErr = err
				return err
			}
			item := it.Item()
			if err := item.Value(func(v []byte) error {
				fnErr = fn(item.Key(), v)
				return fnErr
			}); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case fnErr != nil:
		return fnErr
	case err != nil:
		return fmt.Errorf("badgerstore: scan: %w", err)
	}
	return nil
}

// Close implements store.Store: it waits for in-flight calls (so every
// commit already submitted is written), stops the committer, then closes
// badger. A second call returns nil at once.
func (s *Store) Close() error {
	first := false
	s.closeOnce.Do(func() {
		first = true
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.inflight.Wait()
		close(s.stop)
		<-s.done
		if err := s.db.Close(); err != nil {
			s.closeErr = fmt.Errorf("badgerstore: close: %w", err)
		}
	})
	if !first {
		return nil
	}
	return s.closeErr
}
