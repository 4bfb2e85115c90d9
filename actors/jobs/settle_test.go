package jobs

import (
	"crypto/rand"
	"slices"
	"strings"
	"testing"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/identity"
)

// The money and reputation rules of a final job, case by case: who is paid
// from which share, and whose outcome is recorded how.
func TestPaymentsAndOutcomes(t *testing.T) {
	id, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	self := id.DID().String()
	link := func() *block.Link {
		b, err := block.NewRaw([]byte("a receipt"))
		if err != nil {
			t.Fatal(err)
		}
		l := block.LinkTo(b.CID())
		return &l
	}
	const job = "bafyjob"
	const e, w, tb, lost = "did:key:executor", "did:key:witness", "did:key:tiebreaker", "did:key:lost"
	type paid struct {
		ref, to string
		price   uint64
	}
	type outcome struct {
		ref, executor string
		success       bool
	}
	tests := []struct {
		name     string
		verify   int
		rec      record
		payments []paid
		outcomes []outcome
	}{
		{name: "one remote executor completed", verify: 1,
			rec:      record{State: messages.JobCompleted, Executor: e, ExecutorPeer: "p", Price: 7, Receipt: link()},
			payments: []paid{{job, e, 7}}, outcomes: []outcome{{job, e, true}}},
		{name: "the fuel used is paid at the bid's fuel price", verify: 1,
			rec:      record{State: messages.JobCompleted, Executor: e, ExecutorPeer: "p", Price: 7, FuelPrice: 2, Receipt: link()},
			payments: []paid{{job, e, 11}}, outcomes: []outcome{{job, e, true}}},
		{name: "never more than the share", verify: 1,
			rec:      record{State: messages.JobCompleted, Executor: e, ExecutorPeer: "p", Price: 7, FuelPrice: 100, Receipt: link()},
			payments: []paid{{job, e, 20}}, outcomes: []outcome{{job, e, true}}},
		{name: "this node ran it: released, not paid", verify: 1,
			rec:      record{State: messages.JobCompleted, Executor: self, Price: 7, Receipt: link()},
			payments: []paid{{job, "", 0}}, outcomes: []outcome{{job, self, true}}},
		{name: "a limit broken says nothing of the executor", verify: 1,
			rec:      record{State: messages.JobFailed, Executor: e, Price: 7, Reason: "timeout: after 1s"},
			payments: []paid{{job, "", 0}}},
		{name: "an executor that failed the job before the one that ran it", verify: 1,
			rec:      record{State: messages.JobCompleted, Executor: e, ExecutorPeer: "p", Price: 7, Receipt: link(), Failed: []string{lost}},
			payments: []paid{{job, e, 7}}, outcomes: []outcome{{job + "/failed/0", lost, false}, {job, e, true}}},
		{name: "every executor lost it", verify: 1,
			rec:      record{State: messages.JobFailed, Executor: e, Price: 7, Reason: "executor_lost: gone", Failed: []string{lost, e}},
			payments: []paid{{job, "", 0}}, outcomes: []outcome{{job + "/failed/0", lost, false}, {job + "/failed/1", e, false}}},
		{name: "verify 2 agreed: both paid from their shares", verify: 2,
			rec: record{State: messages.JobCompleted, Executor: e, ExecutorPeer: "p", Price: 7, Receipt: link(),
				Witness: &helper{Executor: w, Peer: "q", Price: 9, Receipt: link()}},
			payments: []paid{{job, e, 7}, {witnessRef(job), w, 9}},
			outcomes: []outcome{{job, e, true}, {job + "/witness", w, true}}},
		{name: "verify 2 liar outvoted: the tiebreaker takes its share", verify: 2,
			rec: record{State: messages.JobFailed, Reason: "verification_mismatch: ...", Executor: e, ExecutorPeer: "p", Price: 7, Receipt: link(),
				Witness:    &helper{Executor: w, Peer: "q", Price: 9, Receipt: link()},
				Tiebreaker: &helper{Executor: tb, Peer: "r", Price: 5, FuelPrice: 2, Receipt: link()}, Outvoted: []string{e}},
			payments: []paid{{job, tb, 9}, {witnessRef(job), w, 9}},
			outcomes: []outcome{{job, e, false}, {job + "/tiebreaker", tb, true}, {job + "/witness", w, true}}},
		{name: "verify 2 without a tiebreaker: both outvoted, neither paid", verify: 2,
			rec: record{State: messages.JobFailed, Reason: "verification_mismatch: ...", Executor: e, ExecutorPeer: "p", Price: 7, Receipt: link(),
				Witness: &helper{Executor: w, Peer: "q", Price: 9, Receipt: link()}, Outvoted: []string{e, w}},
			payments: []paid{{job, "", 0}, {witnessRef(job), "", 0}},
			outcomes: []outcome{{job, e, false}, {job + "/witness", w, false}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Every run used 1.5 units of fuel: a fuel price of 2 costs 4.
			ran := &messages.JobReceipt{FuelUsed: messages.FuelUnit * 3 / 2}
			d := &driver{m: &manager{Deps: Deps{Identity: id}}, id: job, spec: messages.JobSpec{MaxMana: 20, Verify: tt.verify}, rec: tt.rec,
				receipts: jobReceipts{main: ran, witnesses: map[string]*messages.JobReceipt{messages.RoleWitness: ran, messages.RoleTiebreaker: ran}}}
			var got []paid
			total := uint64(0)
			for _, p := range d.payments() {
				got = append(got, paid{p.ref, p.to, p.price})
				total += p.amount
				if p.price > p.amount {
					t.Errorf("%s pays %d out of a share of %d", p.ref, p.price, p.amount)
				}
			}
			if total != 20 {
				t.Errorf("shares add up to %d, not max_mana 20", total)
			}
			if !slices.Equal(got, tt.payments) {
				t.Errorf("payments %v, want %v", got, tt.payments)
			}
			var outs []outcome
			for _, o := range d.outcomes() {
				outs = append(outs, outcome{o.Job, o.Executor, o.Success})
			}
			key := func(a, b outcome) int { return strings.Compare(a.ref, b.ref) }
			slices.SortFunc(outs, key)
			slices.SortFunc(tt.outcomes, key)
			if !slices.Equal(outs, tt.outcomes) {
				t.Errorf("outcomes %v, want %v", outs, tt.outcomes)
			}
		})
	}
}

