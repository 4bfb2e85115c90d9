package jobs

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
)

// A verify-2 job runs on two executors at once, the executor and its
// witness, and completes only if their receipts agree: same output, exit
// code and fuel used (fuel metering makes a run reproducible exactly). Fuel
// is compared only when both receipts measure it in the same cost table
// (cost_table_version): across versions, output and exit code must agree,
// and a mismatch's reason says that fuel was not compared.
// When they disagree a third executor, the tiebreaker, runs it: whichever
// of the two it agrees with outvotes the other. The job fails
// verification_mismatch either way (the members asked for two executors
// that agree and did not get them), but the executors that were right are
// paid and the outvoted lose reputation. With no third executor to ask,
// or when all three disagree, every disagreeing executor is outvoted: this
// node cannot tell which of them lied.
//
// The escrow is two reservations, one per executor, so that each is
// settled on its own: the job's id for the executor's share and
// witnessRef for the witness's. A tiebreaker is paid from the share of
// the executor it outvoted. Bids on a verify-2 job are at most half its
// max_mana, so any bid fits either share.

// witnessRef names the reservation of a verify-2 job's witness share.
func witnessRef(id string) string { return id + "/" + messages.RoleWitness }

// share is one reservation of a job's escrow.
type share struct {
	ref    string
	amount uint64
}

// shares are the reservations the job's max_mana is escrowed in.
func (d *driver) shares() []share {
	if d.spec.Verify != 2 {
		return []share{{d.id, d.spec.MaxMana}}
	}
	half := d.spec.MaxMana / 2
	return []share{{d.id, d.spec.MaxMana - half}, {witnessRef(d.id), half}}
}

// bidCap is the most one executor may ask for the job.
func (d *driver) bidCap() uint64 {
	if d.spec.Verify == 2 {
		return d.spec.MaxMana / 2
	}
	return d.spec.MaxMana
}

// executorsWanted is how many distinct executors the job is assigned to.
func (d *driver) executorsWanted() int {
	if d.spec.Verify == 2 {
		return 2
	}
	return 1
}

// slot is one executor of a verify-2 job, as the run step sees it.
type slot struct {
	role     string // "" for the executor, else a messages.Role*
	executor string
	peer     string
	done     bool // its receipt is in
}

func (d *driver) slots(rec record) []slot {
	out := []slot{{executor: rec.Executor, peer: rec.ExecutorPeer, done: rec.Receipt != nil}}
	for _, role := range []string{messages.RoleWitness, messages.RoleTiebreaker} {
		if h := rec.helpers()[role]; h != nil {
			out = append(out, slot{role: role, executor: h.Executor, peer: h.Peer, done: h.Receipt != nil})
		}
	}
	return out
}

// runVerified runs a verify-2 job on every executor that owes a receipt,
// at once, then records what they answered and judges them.
func (d *driver) runVerified() error {
	var todo []slot
	for _, s := range d.slots(d.rec) {
		if !s.done {
			todo = append(todo, s)
		}
	}
	results := make([]runResult, len(todo))
	var wg sync.WaitGroup
	for i, s := range todo {
		wg.Go(func() { results[i] = d.runOn(s.executor, s.peer) })
	}
	wg.Wait()
	for _, r := range results {
		switch {
		case r.err != nil:
			return r.err
		case r.stopped:
			return nil
		}
	}
	for _, r := range results {
		if r.failed != "" {
			// The job itself failed (a limit, a bad module): a second
			// opinion would not change that.
			return d.finish(messages.JobFailed, r.failed)
		}
	}
	next, rs := d.rec, d.receipts.clone()
	var lost []slot
	var busy []bool
	var why []string
	for i, r := range results {
		if r.lost != "" {
			lost, busy = append(lost, todo[i]), append(busy, r.busy)
			why = append(why, todo[i].executor+": "+r.lost)
			continue
		}
		next = withReceipt(next, &rs, todo[i].role, r.receipt)
	}
	if len(lost) > 0 {
		return d.replace(next, rs, lost, busy, strings.Join(why, "; "))
	}
	return d.judge(next, rs)
}

// withReceipt records a verified receipt in the slot of role.
func withReceipt(rec record, rs *jobReceipts, role string, r *messages.JobReceipt) record {
	l := block.LinkTo(r.CID)
	switch role {
	case "":
		rec.Receipt, rs.main = &l, r
	case messages.RoleWitness:
		h := *rec.Witness
		h.Receipt, rec.Witness = &l, &h
		rs.set(role, r)
	case messages.RoleTiebreaker:
		h := *rec.Tiebreaker
		h.Receipt, rec.Tiebreaker = &l, &h
		rs.set(role, r)
	}
	return rec
}

func (j jobReceipts) clone() jobReceipts {
	return jobReceipts{main: j.main, witnesses: maps.Clone(j.witnesses)}
}

// agree says whether two receipts report the same run. Fuel is compared
// only between receipts measured in the same cost table: executors on
// different versions of it honestly report different fuel for one run.
func agree(a, b *messages.JobReceipt) bool {
	return a.Output.Equals(b.Output) && a.ExitCode == b.ExitCode &&
		(!sameCostTable(a, b) || a.FuelUsed == b.FuelUsed)
}

func sameCostTable(a, b *messages.JobReceipt) bool { return a.CostTableVersion == b.CostTableVersion }

