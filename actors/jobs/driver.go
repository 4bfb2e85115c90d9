package jobs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/intercooperative-network/icn-go/actors/executors"
	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// driver moves one job through its states, on its own goroutine. It alone
// writes the job's ref while it runs, and every transition is in the dag
// (record block and ref, by compare-and-swap) before it is acted on or
// reported. Money moves only after a final state is recorded and is
// idempotent (a release of a reservation already closed is a no-op), so
// a job ends, and its escrow is released, exactly once however often the
// manager restarts.
type driver struct {
	m    *manager
	life context.Context // ends when the manager stops
	run  context.Context // ends with life, or with errCancelRequested

	id        string
	spec      messages.JobSpec
	specBlock block.Block // a new submission's spec, not yet stored
	submitter *actor.PID  // waits for the job to be escrowed

	rec     record
	head    cid.Cid // the block the ref points at (cid.Undef: no ref yet)
	receipt *messages.JobReceipt

	// The bidding, kept in memory only: a restarted job bids again.
	bids     []bid           // the bids not yet tried, best first
	lost     map[string]bool // executors that failed the job
	bidSince time.Time       // when the job first looked for an executor
}

// errRefused: the job was refused at submit and its ref removed.
var errRefused = errors.New("jobs: refused at submit")

func (d *driver) drive() {
	backoff := 10 * time.Millisecond
	for d.life.Err() == nil {
		if messages.JobFinal(d.rec.State) && d.rec.Settled {
			break
		}
		err := d.step()
		if errors.Is(err, errRefused) {
			return
		}
		if err != nil {
			if d.life.Err() != nil {
				break
			}
			d.m.log.Warn("jobs: a step failed; retrying", "job", d.id, "state", d.rec.State, "err", err, "in", backoff)
			if !sleep(d.life, backoff) {
				break
			}
			backoff = min(2*backoff, maxBackoff)
			continue
		}
		backoff = 10 * time.Millisecond
		if d.submitter != nil && d.rec.State != "" && d.rec.State != messages.JobSubmitted {
			s := d.status()
			d.m.sys.Root.Send(d.submitter, &s)
			d.submitter = nil
		}
	}
	if d.submitter != nil {
		// The job may be recorded already: the next incarnation resumes
		// it, and a resubmission of the same spec finds it.
		d.m.sys.Root.Send(d.submitter, &supervisors.UnavailableError{Path: Name, State: "restarting", RetryAfter: time.Second})
	}
	d.m.sys.Root.Send(d.m.self, &updated{owner: d.m, status: d.status(), done: true})
}

func (d *driver) status() messages.JobStatus {
	if d.rec.State == "" {
		return messages.JobStatus{ID: d.id, Spec: d.spec}
	}
	return d.rec.status(d.id, d.spec, d.receipt)
}

// step takes the job one state further.
func (d *driver) step() error {
	now := d.m.Clock.Now()
	switch {
	case d.rec.State == "":
		return d.persist(record{Spec: block.LinkTo(d.specBlock.CID())}.to(messages.JobSubmitted, now), d.specBlock)
	case messages.JobFinal(d.rec.State):
		return d.settle()
	case context.Cause(d.run) == errCancelRequested:
		return d.finish(messages.JobCancelled, messages.ReasonCancelled)
	}
	switch d.rec.State {
	case messages.JobSubmitted:
		return d.escrow()
	case messages.JobEscrowed:
		// Recorded before the announcement goes out.
		return d.persist(d.rec.to(messages.JobAnnounced, now))
	case messages.JobAnnounced, messages.JobBidding:
		// A lone node hears no other bid than its own, which wins.
		return d.bid()
	case messages.JobAssigned:
		return d.persist(d.rec.to(messages.JobRunning, now))
	case messages.JobRunning:
		if d.rec.Executor == d.self() {
			return d.execute()
		}
		return d.executeRemote()
	}
	return fmt.Errorf("jobs: %s is in unknown state %q", d.id, d.rec.State)
}

func (d *driver) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(d.life, callTimeout)
}