// A node's offer fits the job's cap in the worst case: the price gives way
// to the fuel, and a job whose fuel alone costs more than it allows gets no
// bid.
func TestOfferFitsTheWorstCase(t *testing.T) {
	c := Config{Price: 10, FuelPrice: 2}
	for _, tc := range []struct {
		cap, fuel, price uint64
		ok               bool
	}{
		{100, 5 * messages.FuelUnit, 10, true}, // 10 + 2×5 = 20 ≤ 100
		{15, 5 * messages.FuelUnit, 5, true},   // the price gives way: 5 + 10 = 15
		{9, 5 * messages.FuelUnit, 0, false},   // the fuel alone is 10
		{100, 0, 10, true},                     // the engine's default fuel: 10 units, 20
		{20, 0, 0, true},                       // exactly the fuel
	} {
		price, fuelPrice, ok := c.offer(tc.cap, tc.fuel)
		if ok != tc.ok || ok && (price != tc.price || fuelPrice != 2) {
			t.Errorf("offer(%d, %d) = %d, %d, %v; want %d, 2, %v", tc.cap, tc.fuel, price, fuelPrice, ok, tc.price, tc.ok)
		}
		if ok && messages.JobCost(price, fuelPrice, fuelLimit(tc.fuel)) > tc.cap {
			t.Errorf("offer(%d, %d) can cost more than the cap", tc.cap, tc.fuel)
		}
	}
}
