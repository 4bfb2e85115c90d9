package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime/debug"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/actors/executors"
	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// runResult is how one executor's run of the job ended. Exactly one field
// is set. Working out a result touches no driver state, so a verify-2
// job's executors run at once.
type runResult struct {
	receipt *messages.JobReceipt // verified, its output fetched
	failed  string               // the job itself failed (a limit, a bad module): its reason
	lost    string               // the executor failed the job: give it to another
	busy    bool                 // with lost: the executor had no free worker or could not fetch the job's blocks, no fault of its own
	stopped bool                 // cancelled, or the node is stopping
	err     error                // this node could not finish the step: retry it
}

// runOn runs the job on executor (this node's pool, or the executor's node
// at peer) and checks the receipt it answers. A panic is answered as the
// result's err (a *jobPanic), for the driver to handle as its own: a
// verify-2 job's runs are on goroutines of their own.
func (d *driver) runOn(executor, peer string) (r runResult) {
	defer func() {
		if v := recover(); v != nil {
			r = runResult{err: &jobPanic{value: v, stack: debug.Stack()}}
		}
	}()
	if executor == d.self() {
		return d.runLocal()
	}
	return d.runRemote(executor, peer)
}

// conclude records what a verify-1 job's run came to.
func (d *driver) conclude(r runResult) error {
	switch {
	case r.err != nil:
		return r.err
	case r.stopped:
		return nil // cancelled (the next step records it) or stopping
	case r.lost != "":
		return d.reassign(r.lost, !r.busy)
	case r.failed != "":
		return d.finish(messages.JobFailed, r.failed)
	}
	next := d.ended(d.rec, r.receipt)
	l := block.LinkTo(r.receipt.CID)
	next.Receipt = &l
	prev := d.receipts.main
	d.receipts.main = r.receipt // reported with the record persist sends
	if err := d.persist(next); err != nil {
		d.receipts.main = prev
		return err
	}
	return nil
}

// ended moves rec to the final state an agreed receipt gives the job:
// completed, or failed exit_code when the module exited non-zero.
func (d *driver) ended(rec record, r *messages.JobReceipt) record {
	if r.ExitCode != 0 {
		next := rec.to(messages.JobFailed, d.m.Clock.Now())
		next.Reason = fmt.Sprintf("%s: %d", messages.ReasonExitCode, r.ExitCode)
		return next
	}
	return rec.to(messages.JobCompleted, d.m.Clock.Now())
}

// runLocal runs the job on this node's executor pool, waiting for a free
// worker until the assignment deadline.
func (d *driver) runLocal() runResult {
	r, err := d.m.runOnPool(d.run, d.id, d.spec)
	var failure *messages.JobFailure
	var unavailable *supervisors.UnavailableError
	switch {
	case err == nil:
		return d.check(d.self(), r.CID)
	case d.run.Err() != nil:
		return runResult{stopped: true}
	case errors.As(err, &failure):
		reason := failure.Reason
		if failure.Detail != "" {
			reason += ": " + failure.Detail
		}
		return runResult{failed: reason}
	case errors.Is(err, messages.ErrInvalidJob):
		return runResult{failed: messages.ReasonInvalidModule + ": " + err.Error()}
	case errors.Is(err, context.DeadlineExceeded):
		return runResult{failed: messages.ReasonExecutorLost + ": no receipt in time"}
	case errors.Is(err, messages.ErrNoCapacity) || errors.As(err, &unavailable):
		return runResult{failed: messages.ReasonNoBids + ": no free worker within " + d.m.Config.AssignTimeout.String()}
	}
	return runResult{failed: messages.ReasonExecutorLost + ": " + err.Error()}
}