// persist puts blocks and next, moving the job's ref from the record it
// holds to next. A conflict means an earlier incarnation's put landed
// late: the driver reloads the record and goes on from it.
func (d *driver) persist(next record, blocks ...block.Block) error {
	b, err := block.Encode(next)
	if err != nil {
		return err
	}
	ctx, cancel := d.ctx()
	defer cancel()
	_, err = supervisors.Ask[*messages.PutBlocksReply](ctx, d.m.tree, dagName, &messages.PutBlocks{
		Blocks: append(blocks, b),
		Refs:   []messages.RefUpdate{{Name: jobRef(d.id), Old: d.head, New: b.CID()}},
	})
	if errors.Is(err, messages.ErrRefConflict) {
		return d.reload(ctx)
	}
	if err != nil {
		return err
	}
	var since time.Duration
	if n := len(d.rec.History); n > 0 {
		since = d.m.Clock.Now().Sub(time.UnixMilli(d.rec.History[n-1].Time))
	}
	d.m.Metrics.transition(d.rec.State, next.State, since, next.Reason)
	d.rec, d.head = next, b.CID()
	d.m.sys.Root.Send(d.m.self, &updated{owner: d.m, status: d.status()})
	return nil
}

func (d *driver) reload(ctx context.Context) error {
	ref, err := supervisors.Ask[*messages.Ref](ctx, d.m.tree, dagName, &messages.GetRef{Name: jobRef(d.id)})
	if errors.Is(err, messages.ErrRefNotFound) {
		d.rec, d.head = record{}, cid.Undef
		return nil
	}
	if err != nil {
		return err
	}
	rec, receipt, err := d.m.readRecord(ctx, ref.CID)
	if err != nil {
		return err
	}
	d.rec, d.head, d.receipt = rec, ref.CID, receipt
	return nil
}

// escrow reserves the job's max_mana on the node's account.
func (d *driver) escrow() error {
	ctx, cancel := d.ctx()
	defer cancel()
	_, err := supervisors.Ask[*messages.EntryReply](ctx, d.m.tree, ledgerName,
		&messages.Reserve{Account: d.m.Identity.DID().String(), Ref: d.id, Amount: d.spec.MaxMana})
	switch {
	case err == nil, errors.Is(err, messages.ErrDuplicateReservation):
		// Duplicate: an earlier incarnation reserved and stopped before it
		// recorded escrowed.
		return d.persist(d.rec.to(messages.JobEscrowed, d.m.Clock.Now()))
	case errors.Is(err, messages.ErrInsufficientMana) && d.submitter != nil:
		// Refused at submit: the job leaves nothing behind.
		if derr := d.drop(ctx); derr != nil {
			return derr
		}
		d.m.sys.Root.Send(d.submitter, err)
		d.submitter = nil
		d.m.sys.Root.Send(d.m.self, &updated{owner: d.m, status: messages.JobStatus{ID: d.id}, drop: true, done: true})
		return errRefused
	case errors.Is(err, messages.ErrInsufficientMana):
		// A resumed job whose mana went elsewhere meanwhile.
		return d.finish(messages.JobFailed, messages.ReasonInsufficientMana+": "+err.Error())
	}
	return err
}

// drop deletes the job's ref (its blocks are then garbage).
func (d *driver) drop(ctx context.Context) error {
	_, err := supervisors.Ask[*messages.PutBlocksReply](ctx, d.m.tree, dagName, &messages.PutBlocks{
		Refs: []messages.RefUpdate{{Name: jobRef(d.id), Old: d.head, New: cid.Undef}},
	})
	return err
}

func (d *driver) finish(state, reason string) error {
	next := d.rec.to(state, d.m.Clock.Now())
	next.Reason = reason
	return d.persist(next)
}

