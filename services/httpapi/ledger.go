package httpapi

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
)

// The ledger actor's name in the tree.
const ledgerActor = "ledger"

// ledgerBodyLimit bounds a ledger request body: DIDs, a reference of at
// most messages.MaxReferenceLength bytes and a memo of at most
// messages.MaxMemoLength, even with every byte escaped, fit many times.
const ledgerBodyLimit = 4 << 10

// Account is an account's state now, regeneration included
// (GET /api/v1/accounts/{did}).
type Account struct {
	DID string `json:"did"`
	// Local: this node holds the account's key and can sign for it.
	Local bool `json:"local"`
	// Balance is Available plus Reserved.
	Balance      uint64 `json:"balance"`
	Available    uint64 `json:"available"`
	Reserved     uint64 `json:"reserved"`
	Reservations int    `json:"reservations"` // open reservations
	// Capacity bounds regeneration (not what the account may receive).
	Capacity     uint64 `json:"capacity"`
	RegenPerHour uint64 `json:"regen_per_hour"`
	Seq          uint64 `json:"seq"`  // of the head entry
	Head         string `json:"head"` // the head entry's CID
	AsOf         string `json:"as_of"`
}

// AccountList is GET /api/v1/accounts: the node's own account first, then
// the others by DID.
type AccountList struct {
	Accounts []Account `json:"accounts"`
}

// LedgerEntry is one entry of an account's chain, as stored and signed.
type LedgerEntry struct {
	CID     string `json:"cid"`
	Account string `json:"account"`
	Seq     uint64 `json:"seq"`
	Prev    string `json:"prev,omitempty"` // none for the open entry
	Op      string `json:"op"`             // open, send, receive, reserve, release, settle
	Amount  uint64 `json:"amount"`
	// Counterparty is the payee of a send or settle, the payer of a receive.
	Counterparty string `json:"counterparty,omitempty"`
	Ref          string `json:"ref,omitempty"`    // reserve, release, settle
	Source       string `json:"source,omitempty"` // receive: the send or settle it receives
	Memo         string `json:"memo,omitempty"`
	Time         string `json:"time"`
	// BalanceAfter is the available mana after the entry, ReservedAfter
	// what open reservations hold.
	BalanceAfter  uint64 `json:"balance_after"`
	ReservedAfter uint64 `json:"reserved_after"`
}

// EntryList is GET /api/v1/accounts/{did}/entries: newest first.
type EntryList struct {
	Entries []LedgerEntry `json:"entries"`
	// Next, when set, is the before= of the next (older) page.
	Next uint64 `json:"next,omitempty"`
}