// runRemote assigns the job to the executor's node and waits for its
// answer, which comes once the job ran.
func (d *driver) runRemote(executor, peer string) runResult {
	body, err := json.Marshal(messages.JobAssignment{JobID: d.id, Spec: d.rec.Spec.Cid.String(), Executor: executor})
	if err != nil {
		return runResult{err: err}
	}
	// The executor's node may queue the job for up to its own assignment
	// timeout (taken as ours) before it runs.
	deadline := time.Now().Add(jobTimeout(d.spec) + runMargin + d.m.Config.AssignTimeout)
	var rep messages.JobAssignReply
	for {
		ctx, cancel := context.WithTimeout(d.run, longPoll+peerCallTimeout+time.Second)
		ans, err := supervisors.Ask[*messages.PeerAnswer](ctx, d.m.tree, peersName, &messages.AskPeer{
			Peer: peer, Type: messages.WireJobAssign, Body: body, Timeout: longPoll + peerCallTimeout})
		cancel()
		if d.run.Err() != nil {
			return runResult{stopped: true}
		}
		if err != nil && time.Now().Before(d.graceUntil) {
			d.m.log.Debug("jobs: the resumed job's executor is not reachable yet; asking again", "job", d.id, "executor", executor, "err", err)
			if !sleep(d.run, resumeRetry) {
				return runResult{stopped: true}
			}
			continue
		}
		if err != nil {
			return runResult{lost: err.Error()}
		}
		rep = messages.JobAssignReply{}
		if err := json.Unmarshal(ans.Body, &rep); err != nil {
			return runResult{lost: "malformed answer: " + err.Error()}
		}
		if !rep.Pending {
			break
		}
		if time.Now().After(deadline) {
			return runResult{lost: "no receipt in time"}
		}
	}
	switch {
	case rep.Receipt != "":
		c, err := cid.Decode(rep.Receipt)
		if err != nil {
			return runResult{lost: "malformed receipt CID: " + err.Error()}
		}
		return d.check(executor, c)
	case rep.Reason == messages.AssignBusy, rep.Reason == messages.AssignUnavailable:
		return runResult{lost: rep.Reason + ": " + rep.Detail, busy: true}
	case rep.Reason == messages.ReasonExecutorLost || rep.Reason == "":
		return runResult{lost: rep.Reason + ": " + rep.Detail}
	}
	reason := rep.Reason
	if rep.Detail != "" {
		reason += ": " + rep.Detail
	}
	return runResult{failed: reason}
}

// stopRuns tells the executors of a cancelled job to stop its runs: this
// node's pool, or the executor's node. Best effort: a run that is not
// stopped ends at its limits, and its receipt is not wanted any more.
func (d *driver) stopRuns() {
	life := d.life
	for _, s := range d.slots(d.rec) {
		if s.done || s.executor == "" {
			continue
		}
		d.m.goSafe(d.id, "stopping a run", func() {
			ctx, cancel := context.WithTimeout(life, peerCallTimeout+time.Second)
			defer cancel()
			var err error
			if s.executor == d.m.Identity.DID().String() {
				_, err = supervisors.Ask[*messages.CancelRunReply](ctx, d.m.tree, executorsName, &messages.CancelRun{JobID: d.id})
			} else {
				body, merr := json.Marshal(messages.JobCancel{JobID: d.id})
				if merr != nil {
					return
				}
				_, err = d.m.tree.Request(ctx, peersName, &messages.AskPeer{Peer: s.peer, Type: messages.WireJobCancel, Body: body, Timeout: peerCallTimeout})
			}
			if err != nil {
				d.m.log.Debug("jobs: the cancelled job's run was not stopped", "job", d.id, "executor", s.executor, "err", err)
			}
		}, nil)
	}
}

// resumeRetry paces the asks of a resumed job whose executor is not
// reachable yet.
const resumeRetry = 250 * time.Millisecond

// check fetches and verifies a receipt (signature, job, executor, output
// present). A remote executor's receipt and output are fetched from its
// node; one that does not verify (or cannot be fetched) is the executor
// failing the job, which goes to the next bid.
func (d *driver) check(executor string, receipt cid.Cid) runResult {
	ctx, cancel := d.ctx()
	defer cancel()
	remote := executor != d.self()
	rb, err := supervisors.Ask[*messages.GetBlockReply](ctx, d.m.tree, dagName, &messages.GetBlock{CID: receipt, Fetch: remote})
	switch {
	case err != nil && remote && d.life.Err() == nil:
		return runResult{lost: "receipt " + receipt.String() + ": " + err.Error()}
	case err != nil:
		return runResult{err: err}
	}
	verified, err := d.verify(ctx, rb.Block, executor)
	switch {
	case err != nil && remote && d.life.Err() == nil:
		return runResult{lost: messages.ReasonVerificationMismatch + ": " + err.Error()}
	case err != nil:
		return runResult{failed: messages.ReasonVerificationMismatch + ": " + err.Error()}
	}
	return runResult{receipt: verified}
}

func (d *driver) verify(ctx context.Context, b block.Block, executor string) (*messages.JobReceipt, error) {
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
	case r.Executor != executor:
		return nil, fmt.Errorf("the receipt is signed by %s, not the assigned %s", r.Executor, executor)
	case !r.Module.Equals(d.spec.Module):
		return nil, fmt.Errorf("the receipt ran module %s", r.Module)
	}
	// The output must be here (the dag checks it against its CID).
	if _, err := supervisors.Ask[*messages.GetBlockReply](ctx, d.m.tree, dagName, &messages.GetBlock{CID: r.Output, Fetch: true}); err != nil {
		return nil, fmt.Errorf("output %s: %w", r.Output, err)
	}
	return r, nil
}
