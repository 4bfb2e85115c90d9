package ledger

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/store"
)

// Reputation is this node's record of the executors it has used: job
// outcomes, kept in the store (it is local judgement, not a signed chain).
//
//	ledger/rep/<did>  jobs, successes, failures, total duration
//	ledger/out/<job>  the executor an outcome was recorded for (once per job)

// record is an executor's reputation.
type record struct {
	successes, failures uint64
	total               time.Duration
}

const recordVersion = 1

func (r record) encode() []byte {
	b := []byte{recordVersion}
	b = binary.AppendUvarint(b, r.successes)
	b = binary.AppendUvarint(b, r.failures)
	return binary.AppendUvarint(b, uint64(r.total))
}

var errBadRecord = errors.New("ledger: malformed reputation record")

func decodeRecord(b []byte) (record, error) {
	if len(b) < 4 || b[0] != recordVersion {
		return record{}, errBadRecord
	}
	var r record
	rest := b[1:]
	for _, dst := range []*uint64{&r.successes, &r.failures, (*uint64)(nil)} {
		v, n := binary.Uvarint(rest)
		if n <= 0 {
			return record{}, errBadRecord
		}
		rest = rest[n:]
		if dst != nil {
			*dst = v
		} else {
			r.total = time.Duration(v)
		}
	}
	if len(rest) != 0 {
		return record{}, errBadRecord
	}
	return r, nil
}

func (r record) info(did string) *messages.ReputationInfo {
	jobs := r.successes + r.failures
	out := &messages.ReputationInfo{DID: did, Jobs: jobs, Successes: r.successes, Failures: r.failures,
		Score: (100*(r.successes+1) + (jobs+2)/2) / (jobs + 2)}
	if jobs > 0 {
		out.MeanDuration = r.total / time.Duration(jobs)
	}
	return out
}

func repKey(did string) []byte     { return []byte("ledger/rep/" + did) }
func outcomeKey(job string) []byte { return []byte("ledger/out/" + job) }

// recordOf returns an executor's record, from memory or the store.
func (a *Actor) recordOf(ctx context.Context, did string) (*record, error) {
	if r := a.reputation[did]; r != nil {
		return r, nil
	}
	v, err := a.Store.Get(ctx, repKey(did))
	r := &record{}
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return nil, fmt.Errorf("ledger: reputation of %s: %w", did, err)
	default:
		rec, err := decodeRecord(v)
		if err != nil {
			return nil, fmt.Errorf("ledger: reputation of %s: %w", did, err)
		}
		*r = rec
	}
	a.reputation[did] = r
	return r, nil
}

func (a *Actor) getReputation(did string) (*messages.ReputationInfo, error) {
	if _, _, err := identity.ParseDID(did); err != nil {
		return nil, fmt.Errorf("%w: %w", messages.ErrInvalidAccount, err)
	}
	r, err := a.recordOf(context.Background(), did)
	if err != nil {
		return nil, err
	}
	return r.info(did), nil
}

// recordOutcome records a job's outcome once; a second record of the same
// job changes nothing and answers the executor's record. It commits before
// it answers (a job outcome is rare next to ledger entries).
func (a *Actor) recordOutcome(m *messages.RecordOutcome) (*messages.ReputationInfo, error) {
	if _, _, err := identity.ParseDID(m.Executor); err != nil {
		return nil, fmt.Errorf("%w: %w", messages.ErrInvalidAccount, err)
	}
	if err := CheckReference(m.Job); err != nil {
		return nil, err
	}
	if m.Duration < 0 {
		return nil, fmt.Errorf("%w: negative duration %s", messages.ErrInvalidAmount, m.Duration)
	}
	ctx := context.Background()
	r, err := a.recordOf(ctx, m.Executor)
	if err != nil {
		return nil, err
	}
	switch _, err := a.Store.Get(ctx, outcomeKey(m.Job)); {
	case err == nil:
		return r.info(m.Executor), nil // already recorded
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("ledger: outcome of %s: %w", m.Job, err)
	}
	next := *r
	if m.Success {
		next.successes++
	} else {
		next.failures++
	}
	next.total += m.Duration
	var b store.Batch
	b.Put(outcomeKey(m.Job), []byte(m.Executor))
	b.Put(repKey(m.Executor), next.encode())
	if err := a.Store.Commit(ctx, &b); err != nil {
		return nil, fmt.Errorf("ledger: record the outcome of %s: %w", m.Job, err)
	}
	*r = next
	return r.info(m.Executor), nil
}
