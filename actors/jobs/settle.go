package jobs

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// payment is what becomes of one share of a final job's escrow: paid to
// an executor (its price; the rest released) or released whole.
type payment struct {
	share
	to, peer string // "" : released
	price    uint64
}

// payments decide the escrow of a final job. An executor is paid when it
// answered a receipt that verified and was not outvoted, and it is another
// node (the ledger refuses a settle to the account itself): its price plus
// its fuel price for the fuel the receipt says the run used
// (messages.JobCost), never more than its share. A tiebreaker is paid from
// the share of the executor it outvoted.
func (d *driver) payments() []payment {
	rec := d.rec
	type claim struct {
		executor, peer   string
		price, fuelPrice uint64
		receipt          *messages.JobReceipt
	}
	due := func(c claim) (uint64, bool) {
		if c.executor == "" || c.executor == d.self() || c.receipt == nil || slices.Contains(rec.Outvoted, c.executor) {
			return 0, false
		}
		cost := messages.JobCost(c.price, c.fuelPrice, c.receipt.FuelUsed)
		return cost, cost > 0
	}
	pay := func(p *payment, c claim) bool {
		cost, ok := due(c)
		if ok {
			p.to, p.peer, p.price = c.executor, c.peer, min(cost, p.amount)
		}
		return ok
	}
	shares := d.shares()
	out := make([]payment, len(shares))
	for i, s := range shares {
		out[i].share = s
	}
	main := claim{rec.Executor, rec.ExecutorPeer, rec.Price, rec.FuelPrice, receiptOf(rec.Receipt, d.receipts.main)}
	pay(&out[0], main)
	if len(out) < 2 {
		return out
	}
	var witness claim
	if w := rec.Witness; w != nil {
		witness = claim{w.Executor, w.Peer, w.Price, w.FuelPrice, receiptOf(w.Receipt, d.receipts.witnesses[messages.RoleWitness])}
		pay(&out[1], witness)
	}
	if t := rec.Tiebreaker; t != nil {
		tie := claim{t.Executor, t.Peer, t.Price, t.FuelPrice, receiptOf(t.Receipt, d.receipts.witnesses[messages.RoleTiebreaker])}
		for i, outvoted := range []claim{main, witness} {
			if out[i].to == "" && outvoted.executor != "" && slices.Contains(rec.Outvoted, outvoted.executor) && pay(&out[i], tie) {
				break
			}
		}
	}
	return out
}

// receiptOf is r when the record links a receipt, nil otherwise.
func receiptOf(l *block.Link, r *messages.JobReceipt) *messages.JobReceipt {
	if l == nil {
		return nil
	}
	return r
}

// settle pays the executors of a final job from its escrow and releases
// the rest (see payments); then it records the executors' outcomes, and
// that it did. Every step is idempotent: a share settled already is an
// unknown reservation, and an outcome is recorded once per job.
func (d *driver) settle() error {
	ctx, cancel := d.ctx()
	defer cancel()
	type notice struct {
		peer  string
		entry cid.Cid
	}
	var paid []notice
	for _, p := range d.payments() {
		var op any = &messages.Release{Account: d.self(), Ref: p.ref}
		if p.to != "" {
			op = &messages.Settle{Account: d.self(), Ref: p.ref, Pay: p.price, To: p.to}
		}
		r, err := supervisors.Ask[*messages.EntryReply](ctx, d.m.tree, ledgerName, op)
		switch {
		case errors.Is(err, messages.ErrUnknownReservation):
			// Released or paid already (or never taken).
		case err != nil:
			return err
		case p.to != "" && p.peer != "":
			paid = append(paid, notice{p.peer, r.Entry.CID})
		}
	}
	for _, o := range d.outcomes() {
		// Once per job and role: after a restart the ledger refuses a
		// second record, which is what we want.
		if _, err := d.m.tree.Request(ctx, ledgerName, &o); err != nil {
			d.m.log.Debug("jobs: reputation not recorded", "job", d.id, "executor", o.Executor, "err", err)
		}
	}
	next := d.rec
	next.Settled = true
	if err := d.persist(next); err != nil {
		return err
	}
	for _, n := range paid {
		d.m.goSafe(d.id, "telling the executor of its payment", func() { d.m.notifyPaid(d.life, d.id, n.peer, n.entry) }, nil)
	}
	return nil
}

// outcomes judge the executors (not the job). A verified receipt is a
// success whatever the module's exit code, unless it was outvoted; a
// receipt that does not verify, or no receipt from an executor that had
// the job, is a failure. Limits the module itself broke (timeout, fuel,
// memory...) and jobs that never reached an executor say nothing about
// it. Each executor is recorded under its own reference (the ledger
// records one outcome per reference): the job id for its executor,
// <id>/witness and <id>/tiebreaker for a verify-2 job's others, and
// <id>/failed/<n> for those that failed it.
func (d *driver) outcomes() []messages.RecordOutcome {
	rec := d.rec
	took := func(r *messages.JobReceipt) time.Duration {
		if r == nil {
			return 0
		}
		return time.Duration(r.WallMS) * time.Millisecond
	}
	var out []messages.RecordOutcome
	for i, executor := range rec.Failed {
		out = append(out, messages.RecordOutcome{Executor: executor, Job: d.id + "/failed/" + strconv.Itoa(i)})
	}
	add := func(ref, executor string, receipt *messages.JobReceipt, answered bool) {
		switch {
		case executor == "", !answered && rec.failed(executor):
		case answered:
			out = append(out, messages.RecordOutcome{Executor: executor, Job: ref,
				Success: !slices.Contains(rec.Outvoted, executor), Duration: took(receipt)})
		case strings.HasPrefix(rec.Reason, messages.ReasonVerificationMismatch), strings.HasPrefix(rec.Reason, messages.ReasonExecutorLost):
			out = append(out, messages.RecordOutcome{Executor: executor, Job: ref})
		}
	}
	add(d.id, rec.Executor, d.receipts.main, rec.Receipt != nil)
	for role, h := range rec.helpers() {
		add(d.id+"/"+role, h.Executor, d.receipts.witnesses[role], h.Receipt != nil)
	}
	return out
}
