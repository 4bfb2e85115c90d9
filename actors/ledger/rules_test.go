package ledger

import (
	"errors"
	"math"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
)

const hourMS = 3_600_000

func TestRegenerationIsComputedAndCapped(t *testing.T) {
	p := Params{RegenPerHour: 100, Capacity: 1000}
	for _, tc := range []struct {
		name                string
		available, reserved uint64
		elapsed             int64
		want                uint64
	}{
		{"an hour", 0, 0, hourMS, 100},
		{"half an hour", 0, 0, hourMS / 2, 50},
		{"floors", 0, 0, hourMS/100 - 1, 0},
		{"no time", 500, 0, 0, 500},
		{"backwards", 500, 0, -hourMS, 500},
		{"up to capacity", 950, 0, hourMS, 1000},
		{"reserved counts", 800, 150, hourMS, 850},
		{"over capacity stays", 5000, 0, hourMS, 5000},
		{"reserved over capacity", 10, 2000, hourMS, 10},
		{"a century", 0, 0, 100 * 365 * 24 * hourMS, 1000},
		{"longest", 0, 0, math.MaxInt64, 1000},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := regenerated(tc.available, tc.reserved, tc.elapsed, p); got != tc.want {
				t.Fatalf("got %d, want %d", got, tc.want)
			}
		})
	}
	huge := Params{RegenPerHour: math.MaxUint64, Capacity: math.MaxUint64}
	if got := regenerated(0, 0, math.MaxInt64, huge); got != math.MaxUint64 {
		t.Fatalf("overflowing accrual: %d", got)
	}
}