// TransferRequest is the body of POST /api/v1/transfers.
type TransferRequest struct {
	From   string `json:"from,omitempty"` // a local account; default the node's own
	To     string `json:"to"`
	Amount uint64 `json:"amount"`
	Memo   string `json:"memo,omitempty"`
	// IdempotencyKey makes a retry answer the first transfer made under
	// it instead of paying again (messages.Transfer.Key).
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// TransferResult answers a transfer: the payer's send entry, and the
// payee's receive entry when the payee is local (both landed together).
// Replayed: made before under the same idempotency key; nothing was paid
// now.
type TransferResult struct {
	Send     LedgerEntry  `json:"send"`
	Receive  *LedgerEntry `json:"receive,omitempty"`
	Replayed bool         `json:"replayed,omitempty"`
}

// ReserveRequest is the body of POST /api/v1/reservations.
type ReserveRequest struct {
	Account string `json:"account"`
	Ref     string `json:"ref"`
	Amount  uint64 `json:"amount"`
}

// SettleRequest is the body of POST /api/v1/reservations/{account}/{ref}/settle.
type SettleRequest struct {
	To  string `json:"to"`
	Pay uint64 `json:"pay"` // at most the reservation; the rest returns to the account
}

// EntryResult answers a reserve, release or settle: the entry appended, and
// the payee's receive entry when a settle paid a local account.
type EntryResult struct {
	Entry   LedgerEntry  `json:"entry"`
	Receive *LedgerEntry `json:"receive,omitempty"`
}

// VerifyReport is GET /api/v1/accounts/{did}/verify. A chain that does not
// verify is still a 200: the report is the answer.
type VerifyReport struct {
	Account  string          `json:"account"`
	Head     string          `json:"head"`
	Valid    bool            `json:"valid"`
	Entries  int             `json:"entries"` // entries checked
	Problems []VerifyProblem `json:"problems"`
	TookMS   float64         `json:"took_ms"`
}

// VerifyProblem is one reason a chain does not verify.
type VerifyProblem struct {
	Seq    uint64 `json:"seq"`
	CID    string `json:"cid,omitempty"`
	Reason string `json:"reason"` // missing_block, bad_signature, overdraft, ...
	Detail string `json:"detail,omitempty"`
}

// Reputation is GET /api/v1/reputation/{did}: this node's record of an
// executor. Score is 0 to 100; an executor with no record scores 50.
type Reputation struct {
	DID            string  `json:"did"`
	Jobs           uint64  `json:"jobs"`
	Successes      uint64  `json:"successes"`
	Failures       uint64  `json:"failures"`
	Score          uint64  `json:"score"`
	MeanDurationMS float64 `json:"mean_duration_ms"`
}

func (s *Server) ledgerRoutes() {
	a := s.public
	a.handle(Route{Method: "GET", Path: "/api/v1/accounts", Tag: "ledger",
		Summary:  "The local accounts (keys this node holds) with their balances, the node's own first",
		Response: AccountList{}, Errors: []int{503, 504}, Handle: s.getAccounts})
	a.handle(Route{Method: "POST", Path: "/api/v1/accounts", Tag: "ledger",
		Summary: "Create a local account: a new key, and its open entry with the initial allocation",
		Description: "Answers once the open entry is durable. Nothing is sent in the body; the account is at " +
			"Location. Not idempotent: each call creates another account.",
		Response: Account{}, Status: http.StatusCreated, Errors: []int{500, 503, 504}, Handle: s.postAccount})
	a.handle(Route{Method: "GET", Path: "/api/v1/accounts/{did}", Tag: "ledger",
		Summary:  "An account's state now (regeneration included)",
		Response: Account{}, Errors: []int{400, 404, 503, 504}, Handle: s.getAccount})
	a.handle(Route{Method: "GET", Path: "/api/v1/accounts/{did}/entries", Tag: "ledger",
		Summary: "An account's entries, newest first; next is the before= of the next page",
		Params: []Param{{Name: "limit", In: "query", Type: "integer", Description: fmt.Sprintf("at most this many (default and maximum %d)", messages.MaxListedEntries)},
			{Name: "before", In: "query", Type: "integer", Description: "only entries with a seq below this (the previous page's next)"}},
		Response: EntryList{}, Errors: []int{400, 404, 503, 504}, Handle: s.getEntries})
	a.handle(Route{Method: "GET", Path: "/api/v1/accounts/{did}/verify", Tag: "ledger",
		Summary: "Verify an account's whole chain: signatures, links, arithmetic, reservations, receipts",
		Description: "200 whether or not the chain verifies: valid says which, problems say why not. " +
			"4xx only when the account cannot be checked at all.",
		Response: VerifyReport{}, Errors: []int{400, 404, 503, 504}, Handle: s.getVerify})
	a.handle(Route{Method: "POST", Path: "/api/v1/transfers", Tag: "ledger",
		Summary: "Move mana from a local account (default the node's own) to another",
		Description: "Answers once the entries are durable; when the payee is local its receive lands in the same commit. " +
			"A refused transfer records nothing. With an idempotency_key (1 to 128 printable ASCII bytes, per payer), a retry after a lost answer " +
			"gets the first transfer's entries with replayed: true and pays nothing; the same key with another payee, amount or memo is 409 idempotency_key_reused, " +
			"and while the first is in progress 503 busy. Without a key, check the payer's entries before retrying.",
		Body: TransferRequest{}, BodyLimit: ledgerBodyLimit,
		Response: TransferResult{}, Status: http.StatusCreated, Errors: []int{400, 404, 409, 413, 415, 500, 503, 504}, Handle: s.postTransfer})
	a.handle(Route{Method: "POST", Path: "/api/v1/reservations", Tag: "ledger",
		Summary:     "Hold mana of a local account for a reference (a job id...) until it is released or settled",
		Description: "A reference is 1 to 128 printable ASCII bytes without spaces, open at most once per account.",
		Body:        ReserveRequest{}, BodyLimit: ledgerBodyLimit,
		Response: EntryResult{}, Status: http.StatusCreated, Errors: []int{400, 404, 409, 413, 415, 500, 503, 504}, Handle: s.postReservation})
	a.handle(Route{Method: "DELETE", Path: "/api/v1/reservations/{account}/{ref}", Tag: "ledger",
		Summary:     "Release a reservation: all of it returns to the account's available mana",
		Description: "Escape the reference as a path segment (a / in it is %2F).",
		Response:    EntryResult{}, Errors: []int{400, 404, 409, 500, 503, 504}, Handle: s.deleteReservation})
	a.handle(Route{Method: "POST", Path: "/api/v1/reservations/{account}/{ref}/settle", Tag: "ledger",
		Summary:     "Settle a reservation: pay part or all of it to another account, release the rest, in one entry",
		Description: "pay may be 0 (everything returns) up to the reservation's amount. A local payee's receive lands in the same commit.",
		Body:        SettleRequest{}, BodyLimit: ledgerBodyLimit,
		Response: EntryResult{}, Errors: []int{400, 404, 409, 413, 415, 500, 503, 504}, Handle: s.postSettle})
	a.handle(Route{Method: "GET", Path: "/api/v1/reputation/{did}", Tag: "ledger",
		Summary:  "This node's record of an executor: jobs, successes, failures, score (50 with no record)",
		Response: Reputation{}, Errors: []int{400, 500, 503, 504}, Handle: s.getReputation})
}

// ledgerCall sends msg to the ledger actor and checks the reply's type.
func ledgerCall[R any](s *Server, r *http.Request, msg any) (R, error) {
	return actorCall[R](s, r, ledgerActor, msg)
}

// stamp formats the node's times one way (as the dag routes do).
func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// cidString is "" for cid.Undef (an open entry's prev), not "b".
func cidString(c cid.Cid) string {
	if !c.Defined() {
		return ""
	}
	return c.String()
}

func account(a messages.AccountInfo) Account {
	return Account{DID: a.Account, Local: a.Local, Balance: a.Balance, Available: a.Available, Reserved: a.Reserved,
		Reservations: a.Reservations, Capacity: a.Capacity, RegenPerHour: a.RegenPerHour, Seq: a.Seq,
		Head: cidString(a.Head), AsOf: stamp(a.AsOf)}
}

func ledgerEntry(e messages.EntryInfo) LedgerEntry {
	return LedgerEntry{CID: cidString(e.CID), Account: e.Account, Seq: e.Seq, Prev: cidString(e.Prev), Op: e.Op,
		Amount: e.Amount, Counterparty: e.Counterparty, Ref: e.Ref, Source: cidString(e.Source), Memo: e.Memo,
		Time: stamp(e.Time), BalanceAfter: e.BalanceAfter, ReservedAfter: e.ReservedAfter}
}

// optionalEntry is the payee's receive entry, when there is one.
func optionalEntry(e *messages.EntryInfo) *LedgerEntry {
	if e == nil {
		return nil
	}
	out := ledgerEntry(*e)
	return &out
}

func (s *Server) getAccounts(w http.ResponseWriter, r *http.Request) error {
	reply, err := ledgerCall[*messages.AccountList](s, r, &messages.ListAccounts{})
	if err != nil {
		return err
	}
	out := AccountList{Accounts: make([]Account, 0, len(reply.Accounts))}
	for _, a := range reply.Accounts {
		out.Accounts = append(out.Accounts, account(a))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) postAccount(w http.ResponseWriter, r *http.Request) error {
	reply, err := ledgerCall[*messages.AccountInfo](s, r, &messages.CreateAccount{})
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "account created", "account", reply.Account)
	w.Header().Set("Location", "/api/v1/accounts/"+url.PathEscape(reply.Account))
	writeJSON(w, http.StatusCreated, account(*reply))
	return nil
}

func (s *Server) getAccount(w http.ResponseWriter, r *http.Request) error {
	reply, err := ledgerCall[*messages.AccountInfo](s, r, &messages.GetAccount{Account: r.PathValue("did")})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, account(*reply))
	return nil
}

