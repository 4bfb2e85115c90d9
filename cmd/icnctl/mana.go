package main

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/intercooperative-network/icn-go/services/httpapi"
)

// The ledger API (services/httpapi/ledger.go).
const (
	accountsPath     = "/api/v1/accounts"
	transfersPath    = "/api/v1/transfers"
	reservationsPath = "/api/v1/reservations"
	reputationPath   = "/api/v1/reputation"

	maxListedEntries = 1000 // the node's maximum page of entries
)

func (a *app) manaCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mana",
		Short: "The mana ledger: accounts, balances, history, transfers, reservations, chain verification",
		Long: `mana drives the node's ledger through the public API (/api/v1/accounts,
/transfers, /reservations), with the api token.

An account is a DID (did:key:z...) whose entries form a signed chain in the
node's block store. The node holds the keys of its local accounts (its own,
listed first, and those made with "icnctl mana new-account"); only those can
send, reserve, release or settle. Mana regenerates with time up to the
account's capacity. A reservation holds mana for a reference (a job id...)
until it is released (all of it comes back) or settled (part or all of it is
paid to another account, the rest comes back).

Every write is acknowledged once it is durable, and a refused one records
nothing. A send with --key may be run again as it is when icnctl got no
answer (a timeout, a dropped connection): it pays once. Other writes are
not idempotent: look at "icnctl mana history DID" before retrying.

Amounts are whole numbers of mana; a malformed one is a usage error (exit
64). The node checks everything else and says what is wrong (exit 1).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.manaAccountsCmd(), a.manaNewAccountCmd(), a.manaBalanceCmd(), a.manaHistoryCmd(), a.manaSendCmd(),
		a.manaVerifyCmd(), a.manaReserveCmd(), a.manaReleaseCmd(), a.manaSettleCmd())
	return cmd
}

// parseAmount checks an AMOUNT argument before anything is sent. Whether
// the amount is allowed (not zero, within the node's cap, covered by the
// account) is the node's to say.
func parseAmount(what, s string) (uint64, error) {
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		return 0, usageErrorf("%s %q: want a whole number of mana, such as 250", what, s)
	}
	return n, nil
}

// nonEmpty refuses an empty DID or REF argument ("" would name another
// route, or the node's default account).
func nonEmpty(what, s string) error {
	if strings.TrimSpace(s) == "" {
		return usageErrorf("%s is empty", what)
	}
	return nil
}

// accountPath is /api/v1/accounts/DID plus rest, the DID escaped.
func accountPath(did, rest string) string { return accountsPath + "/" + url.PathEscape(did) + rest }

// reservationPath is /api/v1/reservations/DID/REF plus rest: a reference
// may hold a "/", which must stay inside its path segment.
func reservationPath(did, ref, rest string) string {
	return reservationsPath + "/" + url.PathEscape(did) + "/" + url.PathEscape(ref) + rest
}

// write sends body as JSON with method to path and decodes the answer,
// which must have status ok, into out; then prints it as JSON or with
// render. Ledger refusals come back explained.
func (a *app) write(cmd *cobra.Command, method, path string, body any, ok int, out any, render func(io.Writer)) error {
	c, err := a.client(cmd, apiListener())
	if err != nil {
		return err
	}
	ans, err := c.call(cmd.Context(), method, path, body, true, ok)
	if err != nil {
		return explainLedger(err)
	}
	if err := decodeAnswer(method, path, ans.Body, out); err != nil {
		return err
	}
	if a.json() {
		return writeJSON(cmd.OutOrStdout(), ans.Body)
	}
	render(cmd.OutOrStdout())
	return nil
}

// showLedger is show with the ledger's refusals explained.
func (a *app) showLedger(cmd *cobra.Command, path string, out any, render func(io.Writer)) error {
	return explainLedger(a.show(cmd, apiListener(), path, true, out, render))
}

func (a *app) manaAccountsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "accounts",
		Short: "The local accounts (keys this node holds) with their balances, the node's own first",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var l httpapi.AccountList
			return a.showLedger(cmd, accountsPath, &l, func(w io.Writer) { renderAccounts(w, l) })
		},
	}
}

func (a *app) manaNewAccountCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "new-account",
		Short: "Create a local account (a new key, opened with the initial allocation) and print its DID",
		Long: `new-account makes a new key on the node and opens its account with the