// disagreement describes, for a job's reason, how the receipts of the
// executors named a and b disagree.
func disagreement(a string, ra *messages.JobReceipt, b string, rb *messages.JobReceipt) string {
	run := func(r *messages.JobReceipt) string {
		return fmt.Sprintf("output %s, exit %d, fuel %d at cost table v%d", r.Output, r.ExitCode, r.FuelUsed, r.CostTableVersion)
	}
	s := fmt.Sprintf("%s (%s) and %s (%s) disagree", a, run(ra), b, run(rb))
	if !sameCostTable(ra, rb) {
		s += " on output or exit code (fuel is not compared across cost tables)"
	}
	return s
}

// judge decides a verify-2 job whose executors all answered: completed
// when the executor and the witness agree; otherwise a tiebreaker is
// assigned, or, once it answered or when none is left to ask, the job
// fails and the outvoted are named.
func (d *driver) judge(next record, rs jobReceipts) error {
	main, witness := rs.main, rs.witnesses[messages.RoleWitness]
	tie := rs.witnesses[messages.RoleTiebreaker]
	if agree(main, witness) {
		if !sameCostTable(main, witness) {
			d.m.log.Info("jobs: the executors agree on output and exit code; fuel not compared (different cost tables)",
				"job", d.id, "executor_cost_table", main.CostTableVersion, "witness_cost_table", witness.CostTableVersion)
		}
		final := d.ended(next, main)
		if tie != nil && !agree(tie, main) {
			final.Outvoted = []string{next.Tiebreaker.Executor}
		}
		return d.persistReceipts(final, rs)
	}
	if next.Tiebreaker == nil {
		if b, ok := d.nextBid(next); ok {
			next.Tiebreaker = b.helper()
			d.m.log.Info("jobs: the executors disagree; asking a tiebreaker", "job", d.id,
				"executor", next.Executor, "witness", next.Witness.Executor, "tiebreaker", b.Bidder)
			return d.persistReceipts(next, rs) // still running: the next step runs the tiebreaker
		}
	}
	final := next.to(messages.JobFailed, d.m.Clock.Now())
	detail := disagreement(next.Executor, main, next.Witness.Executor, witness)
	switch {
	case tie == nil:
		final.Outvoted = []string{next.Executor, next.Witness.Executor}
		detail += "; no third executor could break the tie"
	case agree(tie, main):
		final.Outvoted = []string{next.Witness.Executor}
		detail += "; the tiebreaker " + next.Tiebreaker.Executor + " agrees with the executor"
	case agree(tie, witness):
		final.Outvoted = []string{next.Executor}
		detail += "; the tiebreaker " + next.Tiebreaker.Executor + " agrees with the witness"
	default:
		final.Outvoted = []string{next.Executor, next.Witness.Executor, next.Tiebreaker.Executor}
		detail += "; the tiebreaker " + next.Tiebreaker.Executor + " agrees with neither"
	}
	final.Reason = messages.ReasonVerificationMismatch + ": " + detail
	d.m.log.Warn("jobs: verification mismatch", "job", d.id, "outvoted", final.Outvoted, "detail", detail)
	return d.persistReceipts(final, rs)
}

// persistReceipts persists next with the receipts it links, which the
// status sent with it reports.
func (d *driver) persistReceipts(next record, rs jobReceipts) error {
	prev := d.receipts
	d.receipts = rs
	if err := d.persist(next); err != nil {
		d.receipts = prev
		return err
	}
	return nil
}

// nextBid takes the best bid left whose bidder neither failed the job nor
// holds a slot of rec.
func (d *driver) nextBid(rec record) (bid, bool) {
	taken := func(did string) bool {
		return rec.failed(did) || slices.ContainsFunc(d.slots(rec), func(s slot) bool { return s.executor == did })
	}
	for len(d.bids) > 0 {
		b := d.bids[0]
		d.bids = d.bids[1:]
		if !taken(b.Bidder) {
			return b, true
		}
	}
	return bid{}, false
}

// replace gives the slots whose executors failed the job to the next
// bids, keeping the receipts already in. With no bid left the job bids
// again from scratch (a lost tiebreaker instead ends the job: the two
// disagree and nobody is left to tell them apart).
func (d *driver) replace(next record, rs jobReceipts, lost []slot, busy []bool, why string) error {
	d.m.log.Warn("jobs: executors failed the job", "job", d.id, "attempt", next.Attempts, "err", why)
	for i, s := range lost {
		if !busy[i] {
			next = next.failedBy(s.executor)
		}
	}
	if next.Attempts >= maxAttempts {
		final := next.to(messages.JobFailed, d.m.Clock.Now())
		final.Reason = messages.ReasonExecutorLost + ": " + why
		return d.persistReceipts(final, rs)
	}
	for _, s := range lost {
		b, ok := d.nextBid(next)
		switch {
		case !ok && s.role == messages.RoleTiebreaker:
			next.Tiebreaker = nil
			delete(rs.witnesses, messages.RoleTiebreaker)
			return d.judge(next, rs)
		case !ok:
			again := next.to(messages.JobBidding, d.m.Clock.Now())
			again.Executor, again.ExecutorPeer, again.Price, again.FuelPrice, again.Receipt = "", "", 0, 0, nil
			again.Witness, again.Tiebreaker = nil, nil
			d.bidSince = time.Time{}
			return d.persistReceipts(again, jobReceipts{})
		}
		h := b.helper()
		switch s.role {
		case "":
			next.Executor, next.ExecutorPeer, next.Price, next.FuelPrice, next.Receipt = b.Bidder, b.peer, b.Price, b.FuelPrice, nil
			rs.main = nil
		case messages.RoleWitness:
			next.Witness = h
		case messages.RoleTiebreaker:
			next.Tiebreaker = h
		}
	}
	next = next.to(messages.JobAssigned, d.m.Clock.Now())
	next.Attempts++
	return d.persistReceipts(next, rs)
}