func (s *Server) getEntries(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	msg := &messages.ListEntries{Account: r.PathValue("did")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > messages.MaxListedEntries {
			return BadRequest("?limit=%q: want 1 to %d", v, messages.MaxListedEntries)
		}
		msg.Limit = n
	}
	if v := q.Get("before"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return BadRequest("?before=%q: want a seq (a non-negative integer, the previous page's next)", v)
		}
		msg.Before = n
	}
	reply, err := ledgerCall[*messages.EntryList](s, r, msg)
	if err != nil {
		return err
	}
	out := EntryList{Entries: make([]LedgerEntry, 0, len(reply.Entries)), Next: reply.Next}
	for _, e := range reply.Entries {
		out.Entries = append(out.Entries, ledgerEntry(e))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getVerify(w http.ResponseWriter, r *http.Request) error {
	reply, err := ledgerCall[*messages.VerifyReport](s, r, &messages.VerifyAccount{Account: r.PathValue("did")})
	if err != nil {
		return err
	}
	out := VerifyReport{Account: reply.Account, Head: cidString(reply.Head), Valid: reply.Valid, Entries: reply.Entries,
		Problems: make([]VerifyProblem, 0, len(reply.Problems)), TookMS: float64(reply.Took.Microseconds()) / 1000}
	for _, p := range reply.Problems {
		out.Problems = append(out.Problems, VerifyProblem{Seq: p.Seq, CID: cidString(p.CID), Reason: p.Reason, Detail: p.Detail})
	}
	if !out.Valid {
		s.log.WarnContext(r.Context(), "account chain does not verify", "account", out.Account, "problems", len(out.Problems))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// The handlers below check only the request's shape (and that required
// fields are there); the ledger actor checks the values (DIDs, amounts,
// references), so the rules live in one place.

func (s *Server) postTransfer(w http.ResponseWriter, r *http.Request) error {
	var req TransferRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.To == "" {
		return BadRequest(`missing "to" (the payee's DID)`)
	}
	reply, err := ledgerCall[*messages.TransferReply](s, r, &messages.Transfer{From: req.From, To: req.To, Amount: req.Amount, Memo: req.Memo,
		Key: req.IdempotencyKey})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, TransferResult{Send: ledgerEntry(reply.Send), Receive: optionalEntry(reply.Receive), Replayed: reply.Replayed})
	return nil
}

func (s *Server) postReservation(w http.ResponseWriter, r *http.Request) error {
	var req ReserveRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	switch {
	case req.Account == "":
		return BadRequest(`missing "account" (the DID of a local account)`)
	case req.Ref == "":
		return BadRequest(`missing "ref" (the reservation's reference, such as a job id)`)
	}
	reply, err := ledgerCall[*messages.EntryReply](s, r, &messages.Reserve{Account: req.Account, Ref: req.Ref, Amount: req.Amount})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, EntryResult{Entry: ledgerEntry(reply.Entry), Receive: optionalEntry(reply.Receive)})
	return nil
}

func (s *Server) deleteReservation(w http.ResponseWriter, r *http.Request) error {
	reply, err := ledgerCall[*messages.EntryReply](s, r, &messages.Release{Account: r.PathValue("account"), Ref: r.PathValue("ref")})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, EntryResult{Entry: ledgerEntry(reply.Entry), Receive: optionalEntry(reply.Receive)})
	return nil
}

func (s *Server) postSettle(w http.ResponseWriter, r *http.Request) error {
	var req SettleRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if req.To == "" {
		return BadRequest(`missing "to" (the payee's DID)`)
	}
	reply, err := ledgerCall[*messages.EntryReply](s, r, &messages.Settle{Account: r.PathValue("account"), Ref: r.PathValue("ref"), Pay: req.Pay, To: req.To})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, EntryResult{Entry: ledgerEntry(reply.Entry), Receive: optionalEntry(reply.Receive)})
	return nil
}

func (s *Server) getReputation(w http.ResponseWriter, r *http.Request) error {
	reply, err := ledgerCall[*messages.ReputationInfo](s, r, &messages.GetReputation{DID: r.PathValue("did")})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, Reputation{DID: reply.DID, Jobs: reply.Jobs, Successes: reply.Successes, Failures: reply.Failures,
		Score: reply.Score, MeanDurationMS: float64(reply.MeanDuration.Microseconds()) / 1000})
	return nil
}
