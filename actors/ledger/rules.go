package ledger

import (
	"fmt"
	"maps"
	"math"
	"math/bits"
	"unicode/utf8"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
)

// Params are the economic rules every chain is kept and checked by. They
// are node configuration today; governance will change them later (and
// will then need to version them, so that old entries keep verifying).
type Params struct {
	// RegenPerHour is how much mana an account accrues per hour, up to
	// Capacity (counting what it has reserved).
	RegenPerHour uint64
	Capacity     uint64
	// Initial is what a new account opens with.
	Initial uint64
	// OpCap bounds the amount of one send, reserve or settle.
	OpCap uint64
	// ProposalCost and VoteCost are what governance charges.
	ProposalCost uint64
	VoteCost     uint64
}

// DefaultParams are the rules a node starts with.
func DefaultParams() Params {
	return Params{RegenPerHour: 100, Capacity: 10_000, Initial: 1_000, OpCap: 1_000, ProposalCost: 10, VoteCost: 1}
}

// Validate says what is wrong with p.
func (p Params) Validate() error {
	switch {
	case p.Capacity == 0:
		return fmt.Errorf("ledger: capacity must be positive")
	case p.Initial > p.Capacity:
		return fmt.Errorf("ledger: initial allocation %d is over the capacity %d", p.Initial, p.Capacity)
	case p.OpCap == 0:
		return fmt.Errorf("ledger: the per-operation cap must be positive")
	case p.ProposalCost > p.OpCap || p.VoteCost > p.OpCap:
		return fmt.Errorf("ledger: costs must be within the per-operation cap %d", p.OpCap)
	}
	return nil
}

// state is an account as its chain leaves it at its head.
type state struct {
	account      string
	head         cid.Cid
	seq          uint64
	time         int64 // unix ms of the head
	available    uint64
	reserved     uint64
	reservations map[string]reservation // open reservations by reference
}

// reservation is an open reservation: its amount and the reserve entry.
type reservation struct {
	amount uint64
	entry  cid.Cid
}

func (s state) clone() state {
	s.reservations = maps.Clone(s.reservations)
	return s
}

// regenerated is the available mana at now (unix ms): what accrued since the
// head at RegenPerHour, never past Capacity counting what is reserved, and
// never less than what the account holds (received mana may exceed it).
func regenerated(available, reserved uint64, elapsedMS int64, p Params) uint64 {
	if elapsedMS <= 0 || p.RegenPerHour == 0 || reserved >= p.Capacity || available >= p.Capacity-reserved {
		return available
	}
	hi, lo := bits.Mul64(p.RegenPerHour, uint64(elapsedMS))
	accrued := uint64(math.MaxUint64)
	if hi < 3_600_000 { // else the quotient overflows: cap it below
		accrued, _ = bits.Div64(hi, lo, 3_600_000)
	}
	room := p.Capacity - reserved - available
	return available + min(accrued, room)
}

// availableAt is what s can spend at now.
func (s state) availableAt(now int64, p Params) uint64 {
	return regenerated(s.available, s.reserved, now-s.time, p)
}

// CheckReference validates a reservation reference: 1 to
// MaxReferenceLength printable ASCII bytes without spaces (it names a ref).
func CheckReference(r string) error {
	if r == "" || len(r) > messages.MaxReferenceLength {
		return fmt.Errorf("%w: reference of %d bytes (1 to %d)", messages.ErrInvalidReference, len(r), messages.MaxReferenceLength)
	}
	for i := 0; i < len(r); i++ {
		if c := r[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("%w: reference %q: byte %d is not printable ASCII", messages.ErrInvalidReference, r, i)
		}
	}
	return nil
}

// ruleError is a broken rule: its reason is one of messages' Reason*
// constants, and err what a live operation answers.
type ruleError struct {
	reason string
	err    error
}

func (e *ruleError) Error() string { return e.err.Error() }
func (e *ruleError) Unwrap() error { return e.err }

func broken(reason string, err error, format string, args ...any) *ruleError {
	return &ruleError{reason: reason, err: fmt.Errorf("%w: %s", err, fmt.Sprintf(format, args...))}
}

