package messages

import (
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
)

// Messages of the ledger actor: mana accounts kept as chains of signed
// entries in the DAG, reservations (escrow), transfers and reputation.
// Accounts are DIDs (did:key strings).

var (
	// ErrInsufficientMana: the account's available mana does not cover the
	// operation. The error is an *InsufficientManaError.
	ErrInsufficientMana = errors.New("ledger: insufficient mana")
	// ErrUnknownAccount: the node keeps no chain for this account.
	ErrUnknownAccount = errors.New("ledger: unknown account")
	// ErrNotLocal: the account's key is not held by this node, so it cannot
	// sign for it.
	ErrNotLocal = errors.New("ledger: account is not local")
	// ErrInvalidAmount: an amount of zero, or over the per-operation cap.
	ErrInvalidAmount = errors.New("ledger: invalid amount")
	// ErrInvalidAccount: not a DID the ledger can keep an account for.
	ErrInvalidAccount = errors.New("ledger: invalid account")
	// ErrUnknownReservation: release or settle of a reservation that is not
	// open on the account.
	ErrUnknownReservation = errors.New("ledger: unknown reservation")
	// ErrDuplicateReservation: a reservation whose reference is already open.
	ErrDuplicateReservation = errors.New("ledger: reservation already open")
	// ErrInvalidReference: a reservation reference or memo that cannot be.
	ErrInvalidReference = errors.New("ledger: invalid reference")
	// ErrAlreadyReceived: a send that has already been received.
	ErrAlreadyReceived = errors.New("ledger: already received")
	// ErrAccountLimit: the node holds as many local accounts as it may
	// (identity.MaxAccounts).
	ErrAccountLimit = errors.New("ledger: account limit reached")
	// ErrKeyReused: a transfer's idempotency key was used by the payer for
	// a transfer with another payee, amount or memo.
	ErrKeyReused = errors.New("ledger: idempotency key already used for another transfer")
)

// InsufficientManaError says how much was available.
type InsufficientManaError struct {
	Account   string
	Available uint64
	Needed    uint64
}

func (e *InsufficientManaError) Error() string {
	return fmt.Sprintf("insufficient mana: %s has %d available, needs %d", e.Account, e.Available, e.Needed)
}

// Unwrap makes errors.Is(err, ErrInsufficientMana) true.
func (e *InsufficientManaError) Unwrap() error { return ErrInsufficientMana }

// Ledger limits.
const (
	MaxReferenceLength = 128 // a reservation reference (a job id, ...)
	MaxMemoLength      = 256
	MaxListedEntries   = 1000
)

// Entry ops.
const (
	OpOpen    = "open"
	OpSend    = "send"
	OpReceive = "receive"
	OpReserve = "reserve"
	OpRelease = "release"
	OpSettle  = "settle"
)

// EntryInfo is one entry of an account's chain, as stored and signed.
type EntryInfo struct {
	CID          cid.Cid
	Account      string
	Seq          uint64
	Prev         cid.Cid // cid.Undef for the open entry
	Op           string
	Amount       uint64
	Counterparty string  // send, settle: the payee; receive: the payer
	Ref          string  // reserve, release, settle: the reservation's reference
	Source       cid.Cid // receive: the send or settle entry it receives
	Memo         string
	Time         time.Time // millisecond precision
	// BalanceAfter is the available mana after the entry, ReservedAfter
	// what is held in open reservations.
	BalanceAfter  uint64
	ReservedAfter uint64
}

// GetAccount asks for an account's state now (regeneration included).
type GetAccount struct{ Account string }

// AccountInfo is an account's state.
type AccountInfo struct {
	Account      string
	Local        bool // this node holds the account's key
	Balance      uint64
	Available    uint64
	Reserved     uint64
	Reservations int
	Capacity     uint64
	RegenPerHour uint64
	Seq          uint64
	Head         cid.Cid
	AsOf         time.Time
}