// execute runs the job on the executor pool, waiting for a free worker
// until the assignment deadline.
func (d *driver) execute() error {
	deadline := time.Now().Add(d.m.Config.AssignTimeout)
	backoff := 10 * time.Millisecond
	lost := 0
	timeout := time.Duration(d.spec.Limits.TimeoutMS) * time.Millisecond
	if timeout == 0 {
		timeout = defaultRunMS * time.Millisecond
	}
	for {
		freed := d.m.freed.wait()
		ctx, cancel := context.WithTimeout(d.run, timeout+runMargin)
		r, err := supervisors.Ask[*messages.JobReceipt](ctx, d.m.tree, executorsName, &messages.RunJob{
			JobID: d.id, Module: d.spec.Module, Input: d.spec.Input, InputCID: d.spec.InputCID,
			Args: d.spec.Args, Env: d.spec.Env, Limits: d.spec.Limits,
		})
		cancel()
		busy := errors.Is(err, messages.ErrNoCapacity)
		if !busy {
			d.m.freed.fire() // this run is over, whatever its outcome
		}
		var failure *messages.JobFailure
		var unavailable *supervisors.UnavailableError
		switch {
		case err == nil:
			return d.receive(r.CID)
		case d.run.Err() != nil:
			return nil // cancelled (the next step records it) or stopping
		case errors.As(err, &failure) && failure.Reason == messages.ReasonExecutorLost && lost < maxLost:
			// The worker died under the job (killed, panicked): run it
			// again, on another worker.
			lost++
			d.m.log.Warn("jobs: the executor lost the job; running it again", "job", d.id, "attempt", lost+1, "err", err)
		case errors.As(err, &failure):
			reason := failure.Reason
			if failure.Detail != "" {
				reason += ": " + failure.Detail
			}
			return d.finish(messages.JobFailed, reason)
		case errors.Is(err, messages.ErrInvalidJob):
			return d.finish(messages.JobFailed, messages.ReasonInvalidModule+": "+err.Error())
		case errors.Is(err, context.DeadlineExceeded):
			return d.finish(messages.JobFailed, messages.ReasonExecutorLost+": no receipt in time")
		case errors.Is(err, messages.ErrNoCapacity) || errors.As(err, &unavailable):
			if time.Now().After(deadline) {
				return d.finish(messages.JobFailed, messages.ReasonNoBids+": no free worker within "+d.m.Config.AssignTimeout.String())
			}
		default:
			if time.Now().After(deadline) {
				return d.finish(messages.JobFailed, messages.ReasonExecutorLost+": "+err.Error())
			}
			d.m.log.Warn("jobs: the executor failed; retrying", "job", d.id, "err", err)
		}
		if busy {
			// Woken when a run ends; the timer is the backstop (a worker
			// freed by a remote job's run or a restart).
			if !sleepOrFreed(d.run, backoff, freed) {
				return nil
			}
		} else if !sleep(d.run, backoff) {
			return nil
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

// receive checks a receipt (signature, job, executor, output present) and
// records the job's end. A remote executor's receipt and output are
// fetched from its node; one that does not verify (or cannot be fetched)
// is the executor failing the job, which goes to the next bid.
func (d *driver) receive(receipt cid.Cid) error {
	ctx, cancel := d.ctx()
	defer cancel()
	remote := d.rec.Executor != d.self()
	rb, err := supervisors.Ask[*messages.GetBlockReply](ctx, d.m.tree, dagName, &messages.GetBlock{CID: receipt, Fetch: remote})
	if err != nil {
		if remote && d.life.Err() == nil {
			return d.reassign("receipt " + receipt.String() + ": " + err.Error())
		}
		return err
	}
	verified, err := d.verify(ctx, rb.Block)
	if err != nil && remote && d.life.Err() == nil {
		return d.reassign(messages.ReasonVerificationMismatch + ": " + err.Error())
	}
	if err != nil {
		return d.finish(messages.JobFailed, messages.ReasonVerificationMismatch+": "+err.Error())
	}
	next := d.rec.to(messages.JobCompleted, d.m.Clock.Now())
	if verified.ExitCode != 0 {
		next = d.rec.to(messages.JobFailed, d.m.Clock.Now())
		next.Reason = fmt.Sprintf("%s: %d", messages.ReasonExitCode, verified.ExitCode)
	}
	l := block.LinkTo(rb.Block.CID())
	next.Receipt = &l
	prev := d.receipt
	d.receipt = verified // reported with the record persist sends
	if err := d.persist(next); err != nil {
		d.receipt = prev
		return err
	}
	return nil
}

func (d *driver) verify(ctx context.Context, b block.Block) (*messages.JobReceipt, error) {
	if err := executors.VerifyReceipt(b); err != nil {
		return nil, err
	}
	r, err := executors.DecodeReceipt(b)
	if err != nil {
		return nil, err
	}
	switch {
	case r.JobID != d.id:
		return nil, fmt.Errorf("the receipt is for job %s", r.JobID)
	case r.Executor != d.rec.Executor:
		return nil, fmt.Errorf("the receipt is signed by %s, not the assigned %s", r.Executor, d.rec.Executor)
	case !r.Module.Equals(d.spec.Module):
		return nil, fmt.Errorf("the receipt ran module %s", r.Module)
	}
	// The output must be here (the dag checks it against its CID).
	if _, err := supervisors.Ask[*messages.GetBlockReply](ctx, d.m.tree, dagName, &messages.GetBlock{CID: r.Output, Fetch: true}); err != nil {
		return nil, fmt.Errorf("output %s: %w", r.Output, err)
	}
	return r, nil
}

// settle pays a remote executor that sent a verified receipt its price
// from the escrow and releases the rest, or releases the whole escrow (the
// job ran here, and the ledger refuses a settle to the account itself, or
// it produced no receipt); then it records the executor's outcome, and
// that it did.
func (d *driver) settle() error {
	ctx, cancel := d.ctx()
	defer cancel()
	var op any = &messages.Release{Account: d.self(), Ref: d.id}
	if d.rec.Executor != "" && d.rec.Executor != d.self() && d.rec.Receipt != nil && d.rec.Price > 0 {
		op = &messages.Settle{Account: d.self(), Ref: d.id, Pay: d.rec.Price, To: d.rec.Executor}
	}
	paid, err := supervisors.Ask[*messages.EntryReply](ctx, d.m.tree, ledgerName, op)
	if err != nil && !errors.Is(err, messages.ErrUnknownReservation) {
		return err // an unknown reservation was released already (or never taken)
	}
	if success, judged := d.outcome(); judged {
		var took time.Duration
		if d.receipt != nil {
			took = time.Duration(d.receipt.WallMS) * time.Millisecond
		}
		// Once per job: after a restart the ledger refuses a second record,
		// which is what we want.
		if _, err := d.m.tree.Request(ctx, ledgerName, &messages.RecordOutcome{
			Executor: d.rec.Executor, Job: d.id, Success: success, Duration: took,
		}); err != nil {
			d.m.log.Debug("jobs: reputation not recorded", "job", d.id, "err", err)
		}
	}
	next := d.rec
	next.Settled = true
	if err := d.persist(next); err != nil {
		return err
	}
	if _, isSettle := op.(*messages.Settle); isSettle && paid != nil && d.rec.ExecutorPeer != "" {
		d.m.drivers.Go(func() { d.m.notifyPaid(d.life, d.id, d.rec.ExecutorPeer, paid.Entry.CID) })
	}
	return nil
}

// outcome judges the executor (not the job): a verified receipt is a
// success whatever the module's exit code; a receipt that does not verify,
// or no receipt from an executor that had the job, is a failure. Limits the
// module itself broke (timeout, fuel, memory...) and jobs that never
// reached an executor say nothing about it.
func (d *driver) outcome() (success, judged bool) {
	switch {
	case d.rec.Executor == "":
		return false, false
	case d.rec.Receipt != nil:
		return true, true
	case strings.HasPrefix(d.rec.Reason, messages.ReasonVerificationMismatch), strings.HasPrefix(d.rec.Reason, messages.ReasonExecutorLost):
		return false, true
	}
	return false, false
}
