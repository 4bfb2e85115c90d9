package jobs

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
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

	rec      record
	head     cid.Cid // the block the ref points at (cid.Undef: no ref yet)
	receipts jobReceipts

	// The bidding, kept in memory only: a restarted job bids again.
	bids     []bid     // the bids not yet tried, best first
	bidSince time.Time // when the job first looked for an executor
	box      chan bid  // the open bidding window (nil: closed)
	// silentRounds counts the bidding rounds that heard no bid at all:
	// after one, announcements also go to each peer directly.
	silentRounds int
	// seen are the bids received, one per bidder (JobStatus.Bids).
	seen []messages.JobBidSeen

	// graceUntil: a job resumed with an executor keeps asking it until then
	// (see resumeGrace). Set before the driver starts, then only read.
	graceUntil time.Time
	// poison is the reason to fail the job with, once it made the driver
	// panic too often (see drive).
	poison string
}

// errRefused: the job was refused at submit and its ref removed.
var errRefused = errors.New("jobs: refused at submit")

// A job whose driver panics is restarted the way a supervisor restarts an
// actor: after a pause, from its persisted record. One that panics
// maxPanics times within panicWindow is poison: its next step fails it
// (reason messages.ReasonPanicked) rather than retrying what panicked, and settles
// it, so its escrow is released.
const (
	maxPanics    = 3
	panicWindow  = time.Minute
	panicBackoff = 100 * time.Millisecond // doubled for each panic in the window
)

// jobPanic is a panic recovered in a driver's step, or in a run of it on
// another goroutine (runOn), handed back as the step's error.
type jobPanic struct {
	value any
	stack []byte
}

func (p *jobPanic) Error() string { return fmt.Sprintf("jobs: panic: %v", p.value) }

// recovered turns a panic into a *jobPanic in *err; deferred.
func recovered(err *error) {
	if v := recover(); v != nil {
		*err = &jobPanic{value: v, stack: debug.Stack()}
	}
}

// drive takes the job to a final, settled state, or until the manager
// stops, restarting it after each panic of a step.
func (d *driver) drive() {
	var panics []time.Time
	for {
		p, refused := d.steps()
		if refused {
			return // forgotten already: nothing to report
		}
		if p == nil {
			break
		}
		now := time.Now()
		panics = append(slices.DeleteFunc(panics, func(t time.Time) bool { return now.Sub(t) > panicWindow }), now)
		_ = d.m.panicked(d.id, "driver (state "+d.rec.State+")", p.value, p.stack) // logged and counted; the loop decides what follows
		if d.life.Err() != nil {
			break
		}
		if len(panics) >= maxPanics {
			if d.poison != "" {
				// It panics even failing or settling: the next incarnation
				// resumes it.
				d.m.log.Error("jobs: a poison job cannot be failed; left to the next restart of the manager", "job", d.id, "state", d.rec.State)
				break
			}
			d.poison = fmt.Sprintf("%s: the job manager panicked %d times within %s handling this job (last: %v)",
				messages.ReasonPanicked, len(panics), panicWindow, p.value)
		}
		if !d.restart(panicBackoff << (len(panics) - 1)) {
			break
		}
	}
	d.stopped()
}

// stopped reports a driver that ends (or gave up) to the manager.
func (d *driver) stopped() {
	d.closeBox()
	if d.submitter != nil {
		// The job may be recorded already: the next incarnation resumes
		// it, and a resubmission of the same spec finds it.
		d.m.sys.Root.Send(d.submitter, &supervisors.UnavailableError{Path: Name, State: "restarting", RetryAfter: time.Second})
		d.submitter = nil
	}
	d.m.sys.Root.Send(d.m.self, &updated{owner: d.m, status: d.status(), done: true})
}