func TestApplyRefusesWhatTheRulesForbid(t *testing.T) {
	p := Params{RegenPerHour: 0, Capacity: 10_000, Initial: 1000, OpCap: 500}
	acct, other := "did:key:a", "did:key:b"
	head := block.Sum(block.Raw, []byte("head"))
	open := state{account: acct, head: head, seq: 3, time: 1000, available: 400, reserved: 100,
		reservations: map[string]reservation{"job-1": {amount: 100}}}
	next := func(e entry) entry {
		e.Account, e.Seq, e.Prev, e.Time = acct, 4, link(head), 2000
		return e
	}
	for _, tc := range []struct {
		name   string
		s      state
		e      entry
		reason string
		err    error
	}{
		{"wrong account", open, entry{Account: other, Seq: 4, Prev: link(head), Op: messages.OpSend, Amount: 1, Counterparty: other}, messages.ReasonWrongAccount, messages.ErrInvalidAccount},
		{"seq gap", open, func() entry {
			e := next(entry{Op: messages.OpSend, Amount: 1, Counterparty: other})
			e.Seq = 5
			return e
		}(), messages.ReasonBadSeq, errAny},
		{"wrong prev", open, func() entry {
			e := next(entry{Op: messages.OpSend, Amount: 1, Counterparty: other})
			e.Prev = link(block.Sum(block.Raw, []byte("other")))
			return e
		}(), messages.ReasonBadPrev, errAny},
		{"time goes back", open, func() entry {
			e := next(entry{Op: messages.OpSend, Amount: 1, Counterparty: other})
			e.Time = 999
			return e
		}(), messages.ReasonBadTime, errAny},
		{"overdraft", open, next(entry{Op: messages.OpSend, Amount: 450, Counterparty: other}), messages.ReasonOverdraft, messages.ErrInsufficientMana},
		{"zero", open, next(entry{Op: messages.OpSend, Amount: 0, Counterparty: other}), messages.ReasonBadAmount, messages.ErrInvalidAmount},
		{"over the cap", open, next(entry{Op: messages.OpReserve, Amount: 501, Ref: "j"}), messages.ReasonBadAmount, messages.ErrInvalidAmount},
		{"pay oneself", open, next(entry{Op: messages.OpSend, Amount: 1, Counterparty: acct}), messages.ReasonBadOp, messages.ErrInvalidAccount},
		{"receive without source", open, next(entry{Op: messages.OpReceive, Amount: 1, Counterparty: other}), messages.ReasonBadOp, errAny},
		{"send with a source", open, next(entry{Op: messages.OpSend, Amount: 1, Counterparty: other, Source: link(head)}), messages.ReasonBadOp, errAny},
		{"reserve twice", open, next(entry{Op: messages.OpReserve, Amount: 1, Ref: "job-1"}), messages.ReasonBadOp, messages.ErrDuplicateReservation},
		{"reference with a space", open, next(entry{Op: messages.OpReserve, Amount: 1, Ref: "job 2"}), messages.ReasonBadOp, messages.ErrInvalidReference},
		{"release of none", open, next(entry{Op: messages.OpRelease, Amount: 100, Ref: "job-2"}), messages.ReasonUnknownReserve, messages.ErrUnknownReservation},
		{"release of a part", open, next(entry{Op: messages.OpRelease, Amount: 50, Ref: "job-1"}), messages.ReasonBadAmount, errAny},
		{"settle over the reservation", open, next(entry{Op: messages.OpSettle, Amount: 101, Ref: "job-1", Counterparty: other}), messages.ReasonBadAmount, errAny},
		{"unknown op", open, next(entry{Op: "mint", Amount: 1}), messages.ReasonBadOp, errAny},
		{"open twice", open, entry{Account: acct, Op: messages.OpOpen, Amount: 1000}, messages.ReasonBadOp, errAny},
		{"open with more", state{account: acct}, entry{Account: acct, Op: messages.OpOpen, Amount: 1001}, messages.ReasonBadAmount, errAny},
		{"send before open", state{account: acct}, entry{Account: acct, Op: messages.OpSend, Amount: 1, Counterparty: other}, messages.ReasonBadOp, messages.ErrUnknownAccount},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := apply(tc.s, &tc.e, cid.Undef, p)
			var re *ruleError
			if !errors.As(err, &re) || re.reason != tc.reason {
				t.Fatalf("got %v, want reason %s", err, tc.reason)
			}
			if tc.err != errAny && !errors.Is(err, tc.err) {
				t.Fatalf("got %v, want %v", err, tc.err)
			}
		})
	}
	if open.available != 400 || open.reserved != 100 || len(open.reservations) != 1 {
		t.Fatalf("apply changed the state it was given: %+v", open)
	}
}

func TestApplyComputesBalances(t *testing.T) {
	p := Params{RegenPerHour: 60, Capacity: 10_000, Initial: 1000, OpCap: 500}
	acct, other := "did:key:a", "did:key:b"
	s := state{account: acct}
	step := func(e entry, ms int64) {
		t.Helper()
		e.Account, e.Time = acct, ms
		if s.head.Defined() {
			e.Seq, e.Prev = s.seq+1, link(s.head)
		}
		next, err := apply(s, &e, block.Sum(block.Raw, []byte{byte(e.Seq)}), p)
		if err != nil {
			t.Fatal(err)
		}
		s = next
	}
	step(entry{Op: messages.OpOpen, Amount: 1000}, 0)
	step(entry{Op: messages.OpSend, Amount: 300, Counterparty: other}, 0)
	step(entry{Op: messages.OpReserve, Amount: 200, Ref: "j"}, hourMS) // +60
	if s.available != 560 || s.reserved != 200 {
		t.Fatalf("after reserve: %+v", s)
	}
	step(entry{Op: messages.OpSettle, Amount: 150, Ref: "j", Counterparty: other}, hourMS)
	if s.available != 610 || s.reserved != 0 || len(s.reservations) != 0 {
		t.Fatalf("after settle: %+v", s)
	}
	step(entry{Op: messages.OpReceive, Amount: 40, Counterparty: other, Source: link(block.Sum(block.Raw, []byte("src")))}, 2*hourMS)
	if s.available != 710 {
		t.Fatalf("after receive: %+v", s)
	}
}