node's initial allocation of mana. It prints the DID alone on one line, so
that did=$(icnctl mana new-account) works; with -o json, the node's answer
(the new account's state).

Each call creates another account.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var acct httpapi.Account
			return a.write(cmd, http.MethodPost, accountsPath, nil, http.StatusCreated, &acct, func(w io.Writer) {
				fmt.Fprintln(w, clean(acct.DID))
			})
		},
	}
}

func (a *app) manaBalanceCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "balance [DID]",
		Short: "An account's mana now: available, reserved, regeneration (default: the node's own account)",
		Long: `balance shows an account's mana now, regeneration included: what it can
spend (available), what its open reservations hold (reserved), their sum
(balance), how fast it regenerates and up to what capacity, and its chain's
head. Without DID it shows the node's own account (the node's DID, as
"icnctl node" shows it).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var did string
			if len(args) == 1 {
				if err := nonEmpty("DID", args[0]); err != nil {
					return err
				}
				did = args[0]
			} else {
				// Asked by DID, not taken from the top of the account list:
				// when the node's own chain is refused (it does not replay),
				// the list starts with another account.
				var err error
				if did, err = a.nodeDID(cmd); err != nil {
					return err
				}
			}
			var acct httpapi.Account
			return a.showLedger(cmd, accountPath(did, ""), &acct, func(w io.Writer) { renderAccount(w, acct) })
		},
	}
}

func (a *app) manaHistoryCmd() *cobra.Command {
	var (
		limit  int
		before uint64
	)
	cmd := &cobra.Command{
		Use:   "history [DID]",
		Short: "An account's entries, newest first (default: the node's own account)",
		Long: `history lists an account's chain, newest entry first: each entry's seq,
time, op (open, send, receive, reserve, release, settle), amount, the other
account, the reservation's reference, the available and reserved mana after
it, and its memo. Without DID it lists the node's own account (the node's
DID, as "icnctl node" shows it).

A page holds at most --limit entries; when older ones follow, the last line
says how to ask for them (--before SEQ).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				if err := nonEmpty("DID", args[0]); err != nil {
					return err
				}
			}
			if limit < 0 || limit > maxListedEntries {
				return usageErrorf("--limit %d: want 1 to %d (0: the node's maximum)", limit, maxListedEntries)
			}
			did := ""
			if len(args) == 1 {
				did = args[0]
			} else {
				var err error
				if did, err = a.nodeDID(cmd); err != nil {
					return err
				}
			}
			q := url.Values{}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			if before > 0 {
				q.Set("before", strconv.FormatUint(before, 10))
			}
			var l httpapi.EntryList
			return a.showLedger(cmd, withQuery(accountPath(did, "/entries"), q), &l, func(w io.Writer) { renderEntries(w, did, l) })
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 0, fmt.Sprintf("at most this many entries (default: the node's maximum, %d)", maxListedEntries))
	cmd.Flags().Uint64Var(&before, "before", 0, "only entries older than this seq (the next page)")
	return cmd
}

// nodeDID asks the node for its DID, which names its own account.
func (a *app) nodeDID(cmd *cobra.Command) (string, error) {
	c, err := a.client(cmd, apiListener())
	if err != nil {
		return "", err
	}
	var n httpapi.NodeInfo
	if _, err := c.getJSON(cmd.Context(), "/api/v1/node", true, &n); err != nil {
		return "", err
	}
	if n.DID == "" {
		return "", errors.New("the node did not say its DID (GET /api/v1/node)")
	}
	return n.DID, nil
}

