package badgerstore

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"

	"github.com/intercooperative-network/icn-go/services/store"
)

// Request states. A request moves from pending to taken (by the committer)
// or to cancelled (by its caller), never both: the compare-and-swap that
// wins decides whether the batch is written.
const (
	pending int32 = iota
	taken
	cancelled
)

type request struct {
	batch *store.Batch
	est   int64 // badger's size estimate for the batch, an upper bound
	ops   int64
	total int64 // every key and value byte, large values included
	state atomic.Int32
	done  chan error // buffered: the committer never blocks on a caller
}

// Commit implements store.Store. It queues the batch for the committer and
// waits for the group it lands in to be written and synced.
func (s *Store) Commit(ctx context.Context, b *store.Batch) error {
	if !s.enter() {
		return store.ErrClosed
	}
	defer s.inflight.Done()
	if err := b.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if b.Len() == 0 {
		return nil
	}
	r := &request{
		batch: b,
		est:   int64(b.Size() + perOpOverhead*b.Len()),
		ops:   int64(b.Len()),
		total: int64(b.Total()),
		done:  make(chan error, 1),
	}
	s.mu.Lock()
	s.queue = append(s.queue, r)
	s.mu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default: // a wake-up is already pending
	}

	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(pending, cancelled) {
			return ctx.Err() // the committer will skip it: nothing written
		}
		return <-r.done // already taken: report what really happened
	}
}

// run is the committer goroutine. Each turn it takes every request queued
// at that moment, writes them as one group and releases their callers.
func (s *Store) run() {
	defer close(s.done)
	var spare []*request
	for {
		select {
		case <-s.wake:
		case <-s.stop:
			return
		}
		for {
			// Swap the queue with the spare buffer. The two never alias:
			// the spare is handed over (and forgotten) only when the queue
			// is taken.
			s.mu.Lock()
			reqs := s.queue
			if len(reqs) > 0 {
				s.queue, spare = spare, nil
			}
			s.mu.Unlock()
			if len(reqs) == 0 {
				break
			}
			group := reqs[:0]
			for _, r := range reqs {
				if r.state.CompareAndSwap(pending, taken) {
					group = append(group, r)
				}
			}
			if len(group) > 0 {
				if s.cfg.beforeGroup != nil {
					s.cfg.beforeGroup(len(group))
				}
				s.groups.Add(1) // before any caller is released
				s.commitGroup(group)
			}
			clear(reqs) // drop references to the batches
			spare = reqs[:0]
		}
	}
}

// commitGroup writes a group of batches. Normally that is one badger
// transaction, hence one write request and one sync. A group too big for
// one transaction is cut between batches, never inside one, into several
// transactions committed one after the other; each is atomic on its own.
// Besides badger's own limits (which count a large value as a pointer), a
// transaction carries at most txnTotal bytes in all, so one write to the
// value log stays far below its 4 GiB offsets and a burst of large puts is
// written (and its memory released) in steps.
func (s *Store) commitGroup(group []*request) {
	first := 0
	var size, ops, total int64
	for i, r := range group {
		if i > first && (size+r.est > s.txnBytes || ops+r.ops > s.txnOps || total+r.total > s.txnTotal) {
			s.commitTxns(group[first:i])
			first, size, ops, total = i, 0, 0, 0
		}
		size += r.est
		ops += r.ops
		total += r.total
	}
	s.commitTxns(group[first:])
}

// commitTxns commits reqs in one transaction and reports the outcome to
// each caller. Should badger still find the transaction too big (our
// estimate is meant to be an upper bound of its own), it is split in two
// and retried; a single batch always fits (checked by Open).
func (s *Store) commitTxns(reqs []*request) {
	err := s.commitTxn(reqs)
	if errors.Is(err, badger.ErrTxnTooBig) && len(reqs) > 1 {
		s.logger.Warn("badgerstore: group transaction too big, splitting", "batches", len(reqs))
		mid := len(reqs) / 2
		s.commitTxns(reqs[:mid])
		s.commitTxns(reqs[mid:])
		return
	}
	if err != nil {
		s.logger.Error("badgerstore: commit failed", "batches", len(reqs), "err", err)
	}
	for _, r := range reqs {
		r.done <- err
	}
}

// commitTxn writes the batches of reqs in one badger transaction. With
// SyncWrites on, Txn.Commit returns once the write request is in the value
// log and the memtable WAL and both are synced.
func (s *Store) commitTxn(reqs []*request) error {
	txn := s.db.NewTransaction(true)
	defer txn.Discard() // after a successful Commit, a no-op
	for _, r := range reqs {
		for op := range r.batch.Ops() {
			var err error
			if op.Delete {
				err = txn.Delete(op.Key)
			} else {
				err = txn.Set(op.Key, op.Value)
			}
			if err != nil {
				return fmt.Errorf("badgerstore: commit: %w", err)
			}
		}
	}
	if s.syncFailures.Load() > 0 {
		return ErrSyncFailed
	}
	if err := txn.Commit(); err != nil {
		return fmt.Errorf("badgerstore: commit: %w", err)
	}
	if s.syncFailures.Load() > 0 {
		return ErrSyncFailed // badger logged instead of returning it
	}
	s.txns.Add(1)
	return nil
}