// ListAccounts asks for every account this node keeps.
type ListAccounts struct{}

// AccountList lists accounts, the node's own first.
type AccountList struct{ Accounts []AccountInfo }

// CreateAccount creates a local account: a new key and its open entry.
type CreateAccount struct{}

// Transfer moves mana from a local account (From, default the node's own)
// to another. When To is local too, both entries land together.
type Transfer struct {
	From   string
	To     string
	Amount uint64
	Memo   string
	// Key, when set, makes the transfer idempotent for its payer: a
	// retry with the same key and the same payee, amount and memo answers
	// the first transfer's entries (Replayed) instead of paying again; with
	// other ones it is ErrKeyReused. 1 to MaxReferenceLength printable
	// ASCII bytes; kept as long as the payment is.
	Key string
}

// TransferReply carries the send entry, and the receive entry when the
// recipient is local. Replayed: the transfer was made before, under the
// same key; nothing was paid now.
type TransferReply struct {
	Send     EntryInfo
	Receive  *EntryInfo
	Replayed bool
}

// Reserve holds Amount of a local account's mana for Ref (a job id...).
type Reserve struct {
	Account string
	Ref     string
	Amount  uint64
}

// Release returns a reservation to the available balance.
type Release struct {
	Account string
	Ref     string
}

// Settle pays Pay of a reservation to To and releases the rest, in one entry.
type Settle struct {
	Account string
	Ref     string
	Pay     uint64
	To      string
}

// EntryReply carries the entry an operation appended.
type EntryReply struct {
	Entry EntryInfo
	// Receive is the payee's entry when a settle paid a local account.
	Receive *EntryInfo
}

// ListEntries asks for an account's entries, newest first, those with a
// seq below Before (0: from the head), at most Limit (0 or over
// MaxListedEntries: MaxListedEntries).
type ListEntries struct {
	Account string
	Before  uint64
	Limit   int
}

// EntryList is a page of entries; Next is the Before of the next page
// (0: none).
type EntryList struct {
	Entries []EntryInfo
	Next    uint64
}

// VerifyAccount checks an account's whole chain from its open entry to its
// head.
type VerifyAccount struct{ Account string }

// VerifyReport is what verification found.
type VerifyReport struct {
	Account  string
	Head     cid.Cid
	Valid    bool
	Entries  int
	Problems []Problem
	Took     time.Duration
}

// Problem is one reason a chain does not verify.
type Problem struct {
	Seq    uint64
	CID    cid.Cid
	Reason string // one of the Reason constants
	Detail string
}

// Reasons a chain fails verification.
const (
	ReasonMissingBlock   = "missing_block"
	ReasonMalformed      = "malformed_entry"
	ReasonBadSignature   = "bad_signature"
	ReasonWrongAccount   = "wrong_account"
	ReasonBadSeq         = "bad_seq"
	ReasonBadPrev        = "bad_prev"
	ReasonBadTime        = "bad_time"
	ReasonBadOp          = "bad_op"
	ReasonBadAmount      = "bad_amount"
	ReasonOverdraft      = "overdraft"
	ReasonBadBalance     = "bad_balance"
	ReasonUnknownReserve = "unknown_reservation"
	ReasonUnbackedRecv   = "unbacked_receive"
	ReasonDoubleReceive  = "double_receive"
	ReasonEquivocation   = "equivocation"
)

// RecordOutcome records how a job an executor ran ended (once per job).
type RecordOutcome struct {
	Executor string
	Job      string
	Success  bool
	Duration time.Duration
}

// GetReputation asks for an executor's reputation.
type GetReputation struct{ DID string }

// ReputationInfo is an executor's record on this node. Score is 0 to 100:
// (successes+1)/(jobs+2), so an executor with no record scores 50.
type ReputationInfo struct {
	DID          string
	Jobs         uint64
	Successes    uint64
	Failures     uint64
	Score        uint64
	MeanDuration time.Duration
}