func (a *app) manaSendCmd() *cobra.Command {
	var from, to, memo, key string
	cmd := &cobra.Command{
		Use:   "send DID AMOUNT [--from DID] [--memo TEXT] [--key KEY]",
		Short: "Transfer mana from a local account (default: the node's own) to another account",
		Long: `send moves AMOUNT mana from a local account (--from, default the node's own)
to the account DID, with an optional --memo (at most 256 bytes). When the
payee is local too, its receive lands in the same commit; otherwise the
payee's own node records it. "send --to DID AMOUNT" names the payee too.

With --key (an idempotency key: 1 to 128 printable ASCII bytes, chosen by
you, unique per payment), running the same send again pays nothing and
prints the first one's entries: retry with the same key when an answer was
lost. The same key with another payee, amount or memo is refused
(idempotency_key_reused).

The node refuses an amount of zero or over its per-operation cap
(invalid_amount), more than the payer has available (insufficient_mana, with
how much it has), and a payer whose key it does not hold (not_local).`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				if err := nonEmpty("DID", args[0]); err != nil {
					return err
				}
				if to != "" && to != args[0] {
					return usageErrorf("two payees: DID %s and --to %s", args[0], to)
				}
				to, args = args[0], args[1:]
			}
			amount, err := parseAmount("AMOUNT", args[0])
			if err != nil {
				return err
			}
			if to == "" {
				return usageErrorf("no payee: icnctl mana send DID AMOUNT")
			}
			if cmd.Flags().Changed("from") {
				if err := nonEmpty("--from", from); err != nil {
					return err
				}
			}
			if cmd.Flags().Changed("key") {
				if err := nonEmpty("--key", key); err != nil {
					return err
				}
			}
			var r httpapi.TransferResult
			req := httpapi.TransferRequest{From: from, To: to, Amount: amount, Memo: memo, IdempotencyKey: key}
			return a.write(cmd, http.MethodPost, transfersPath, req,
				http.StatusCreated, &r, func(w io.Writer) { renderTransfer(w, r) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&to, "to", "", "the payee's DID (instead of the DID argument)")
	f.StringVar(&from, "from", "", "the paying local account's DID (default: the node's own)")
	f.StringVar(&memo, "memo", "", "a note kept in the entry (at most 256 bytes)")
	f.StringVar(&key, "key", "", "an idempotency key: the same send with the same key pays once")
	return cmd
}

func (a *app) manaVerifyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "verify DID",
		Short: "Verify an account's whole chain: signatures, links, arithmetic, reservations",
		Long: `verify asks the node to check an account's chain from its open entry to its
head: every signature, every link, times, seqs, the arithmetic of every
balance, reservations and receipts. It lists what it found wrong, if
anything.

Exit status: 0 when the chain verifies, 2 when it does not (the problems are
printed), 1 when it could not be checked.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := nonEmpty("DID", args[0]); err != nil {
				return err
			}
			var v httpapi.VerifyReport
			if err := a.showLedger(cmd, accountPath(args[0], "/verify"), &v, func(w io.Writer) { renderVerify(w, v) }); err != nil {
				return err
			}
			if !v.Valid {
				return &unwellError{state: "holding an account chain that does not verify"}
			}
			return nil
		},
	}
}

func (a *app) manaReserveCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "reserve DID REF AMOUNT",
		Short: "Hold AMOUNT mana of a local account for REF (a job id...) until released or settled",
		Long: `reserve takes AMOUNT out of the account's available mana and holds it for
the reference REF: 1 to 128 printable ASCII characters without spaces, open
at most once per account. "icnctl mana release" returns it; "icnctl mana
settle" pays part or all of it to another account.`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			did, ref := args[0], args[1]
			if err := errors.Join(nonEmpty("DID", did), nonEmpty("REF", ref)); err != nil {
				return err
			}
			amount, err := parseAmount("AMOUNT", args[2])
			if err != nil {
				return err
			}
			var r httpapi.EntryResult
			return a.write(cmd, http.MethodPost, reservationsPath, httpapi.ReserveRequest{Account: did, Ref: ref, Amount: amount},
				http.StatusCreated, &r, func(w io.Writer) { renderReserve(w, r) })
		},
	}
}