// steps takes the job through its states until it is final and settled,
// the manager stops, the job is refused at submit (refused), or a step
// panics (p).
func (d *driver) steps() (p *jobPanic, refused bool) {
	backoff := 10 * time.Millisecond
	for d.life.Err() == nil {
		if messages.JobFinal(d.rec.State) && d.rec.Settled {
			break
		}
		err := d.safeStep()
		switch {
		case errors.Is(err, errRefused):
			return nil, true
		case errors.As(err, &p):
			return p, false
		case err != nil:
			if d.life.Err() != nil {
				return nil, false
			}
			d.m.log.Warn("jobs: a step failed; retrying", "job", d.id, "state", d.rec.State, "err", err, "in", backoff)
			if !sleep(d.life, backoff) {
				return nil, false
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
	return nil, false
}

func (d *driver) safeStep() (err error) {
	defer recovered(&err)
	return d.step()
}

// restart readies a driver whose step panicked to go on, after pause,
// from the job's persisted record: what it kept in memory (the bidding)
// may be what panicked. It reports false when the manager stops first.
func (d *driver) restart(pause time.Duration) bool {
	d.closeBox()
	d.bids, d.bidSince, d.silentRounds = nil, time.Time{}, 0
	if !sleep(d.life, min(pause, maxBackoff)) {
		return false
	}
	for {
		ctx, cancel := d.ctx()
		err := d.reload(ctx)
		cancel()
		if err == nil {
			d.m.sys.Root.Send(d.m.self, &updated{owner: d.m, status: d.status()})
			return true
		}
		d.m.log.Warn("jobs: cannot reload the job after a panic yet; retrying", "job", d.id, "err", err)
		if !sleep(d.life, maxBackoff) {
			return false
		}
	}
}

func (d *driver) status() messages.JobStatus {
	if d.rec.State == "" {
		return messages.JobStatus{ID: d.id, Spec: d.spec}
	}
	s := d.rec.status(d.id, d.spec, d.receipts.main, d.receipts.witnesses)
	s.Bids = slices.Clone(d.seen) // the manager reads it while the driver goes on
	return s
}

// step takes the job one state further.
func (d *driver) step() error {
	if d.poison != "" && !messages.JobFinal(d.rec.State) {
		return d.failPoison()
	}
	if h := d.m.testPanic; h != nil {
		h(d.rec.State, d.id)
	}
	now := d.m.Clock.Now()
	switch {
	case d.rec.State == "":
		if err := d.findBlocks(); err != nil {
			return err
		}
		return d.persist(record{Spec: block.LinkTo(d.specBlock.CID())}.to(messages.JobSubmitted, now), d.specBlock)
	case messages.JobFinal(d.rec.State):
		return d.settle()
	case context.Cause(d.run) == errCancelRequested:
		started := d.rec.State == messages.JobAssigned || d.rec.State == messages.JobRunning
		if err := d.finish(messages.JobCancelled, messages.ReasonCancelled); err != nil {
			return err
		}
		if started {
			d.stopRuns()
		}
		return nil
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
		if d.spec.Verify == 2 {
			return d.runVerified()
		}
		return d.conclude(d.runOn(d.rec.Executor, d.rec.ExecutorPeer))
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
	rec, receipts, err := d.m.readRecord(ctx, ref.CID)
	if err != nil {
		return err
	}
	d.rec, d.head, d.receipts = rec, ref.CID, receipts
	return nil
}

// escrow reserves the job's max_mana on the node's account (in one share
// per executor: see shares).
func (d *driver) escrow() error {
	ctx, cancel := d.ctx()
	defer cancel()
	var err error
	var reserved []share
	for _, s := range d.shares() {
		_, err = supervisors.Ask[*messages.EntryReply](ctx, d.m.tree, ledgerName,
			&messages.Reserve{Account: d.self(), Ref: s.ref, Amount: s.amount})
		if errors.Is(err, messages.ErrDuplicateReservation) {
			// An earlier incarnation reserved and stopped before it
			// recorded escrowed.
			err = nil
		}
		if err != nil {
			break
		}
		reserved = append(reserved, s)
	}
	switch {
	case err == nil:
		return d.persist(d.rec.to(messages.JobEscrowed, d.m.Clock.Now()))
	case errors.Is(err, messages.ErrInsufficientMana) && d.submitter != nil:
		// Refused at submit: the job leaves nothing behind.
		if rerr := d.release(ctx, reserved); rerr != nil {
			return rerr
		}
		if derr := d.drop(ctx); derr != nil {
			return derr
		}
		// Forget the job before answering, so a list sent after the
		// answer cannot see it.
		d.m.sys.Root.Send(d.m.self, &updated{owner: d.m, status: messages.JobStatus{ID: d.id}, drop: true, done: true})
		d.m.sys.Root.Send(d.submitter, err)
		d.submitter = nil
		return errRefused
	case errors.Is(err, messages.ErrInsufficientMana):
		// A resumed job whose mana went elsewhere meanwhile (settle
		// releases the shares it did reserve).
		return d.finish(messages.JobFailed, messages.ReasonInsufficientMana+": "+err.Error())
	}
	return err
}

// release returns reserved shares (one already returned is no error).
func (d *driver) release(ctx context.Context, shares []share) error {
	for _, s := range shares {
		_, err := supervisors.Ask[*messages.EntryReply](ctx, d.m.tree, ledgerName, &messages.Release{Account: d.self(), Ref: s.ref})
		if err != nil && !errors.Is(err, messages.ErrUnknownReservation) {
			return err
		}
	}
	return nil
}

// findBlocks checks, before a new job is recorded, that its module and
// input block are in the dag or can be fetched: an executor that cannot
// fetch them later is then facing an unreachable holder, not a job that
// cannot run. A chunked module is checked whole: its root and every chunk.
// A missing block, or a chunked module's root that is not one, refuses
// the job (errRefused).
func (d *driver) findBlocks() error {
	for what, c := range map[string]cid.Cid{"module": d.spec.Module, "input_cid": d.spec.InputCID} {
		if !c.Defined() {
			continue
		}
		var err error
		if what == "module" {
			// Bounded per dag request inside.
			_, err = executors.FetchModule(d.life, d.m.tree, c)
		} else {
			ctx, cancel := d.ctx()
			_, err = supervisors.Ask[*messages.GetBlockReply](ctx, d.m.tree, dagName, &messages.GetBlock{CID: c, Fetch: true})
			cancel()
		}
		var refusal error
		switch {
		case errors.Is(err, messages.ErrBlockNotFound):
			refusal = fmt.Errorf("%w: %s %s is neither in the dag nor on any reachable node: %w", messages.ErrInvalidSpec, what, c, err)
		case errors.Is(err, block.ErrInvalidModule):
			refusal = fmt.Errorf("%w: %s %s: %w", messages.ErrInvalidSpec, what, c, err)
		case err != nil:
			return err
		default:
			continue
		}
		// Forgotten before the answer, as in escrow.
		d.m.sys.Root.Send(d.m.self, &updated{owner: d.m, status: messages.JobStatus{ID: d.id}, drop: true, done: true})
		if d.submitter != nil {
			d.m.sys.Root.Send(d.submitter, refusal)
			d.submitter = nil
		}
		return errRefused
	}
	return nil
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

// failPoison fails a job that made its driver panic too often, doing no
// more of its work than that: a job not recorded yet is forgotten (nothing
// is escrowed before it is recorded), any other is failed messages.ReasonPanicked
// (its runs stopped, as for a cancel) and then settled as usual, its
// escrow released.
func (d *driver) failPoison() error {
	if d.rec.State != "" {
		started := d.rec.State == messages.JobAssigned || d.rec.State == messages.JobRunning
		if err := d.finish(messages.JobFailed, d.poison); err != nil {
			return err
		}
		if started {
			d.stopRuns()
		}
		return nil
	}
	d.m.sys.Root.Send(d.m.self, &updated{owner: d.m, status: messages.JobStatus{ID: d.id}, drop: true, done: true})
	if d.submitter != nil {
		d.m.sys.Root.Send(d.submitter, errors.New("jobs: "+d.poison))
		d.submitter = nil
	}
	return errRefused
}