// apply checks that e may follow s under p and returns the state after it,
// with e's BalanceAfter and ReservedAfter as the rules make them. It checks
// the chain's shape (account, seq, prev, time) and the arithmetic; not
// signatures and not that a receive's source exists (verify does both).
func apply(s state, e *entry, c cid.Cid, p Params) (state, error) {
	if e.Account != s.account {
		return s, broken(messages.ReasonWrongAccount, messages.ErrInvalidAccount, "entry of %s on the chain of %s", e.Account, s.account)
	}
	if e.Op == messages.OpOpen {
		switch {
		case s.head.Defined():
			return s, broken(messages.ReasonBadOp, messages.ErrInvalidAmount, "open after seq %d", s.seq)
		case e.Seq != 0:
			return s, broken(messages.ReasonBadSeq, messages.ErrInvalidAmount, "open at seq %d", e.Seq)
		case e.Prev != nil:
			return s, broken(messages.ReasonBadPrev, messages.ErrInvalidAmount, "open with a prev")
		case e.Amount != p.Initial:
			return s, broken(messages.ReasonBadAmount, messages.ErrInvalidAmount, "open with %d, the initial allocation is %d", e.Amount, p.Initial)
		case e.Counterparty != "" || e.Ref != "" || e.Source != nil:
			return s, broken(messages.ReasonBadOp, messages.ErrInvalidAmount, "open names a counterparty, reference or source")
		}
		next := state{account: s.account, head: c, seq: 0, time: e.Time, available: e.Amount, reservations: map[string]reservation{}}
		e.BalanceAfter, e.ReservedAfter = next.available, 0
		return next, nil
	}
	switch {
	case !s.head.Defined():
		return s, broken(messages.ReasonBadOp, messages.ErrUnknownAccount, "%s before the account's open entry", e.Op)
	case e.Seq != s.seq+1:
		return s, broken(messages.ReasonBadSeq, messages.ErrInvalidAmount, "seq %d after %d", e.Seq, s.seq)
	case e.Prev == nil || !e.Prev.Cid.Equals(s.head):
		return s, broken(messages.ReasonBadPrev, messages.ErrInvalidAmount, "prev %s, the head is %s", unlink(e.Prev), s.head)
	case e.Time < s.time:
		return s, broken(messages.ReasonBadTime, messages.ErrInvalidAmount, "time %d before the previous entry's %d", e.Time, s.time)
	case e.Source != nil && e.Op != messages.OpReceive:
		return s, broken(messages.ReasonBadOp, messages.ErrInvalidAmount, "%s names a source", e.Op)
	case len(e.Memo) > messages.MaxMemoLength || !utf8.ValidString(e.Memo):
		return s, broken(messages.ReasonBadOp, messages.ErrInvalidReference, "memo of %d bytes (at most %d of UTF-8)", len(e.Memo), messages.MaxMemoLength)
	case e.Ref != "" && CheckReference(e.Ref) != nil:
		return s, broken(messages.ReasonBadOp, messages.ErrInvalidReference, "%v", CheckReference(e.Ref))
	}
	next := s.clone()
	next.head, next.seq, next.time = c, e.Seq, e.Time
	next.available = s.availableAt(e.Time, p)
	spend := func(n uint64) error {
		if n > next.available {
			return broken(messages.ReasonOverdraft, &messages.InsufficientManaError{Account: s.account, Available: next.available, Needed: n},
				"%s of %d with %d available", e.Op, n, next.available)
		}
		next.available -= n
		return nil
	}
	capped := func() error {
		if e.Amount == 0 || e.Amount > p.OpCap {
			return broken(messages.ReasonBadAmount, messages.ErrInvalidAmount, "%s of %d (1 to %d)", e.Op, e.Amount, p.OpCap)
		}
		return nil
	}
	switch e.Op {
	case messages.OpSend:
		if err := capped(); err != nil {
			return s, err
		}
		if e.Counterparty == "" || e.Counterparty == s.account || e.Ref != "" {
			return s, broken(messages.ReasonBadOp, messages.ErrInvalidAccount, "send to %q", e.Counterparty)
		}
		if err := spend(e.Amount); err != nil {
			return s, err
		}
	case messages.OpReceive:
		if err := capped(); err != nil {
			return s, err
		}
		if e.Source == nil || e.Counterparty == "" || e.Counterparty == s.account || e.Ref != "" {
			return s, broken(messages.ReasonBadOp, messages.ErrInvalidAccount, "receive without a source and a payer")
		}
		if next.available > math.MaxUint64-e.Amount {
			return s, broken(messages.ReasonBadAmount, messages.ErrInvalidAmount, "receive overflows the balance")
		}
		next.available += e.Amount
	case messages.OpReserve:
		if err := capped(); err != nil {
			return s, err
		}
		if e.Ref == "" || e.Counterparty != "" {
			return s, broken(messages.ReasonBadOp, messages.ErrInvalidReference, "reserve without a reference")
		}
		if _, open := next.reservations[e.Ref]; open {
			return s, broken(messages.ReasonBadOp, messages.ErrDuplicateReservation, "reservation %q is already open", e.Ref)
		}
		if err := spend(e.Amount); err != nil {
			return s, err
		}
		next.reservations[e.Ref] = reservation{amount: e.Amount, entry: c}
		next.reserved += e.Amount
	case messages.OpRelease, messages.OpSettle:
		r, open := next.reservations[e.Ref]
		held := r.amount
		if !open {
			return s, broken(messages.ReasonUnknownReserve, messages.ErrUnknownReservation, "%s of reservation %q, which is not open", e.Op, e.Ref)
		}
		if e.Op == messages.OpRelease {
			if e.Amount != held || e.Counterparty != "" {
				return s, broken(messages.ReasonBadAmount, messages.ErrInvalidAmount, "release of %d from a reservation of %d", e.Amount, held)
			}
		} else {
			if e.Amount > held {
				return s, broken(messages.ReasonBadAmount, messages.ErrInvalidAmount, "settle pays %d from a reservation of %d", e.Amount, held)
			}
			if e.Counterparty == "" || e.Counterparty == s.account {
				return s, broken(messages.ReasonBadOp, messages.ErrInvalidAccount, "settle to %q", e.Counterparty)
			}
		}
		delete(next.reservations, e.Ref)
		next.reserved -= held
		back := held // a release returns all of it
		if e.Op == messages.OpSettle {
			back -= e.Amount // a settle returns what it does not pay
		}
		next.available += back
	default:
		return s, broken(messages.ReasonBadOp, messages.ErrInvalidAmount, "unknown op %q", e.Op)
	}
	e.BalanceAfter, e.ReservedAfter = next.available, next.reserved
	return next, nil
}