func (a *app) manaReleaseCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "release DID REF",
		Short: "Release a reservation: all of it returns to the account's available mana",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			did, ref := args[0], args[1]
			if err := errors.Join(nonEmpty("DID", did), nonEmpty("REF", ref)); err != nil {
				return err
			}
			var r httpapi.EntryResult
			return a.write(cmd, http.MethodDelete, reservationPath(did, ref, ""), nil, http.StatusOK, &r,
				func(w io.Writer) { renderRelease(w, r) })
		},
	}
}

func (a *app) manaSettleCmd() *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "settle DID REF --to DID AMOUNT",
		Short: "Settle a reservation: pay AMOUNT of it to --to, return the rest, in one entry",
		Long: `settle closes the reservation REF of the local account DID: it pays AMOUNT
(0 up to what the reservation holds) to --to and returns the rest to DID's
available mana, in one entry. When the payee is local, its receive lands in
the same commit.`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			did, ref := args[0], args[1]
			if err := errors.Join(nonEmpty("DID", did), nonEmpty("REF", ref)); err != nil {
				return err
			}
			pay, err := parseAmount("AMOUNT", args[2])
			if err != nil {
				return err
			}
			if to == "" {
				return usageErrorf("--to is required: the DID of the account to pay")
			}
			var r httpapi.EntryResult
			return a.write(cmd, http.MethodPost, reservationPath(did, ref, "/settle"), httpapi.SettleRequest{To: to, Pay: pay},
				http.StatusOK, &r, func(w io.Writer) { renderSettle(w, r) })
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "the payee's DID (required)")
	return cmd
}

func (a *app) reputationCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "reputation DID",
		Short: "This node's record of an executor: jobs, successes, failures, score",
		Long: `reputation shows what this node recorded of the jobs an executor ran for
it: how many, how many succeeded and failed, their mean duration, and a score
from 0 to 100 ((successes+1)/(jobs+2): 50 for an executor with no record).
It is this node's own judgement, not a signed chain.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := nonEmpty("DID", args[0]); err != nil {
				return err
			}
			var r httpapi.Reputation
			return a.showLedger(cmd, reputationPath+"/"+url.PathEscape(args[0]), &r, func(w io.Writer) { renderReputation(w, r) })
		},
	}
}

// explainLedger adds advice to the ledger's refusals that have a next step.
func explainLedger(err error) error {
	return withAdvice(err, func(ae *APIError) (lines []string) {
		switch ae.Body.Code {
		case httpapi.CodeInsufficientMana:
			// The message already says how much is available and needed.
			lines = append(lines, "Mana regenerates with time (icnctl mana balance shows the rate); open reservations hold mana until released or settled.")
		case httpapi.CodeNotLocal:
			lines = append(lines, "Only accounts whose key this node holds can pay or reserve; icnctl mana accounts lists them.")
		case httpapi.CodeUnknownAccount:
			lines = append(lines, "This node keeps no chain for that account; icnctl mana accounts lists the ones it keeps.")
		case httpapi.CodeKeyReused:
			lines = append(lines, "A key names one payment: use a new key for a new one; icnctl mana history DID shows the payment made under it.")
		case httpapi.CodeUnknownReservation:
			lines = append(lines, "No reservation by that reference is open on the account (released or settled already?); icnctl mana history DID shows its entries.")
		case httpapi.CodeUnavailable:
			if ae.Body.Details["state"] == "loading" {
				lines = append(lines, "The ledger is loading its accounts after a start or restart; try again shortly.")
			}
		}
		return lines
	})
}
