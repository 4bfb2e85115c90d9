package main

import (
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/actors/ledger"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/httpapi"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/store/memstore"
)

// Canned ledger state: the node's account, a second local one, a remote one.
const (
	didNode   = "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp"
	didLocal  = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
	didRemote = "did:key:z6MkpTHR8VNsBxYAAWHut2Geadd9jSwuBV8xRoAnwWsdvktH"
	cidHead   = "bafyreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
	cidPrev   = "bafyreiabcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst"
)

func cannedAccount(did string, avail, reserved uint64, resv int, seq uint64) httpapi.Account {
	return httpapi.Account{DID: did, Local: true, Balance: avail + reserved, Available: avail, Reserved: reserved,
		Reservations: resv, Capacity: 10000, RegenPerHour: 100, Seq: seq, Head: cidHead, AsOf: "2026-11-27T14:00:05.25Z"}
}

func cannedAccounts() httpapi.AccountList {
	return httpapi.AccountList{Accounts: []httpapi.Account{cannedAccount(didNode, 700, 400, 2, 3), cannedAccount(didLocal, 1300, 0, 0, 1)}}
}

func entry(did string, seq uint64, op string, amount uint64, counterparty, ref, memo string, avail, reserved uint64) httpapi.LedgerEntry {
	return httpapi.LedgerEntry{CID: cidHead, Account: did, Seq: seq, Prev: cidPrev, Op: op, Amount: amount, Counterparty: counterparty,
		Ref: ref, Memo: memo, Time: "2026-11-27T13:30:00.125Z", BalanceAfter: avail, ReservedAfter: reserved}
}

// ledgerRefusal is the node's answer to a refused ledger request.
func ledgerRefusal(status int, code, msg string, details map[string]any) http.HandlerFunc {
	return reply(status, httpapi.ErrorBody{Error: msg, Code: code, Details: details})
}

func TestManaReads(t *testing.T) {
	page := httpapi.EntryList{Entries: []httpapi.LedgerEntry{
		entry(didNode, 3, "reserve", 400, "", "job/1", "", 700, 400),
		entry(didNode, 2, "send", 300, didLocal, "", "seeds\x1b[2J for the garden, and a memo long enough to be cut", 1100, 0),
	}, Next: 2}
	verified := httpapi.VerifyReport{Account: didNode, Head: cidHead, Valid: true, Entries: 4, Problems: []httpapi.VerifyProblem{}, TookMS: 1.5}
	rep := httpapi.Reputation{DID: didRemote, Jobs: 8, Successes: 7, Failures: 1, Score: 80, MeanDurationMS: 1234.5}
	n := newNode(t, false)
	mux := n.api.mux
	mux.HandleFunc("GET /api/v1/accounts", reply(http.StatusOK, cannedAccounts()))
	mux.HandleFunc("GET /api/v1/accounts/{did}", func(w http.ResponseWriter, r *http.Request) {
		for _, acct := range cannedAccounts().Accounts {
			if r.PathValue("did") == acct.DID {
				reply(http.StatusOK, acct)(w, r)
				return
			}
		}
		ledgerRefusal(http.StatusNotFound, httpapi.CodeUnknownAccount, "ledger: unknown account: "+r.PathValue("did"), nil)(w, r)
	})
	mux.HandleFunc("GET /api/v1/accounts/{did}/entries", reply(http.StatusOK, page))
	mux.HandleFunc("GET /api/v1/accounts/{did}/verify", reply(http.StatusOK, verified))
	mux.HandleFunc("GET /api/v1/reputation/{did}", reply(http.StatusOK, rep))

	accounts := "ACCOUNT" + strings.Repeat(" ", len(didNode)+7-len("ACCOUNT")+2) + "AVAILABLE  RESERVED  BALANCE  RESERVATIONS  SEQ\n" +
		didNode + " (node)  700        400       1100     2             3\n" +
		didLocal + "         1300       0         1300     0             1\n"
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
		req    string // method and URI of each request, "; " between; "" when nothing may be sent
	}{
		{"accounts", []string{"mana", "accounts"}, exitOK, accounts, "", "GET /api/v1/accounts"},
		{"balance of the node's own account", []string{"mana", "balance"}, exitOK,
			"Account       " + didNode + "\nAvailable     700\nReserved      400 (2 reservations)\nBalance       1100\n" +
				"Regeneration  100 per hour, up to 10000\nHead          " + cidHead + " (seq 3)\nAs of         2026-11-27T14:00:05Z\n", "",
			"GET /api/v1/node; GET /api/v1/accounts/" + didNode},
		{"balance of an account", []string{"mana", "balance", didLocal}, exitOK,
			"Account       " + didLocal + "\nAvailable     1300\nReserved      0 (0 reservations)\nBalance       1300\n" +
				"Regeneration  100 per hour, up to 10000\nHead          " + cidHead + " (seq 1)\nAs of         2026-11-27T14:00:05Z\n", "",
			"GET /api/v1/accounts/" + didLocal},
		{"balance of an unknown account", []string{"mana", "balance", didRemote}, exitError, "",
			"icnctl: ledger: unknown account: " + didRemote + " (unknown_account)\n" +
				"  This node keeps no chain for that account; icnctl mana accounts lists the ones it keeps.\n",
			"GET /api/v1/accounts/" + didRemote},
		{"history, a page", []string{"mana", "history", didNode, "--limit", "2", "--before", "4"}, exitOK,
			"SEQ  TIME                  OP       AMOUNT  COUNTERPARTY                                              REF    AVAILABLE  RESERVED  MEMO\n" +
				"3    2026-11-27T13:30:00Z  reserve  400     -                                                         job/1  700        400       -\n" +
				"2    2026-11-27T13:30:00Z  send     300     " + didLocal + "  -      1100       0         seeds?[2J for the garden, and a memo ...\n" +
				"more: icnctl mana history " + didNode + " --before 2\n", "",
			"GET /api/v1/accounts/" + didNode + "/entries?before=4&limit=2"},
		{"history, a bad limit", []string{"mana", "history", didNode, "--limit", "5000"}, exitUsage, "",
			"icnctl: --limit 5000: want 1 to 1000 (0: the node's maximum)\nRun 'icnctl mana history --help' for usage.\n", ""},
		{"history of the node's own account", []string{"mana", "history", "--limit", "2"}, exitOK,
			"SEQ  TIME                  OP       AMOUNT  COUNTERPARTY                                              REF    AVAILABLE  RESERVED  MEMO\n" +
				"3    2026-11-27T13:30:00Z  reserve  400     -                                                         job/1  700        400       -\n" +
				"2    2026-11-27T13:30:00Z  send     300     " + didLocal + "  -      1100       0         seeds?[2J for the garden, and a memo ...\n" +
				"more: icnctl mana history " + didNode + " --before 2\n", "",
			"GET /api/v1/node; GET /api/v1/accounts/" + didNode + "/entries?limit=2"},
		{"history of two accounts", []string{"mana", "history", didNode, didLocal}, exitUsage, "",
			"icnctl: accepts at most 1 arg(s), received 2\nRun 'icnctl mana history --help' for usage.\n", ""},
		{"verify, valid", []string{"mana", "verify", didNode}, exitOK,
			"valid: " + didNode + ", 4 entries up to " + cidHead + ", checked in 1.5ms\n", "", "GET /api/v1/accounts/" + didNode + "/verify"},
		{"reputation", []string{"reputation", didRemote}, exitOK,
			"DID            " + didRemote + "\nScore          80 of 100\nJobs           8 (7 succeeded, 1 failed)\nMean duration  1.235s\n", "",
			"GET /api/v1/reputation/" + didRemote},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(n.api.requests())
			r := runCmd(t, n.flags(tt.args...)...)
			r.expect(t, tt.code, tt.stdout, tt.stderr)
			reqs := n.api.requests()[before:]
			if tt.req == "" {
				if len(reqs) != 0 {
					t.Fatalf("a request was sent: %+v", reqs)
				}
				return
			}
			var sent []string
			for _, q := range reqs {
				if q.auth != "Bearer "+apiToken || q.body != "" {
					t.Fatalf("request: %+v", q)
				}
				sent = append(sent, q.method+" "+q.uri)
			}
			if strings.Join(sent, "; ") != tt.req {
				t.Fatalf("requests: %s\n  want %s", strings.Join(sent, "; "), tt.req)
			}
		})
	}

	// -o json prints the node's answer; balance without DID, the node's own
	// account out of the list.
	for _, tt := range []struct {
		args []string
		want any
	}{
		{[]string{"mana", "accounts"}, cannedAccounts()},
		{[]string{"mana", "balance"}, cannedAccounts().Accounts[0]},
		{[]string{"mana", "history", didNode}, page},
		{[]string{"mana", "history"}, page},
		{[]string{"mana", "verify", didNode}, verified},
		{[]string{"reputation", didRemote}, rep},
	} {
		r := runCmd(t, n.flags(append([]string{"-o", "json"}, tt.args...)...)...)
		if r.code != exitOK || !strings.HasPrefix(r.stdout, "{\n  \"") || normalize(t, []byte(r.stdout)) != normalize(t, mustJSON(t, tt.want)) {
			t.Fatalf("-o json %s: exit %d: %s%s", strings.Join(tt.args, " "), r.code, r.stdout, r.stderr)
		}
	}

	empty := newNode(t, false)
	empty.api.mux.HandleFunc("GET /api/v1/accounts", reply(http.StatusOK, httpapi.AccountList{Accounts: []httpapi.Account{}}))
	empty.api.mux.HandleFunc("GET /api/v1/accounts/{did}/entries", reply(http.StatusOK, httpapi.EntryList{Entries: []httpapi.LedgerEntry{}}))
	if r := runCmd(t, empty.flags("mana", "accounts")...); r.code != exitOK || r.stdout != "no local accounts\n" {
		t.Fatalf("no accounts: exit %d %q", r.code, r.stdout)
	}
	if r := runCmd(t, empty.flags("mana", "history", didNode)...); r.code != exitOK || r.stdout != "no entries\n" {
		t.Fatalf("no entries: exit %d %q", r.code, r.stdout)
	}

	// The node's own chain refused (it does not replay): the list starts
	// with another local account, which balance must not show as the node's.
	refused := newNode(t, false)
	refused.api.mux.HandleFunc("GET /api/v1/accounts", reply(http.StatusOK, httpapi.AccountList{Accounts: cannedAccounts().Accounts[1:]}))
	refused.api.mux.HandleFunc("GET /api/v1/accounts/{did}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("did") == didLocal {
			reply(http.StatusOK, cannedAccounts().Accounts[1])(w, r)
			return
		}
		ledgerRefusal(http.StatusNotFound, httpapi.CodeUnknownAccount, "ledger: unknown account: "+r.PathValue("did"), nil)(w, r)
	})
	for _, output := range []string{"text", "json"} {
		r := runCmd(t, refused.flags("-o", output, "mana", "balance")...)
		if r.code != exitError || r.stdout != "" || !strings.HasPrefix(r.stderr, "icnctl: ledger: unknown account: "+didNode+" (unknown_account)\n") {
			t.Fatalf("-o %s balance of a refused own account: exit %d\nstdout %q\nstderr %q", output, r.code, r.stdout, r.stderr)
		}
	}
}

func TestManaVerifyFindsProblems(t *testing.T) {
	report := httpapi.VerifyReport{Account: didNode, Head: cidHead, Valid: false, Entries: 5, TookMS: 0.25, Problems: []httpapi.VerifyProblem{
		{Seq: 3, CID: cidPrev, Reason: "bad_signature", Detail: "the signature does not verify with the account's key"},
		{Seq: 4, Reason: "missing_block"},
	}}
	n := newNode(t, false)
	n.api.mux.HandleFunc("GET /api/v1/accounts/{did}/verify", reply(http.StatusOK, report))
	want := "INVALID: " + didNode + ", 2 problems in 5 entries up to " + cidHead + ", checked in 250µs\n" +
		"SEQ  CID" + strings.Repeat(" ", len(cidPrev)-1) + "REASON         DETAIL\n" +
		"3    " + cidPrev + "  bad_signature  the signature does not verify with the account's key\n" +
		"4    -" + strings.Repeat(" ", len(cidPrev)+1) + "missing_block  -\n"
	r := runCmd(t, n.flags("mana", "verify", didNode)...)
	if r.code != exitUnwell || r.stdout != want || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q, got:\n%s\nwant:\n%s", r.code, r.stderr, r.stdout, want)
	}
	r = runCmd(t, n.flags("-o", "json", "mana", "verify", didNode)...)
	if r.code != exitUnwell || normalize(t, []byte(r.stdout)) != normalize(t, mustJSON(t, report)) {
		t.Fatalf("-o json: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
}

func TestManaWrites(t *testing.T) {
	send := entry(didNode, 4, "send", 300, didLocal, "", "seeds", 400, 400)
	recv := entry(didLocal, 2, "receive", 300, didNode, "", "", 1600, 0)
	remoteSend := entry(didNode, 4, "send", 5, didRemote, "", "", 695, 400)
	reserve := entry(didNode, 4, "reserve", 400, "", "job/1", "", 300, 800)
	release := entry(didNode, 5, "release", 400, "", "job/1", "", 700, 400)
	settle := entry(didNode, 5, "settle", 250, didLocal, "job/1", "", 450, 400)
	settleRemote := entry(didNode, 5, "settle", 250, didRemote, "job/1", "", 450, 400)
	settleNothing := entry(didNode, 5, "settle", 0, didLocal, "job/1", "", 700, 400)
	insufficient := "insufficient mana: " + didNode + " has 700 available, needs 5000: send of 5000 with 700 available"
	tests := []struct {
		name    string
		args    []string
		pattern string // the fake's route
		answer  http.HandlerFunc
		code    int
		stdout  string
		stderr  string
		req     string // method, URI and body; "" when nothing may be sent
	}{
		{"send to a local account", []string{"send", didLocal, "300", "--memo", "seeds"}, "POST /api/v1/transfers",
			reply(http.StatusCreated, httpapi.TransferResult{Send: send, Receive: &recv}), exitOK,
			"sent 300 from " + didNode + " to " + didLocal + " (seq 4); " + didNode + " has 400 available\n" +
				didLocal + " received it here (seq 2); it has 1600 available\n", "",
			`POST /api/v1/transfers {"to":"` + didLocal + `","amount":300,"memo":"seeds"}`},
		{"send from an account to a remote one", []string{"send", "--from", didNode, didRemote, "5"}, "POST /api/v1/transfers",
			reply(http.StatusCreated, httpapi.TransferResult{Send: remoteSend}), exitOK,
			"sent 5 from " + didNode + " to " + didRemote + " (seq 4); " + didNode + " has 695 available\n" +
				didRemote + " is not local: its own node records the receive\n", "",
			`POST /api/v1/transfers {"from":"` + didNode + `","to":"` + didRemote + `","amount":5}`},
		{"send more than there is", []string{"send", didLocal, "5000"}, "POST /api/v1/transfers",
			ledgerRefusal(http.StatusConflict, httpapi.CodeInsufficientMana, insufficient, map[string]any{"account": didNode, "available": 700, "needed": 5000}),
			exitError, "", "icnctl: " + insufficient + " (insufficient_mana)\n" +
				"  Mana regenerates with time (icnctl mana balance shows the rate); open reservations hold mana until released or settled.\n",
			`POST /api/v1/transfers {"to":"` + didLocal + `","amount":5000}`},
		{"send from a remote account", []string{"send", "--from", didRemote, "--to", didLocal, "1"}, "POST /api/v1/transfers",
			ledgerRefusal(http.StatusConflict, httpapi.CodeNotLocal, "ledger: account is not local: "+didRemote, nil), exitError, "",
			"icnctl: ledger: account is not local: " + didRemote + " (not_local)\n" +
				"  Only accounts whose key this node holds can pay or reserve; icnctl mana accounts lists them.\n",
			`POST /api/v1/transfers {"from":"` + didRemote + `","to":"` + didLocal + `","amount":1}`},
		{"send while the ledger loads", []string{"send", "--to", didLocal, "1"}, "POST /api/v1/transfers",
			func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "1")
				ledgerRefusal(http.StatusServiceUnavailable, httpapi.CodeUnavailable, "supervisors: ledger is unavailable (loading)",
					map[string]any{"actor": "ledger", "state": "loading"})(w, nil)
			}, exitError, "",
			"icnctl: supervisors: ledger is unavailable (loading) (unavailable), retry after 1s\n" +
				"  The ledger is loading its accounts after a start or restart; try again shortly.\n",
			`POST /api/v1/transfers {"to":"` + didLocal + `","amount":1}`},
		{"send with --to, the payee's other name", []string{"send", "--to", didLocal, "--memo", "seeds", "300"}, "POST /api/v1/transfers",
			reply(http.StatusCreated, httpapi.TransferResult{Send: send, Receive: &recv}), exitOK,
			"sent 300 from " + didNode + " to " + didLocal + " (seq 4); " + didNode + " has 400 available\n" +
				didLocal + " received it here (seq 2); it has 1600 available\n", "",
			`POST /api/v1/transfers {"to":"` + didLocal + `","amount":300,"memo":"seeds"}`},
		{"send to the same payee twice named", []string{"send", "--to", didLocal, didLocal, "300"}, "POST /api/v1/transfers",
			reply(http.StatusCreated, httpapi.TransferResult{Send: send, Receive: &recv}), exitOK,
			"sent 300 from " + didNode + " to " + didLocal + " (seq 4); " + didNode + " has 400 available\n" +
				didLocal + " received it here (seq 2); it has 1600 available\n", "",
			`POST /api/v1/transfers {"to":"` + didLocal + `","amount":300}`},
		{"send with a key", []string{"send", didLocal, "300", "--memo", "seeds", "--key", "invoice-7"}, "POST /api/v1/transfers",
			reply(http.StatusCreated, httpapi.TransferResult{Send: send, Receive: &recv}), exitOK,
			"sent 300 from " + didNode + " to " + didLocal + " (seq 4); " + didNode + " has 400 available\n" +
				didLocal + " received it here (seq 2); it has 1600 available\n", "",
			`POST /api/v1/transfers {"to":"` + didLocal + `","amount":300,"memo":"seeds","idempotency_key":"invoice-7"}`},
		{"send again with the key", []string{"send", didLocal, "300", "--memo", "seeds", "--key", "invoice-7"}, "POST /api/v1/transfers",
			reply(http.StatusCreated, httpapi.TransferResult{Send: send, Receive: &recv, Replayed: true}), exitOK,
			"already sent under this key, nothing paid now: 300 from " + didNode + " to " + didLocal + " (seq 4), after which " + didNode + " had 400 available\n" +
				didLocal + " received it here (seq 2)\n", "",
			`POST /api/v1/transfers {"to":"` + didLocal + `","amount":300,"memo":"seeds","idempotency_key":"invoice-7"}`},
		{"send another amount under a used key", []string{"send", didLocal, "301", "--key", "invoice-7"}, "POST /api/v1/transfers",
			ledgerRefusal(http.StatusConflict, httpapi.CodeKeyReused, `ledger: idempotency key already used for another transfer: "invoice-7" paid 300`, nil),
			exitError, "", "icnctl: ledger: idempotency key already used for another transfer: \"invoice-7\" paid 300 (idempotency_key_reused)\n" +
				"  A key names one payment: use a new key for a new one; icnctl mana history DID shows the payment made under it.\n",
			`POST /api/v1/transfers {"to":"` + didLocal + `","amount":301,"idempotency_key":"invoice-7"}`},
		{"send with an empty key", []string{"send", didLocal, "1", "--key", ""}, "", nil, exitUsage, "",
			"icnctl: --key is empty\nRun 'icnctl mana send --help' for usage.\n", ""},
		{"send to two payees", []string{"send", "--to", didRemote, didLocal, "300"}, "", nil, exitUsage, "",
			"icnctl: two payees: DID " + didLocal + " and --to " + didRemote + "\nRun 'icnctl mana send --help' for usage.\n", ""},
		{"send to an empty DID", []string{"send", " ", "300"}, "", nil, exitUsage, "",
			"icnctl: DID is empty\nRun 'icnctl mana send --help' for usage.\n", ""},
		{"send a malformed amount", []string{"send", didLocal, "12x"}, "", nil, exitUsage, "",
			"icnctl: AMOUNT \"12x\": want a whole number of mana, such as 250\nRun 'icnctl mana send --help' for usage.\n", ""},
		{"send without a payee", []string{"send", "12"}, "", nil, exitUsage, "",
			"icnctl: no payee: icnctl mana send DID AMOUNT\nRun 'icnctl mana send --help' for usage.\n", ""},
		{"send nothing", []string{"send"}, "", nil, exitUsage, "",
			"icnctl: accepts between 1 and 2 arg(s), received 0\nRun 'icnctl mana send --help' for usage.\n", ""},
		{"send from nobody", []string{"send", "--from", " ", "--to", didLocal, "12"}, "", nil, exitUsage, "",
			"icnctl: --from is empty\nRun 'icnctl mana send --help' for usage.\n", ""},
		{"new account", []string{"new-account"}, "POST /api/v1/accounts",
			reply(http.StatusCreated, cannedAccount(didLocal, 1000, 0, 0, 0)), exitOK, didLocal + "\n", "", "POST /api/v1/accounts "},
		{"reserve", []string{"reserve", didNode, "job/1", "400"}, "POST /api/v1/reservations",
			reply(http.StatusCreated, httpapi.EntryResult{Entry: reserve}), exitOK,
			"reserved 400 of " + didNode + " for job/1 (seq 4); it has 300 available, 800 reserved\n", "",
			`POST /api/v1/reservations {"account":"` + didNode + `","ref":"job/1","amount":400}`},
		{"reserve an open reference", []string{"reserve", didNode, "job/1", "400"}, "POST /api/v1/reservations",
			ledgerRefusal(http.StatusConflict, httpapi.CodeDuplicateReservation, `ledger: reservation already open: reservation "job/1" is already open`, nil),
			exitError, "", "icnctl: ledger: reservation already open: reservation \"job/1\" is already open (duplicate_reservation)\n",
			`POST /api/v1/reservations {"account":"` + didNode + `","ref":"job/1","amount":400}`},
		{"reserve with an empty reference", []string{"reserve", didNode, "", "400"}, "", nil, exitUsage, "",
			"icnctl: REF is empty\nRun 'icnctl mana reserve --help' for usage.\n", ""},
		{"release, the reference escaped", []string{"release", didNode, "job/1"}, "DELETE /api/v1/reservations/{account}/{ref}",
			reply(http.StatusOK, httpapi.EntryResult{Entry: release}), exitOK,
			"released job/1 of " + didNode + ": 400 back (seq 5); it has 700 available, 400 reserved\n", "",
			"DELETE /api/v1/reservations/" + didNode + "/job%2F1 "},
		{"release of none", []string{"release", didNode, "job-9"}, "DELETE /api/v1/reservations/{account}/{ref}",
			ledgerRefusal(http.StatusNotFound, httpapi.CodeUnknownReservation, `ledger: unknown reservation: "job-9" on `+didNode, nil), exitError, "",
			"icnctl: ledger: unknown reservation: \"job-9\" on " + didNode + " (unknown_reservation)\n" +
				"  No reservation by that reference is open on the account (released or settled already?); icnctl mana history DID shows its entries.\n",
			"DELETE /api/v1/reservations/" + didNode + "/job-9 "},
		{"settle to a local account", []string{"settle", didNode, "job/1", "--to", didLocal, "250"}, "POST /api/v1/reservations/{account}/{ref}/settle",
			reply(http.StatusOK, httpapi.EntryResult{Entry: settle, Receive: &recv}), exitOK,
			"settled job/1 of " + didNode + ": paid 250 to " + didLocal + " (seq 5); it has 450 available, 400 reserved\n" +
				didLocal + " received it here (seq 2); it has 1600 available\n", "",
			"POST /api/v1/reservations/" + didNode + `/job%2F1/settle {"to":"` + didLocal + `","pay":250}`},
		{"settle to a remote account", []string{"settle", didNode, "job/1", "--to", didRemote, "250"}, "POST /api/v1/reservations/{account}/{ref}/settle",
			reply(http.StatusOK, httpapi.EntryResult{Entry: settleRemote}), exitOK,
			"settled job/1 of " + didNode + ": paid 250 to " + didRemote + " (seq 5); it has 450 available, 400 reserved\n" +
				didRemote + " is not local: its own node records the receive\n", "",
			"POST /api/v1/reservations/" + didNode + `/job%2F1/settle {"to":"` + didRemote + `","pay":250}`},
		{"settle paying nothing", []string{"settle", didNode, "job/1", "--to", didLocal, "0"}, "POST /api/v1/reservations/{account}/{ref}/settle",
			reply(http.StatusOK, httpapi.EntryResult{Entry: settleNothing}), exitOK,
			"settled job/1 of " + didNode + ": paid 0 to " + didLocal + " (seq 5); it has 700 available, 400 reserved\n", "",
			"POST /api/v1/reservations/" + didNode + `/job%2F1/settle {"to":"` + didLocal + `","pay":0}`},
		{"settle without a payee", []string{"settle", didNode, "job/1", "250"}, "", nil, exitUsage, "",
			"icnctl: --to is required: the DID of the account to pay\nRun 'icnctl mana settle --help' for usage.\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t, false)
			if tt.pattern != "" {
				n.api.mux.HandleFunc(tt.pattern, tt.answer)
			}
			r := runCmd(t, n.flags(append([]string{"mana"}, tt.args...)...)...)
			r.expect(t, tt.code, tt.stdout, tt.stderr)
			sentOne(t, n.api.requests(), tt.req, apiToken)
		})
	}

	// -o json prints the node's answer as it is.
	n := newNode(t, false)
	answer := httpapi.TransferResult{Send: send, Receive: &recv}
	n.api.mux.HandleFunc("POST /api/v1/transfers", reply(http.StatusCreated, answer))
	r := runCmd(t, n.flags("-o", "json", "mana", "send", didLocal, "300")...)
	if r.code != exitOK || normalize(t, []byte(r.stdout)) != normalize(t, mustJSON(t, answer)) {
		t.Fatalf("-o json: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
}

// realLedger makes the real ledger actor, on a memory keyring and store,
// without regeneration (balances do not move with the wall clock). did is
// the node's own account.
func realLedger(t *testing.T) (did string, newLedger func(prometheus.Registerer) func() actor.Actor) {
	id, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return string(id.DID()), func(reg prometheus.Registerer) func() actor.Actor {
		m, err := ledger.NewMetrics(reg)
		if err != nil {
			t.Fatal(err)
		}
		p := ledger.DefaultParams()
		p.RegenPerHour = 0
		return ledger.New(ledger.Deps{Keyring: identity.NewMemoryKeyring(id, rand.Reader, 0), Store: memstore.New(), Clock: clock.Real{},
			Params: p, Metrics: m, Logger: slog.New(slog.DiscardHandler)})
	}
}

// TestManaAgainstTheRealServer runs the mana commands against the real
// handlers and the real ledger actor: every command, and the node's own
// refusals, which change nothing.
func TestManaAgainstTheRealServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an actor system")
	}
	node, newLedger := realLedger(t)
	dataDir := startRealNodeWith(t, 4<<20, node, newLedger)
	icnctl := func(args ...string) result {
		t.Helper()
		return runCmd(t, append([]string{"--data-dir", dataDir}, args...)...)
	}
	ok := func(r result, what string) string {
		t.Helper()
		if r.code != exitOK || r.stderr != "" {
			t.Fatalf("%s: exit %d: %s%s", what, r.code, r.stderr, r.stdout)
		}
		return r.stdout
	}
	waitFor(t, "the ledger to load", func() bool { return icnctl("mana", "accounts").code == exitOK })

	var list httpapi.AccountList
	if err := json.Unmarshal([]byte(ok(icnctl("-o", "json", "mana", "accounts"), "accounts")), &list); err != nil || len(list.Accounts) != 1 {
		t.Fatalf("accounts: %+v %v", list, err)
	}
	self := list.Accounts[0].DID
	if self != node {
		t.Fatalf("the ledger's first account %s is not the node's %s", self, node)
	}
	other := strings.TrimSuffix(ok(icnctl("mana", "new-account"), "new-account"), "\n")
	if !strings.HasPrefix(other, "did:key:z") || strings.Contains(other, "\n") {
		t.Fatalf("new-account printed %q", other)
	}
	if got := ok(icnctl("mana", "accounts"), "accounts"); !strings.Contains(got, self+" (node)  1000 ") || !strings.Contains(got, other+" ") {
		t.Fatalf("accounts:\n%s", got)
	}

	if got := ok(icnctl("mana", "send", other, "300", "--memo", "seeds"), "send"); got !=
		"sent 300 from "+self+" to "+other+" (seq 1); "+self+" has 700 available\n"+other+" received it here (seq 1); it has 1300 available\n" {
		t.Fatalf("send:\n%s", got)
	}
	if got := ok(icnctl("mana", "reserve", self, "job/1", "400"), "reserve"); got !=
		"reserved 400 of "+self+" for job/1 (seq 2); it has 300 available, 400 reserved\n" {
		t.Fatalf("reserve:\n%s", got)
	}
	ok(icnctl("mana", "reserve", self, "job-2", "100"), "reserve")
	if got := ok(icnctl("mana", "settle", self, "job/1", "--to", other, "250"), "settle"); got !=
		"settled job/1 of "+self+": paid 250 to "+other+" (seq 4); it has 350 available, 100 reserved\n"+
			other+" received it here (seq 2); it has 1550 available\n" {
		t.Fatalf("settle:\n%s", got)
	}
	if got := ok(icnctl("mana", "release", self, "job-2"), "release"); got !=
		"released job-2 of "+self+": 100 back (seq 5); it has 450 available, 0 reserved\n" {
		t.Fatalf("release:\n%s", got)
	}
	balance := ok(icnctl("mana", "balance"), "balance")
	if !strings.HasPrefix(balance, "Account       "+self+"\nAvailable     450\nReserved      0 (0 reservations)\nBalance       450\n") {
		t.Fatalf("balance:\n%s", balance)
	}

	// The node's refusals, as icnctl shows them; none of them records anything.
	tests := []struct {
		name   string
		args   []string
		prefix string
		suffix string
	}{
		{"overdraft", []string{"mana", "send", other, "900"}, "icnctl: insufficient mana: " + self + " has 450 available, needs 900",
			"(insufficient_mana)\n  Mana regenerates with time (icnctl mana balance shows the rate); open reservations hold mana until released or settled.\n"},
		{"zero", []string{"mana", "send", "--to", other, "0"}, "icnctl: ledger: invalid amount", "(invalid_amount)\n"},
		{"a bad payee", []string{"mana", "send", "--to", "did:key:nope", "1"}, "icnctl: ledger: invalid account", "(invalid_account)\n"},
		{"not local", []string{"mana", "send", "--from", didLocal, "--to", other, "1"}, "icnctl: ledger: account is not local", "icnctl mana accounts lists them.\n"},
		{"a bad reference", []string{"mana", "reserve", self, "a b", "1"}, "icnctl: ledger: invalid reference", "(invalid_reference)\n"},
		{"release of none", []string{"mana", "release", self, "job/1"}, "icnctl: ledger: unknown reservation", "icnctl mana history DID shows its entries.\n"},
		{"an unknown account", []string{"mana", "balance", didLocal}, "icnctl: ledger: unknown account", "the ones it keeps.\n"},
		{"verify of an unknown account", []string{"mana", "verify", didLocal}, "icnctl: ledger: unknown account", "the ones it keeps.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := icnctl(tt.args...)
			if r.code != exitError || r.stdout != "" || !strings.HasPrefix(r.stderr, tt.prefix) || !strings.HasSuffix(r.stderr, tt.suffix) {
				t.Fatalf("exit %d, stdout %q\nstderr %q\nwant   %q ... %q", r.code, r.stdout, r.stderr, tt.prefix, tt.suffix)
			}
		})
	}
	if again := ok(icnctl("mana", "balance"), "balance"); again[:strings.Index(again, "As of")] != balance[:strings.Index(balance, "As of")] {
		t.Fatalf("refusals changed the balance:\n%s\nwas\n%s", again, balance)
	}

	history := ok(icnctl("mana", "history", self, "--limit", "4"), "history")
	if own := ok(icnctl("mana", "history", "--limit", "4"), "history of the node's own account"); own != history {
		t.Fatalf("history without DID:\n%s\nwant\n%s", own, history)
	}
	ops := regexp.MustCompile(`(?m)^(\d+) +\S+ +(\w+) `).FindAllStringSubmatch(history, -1)
	var got []string
	for _, m := range ops {
		got = append(got, m[1]+":"+m[2])
	}
	if strings.Join(got, " ") != "5:release 4:settle 3:reserve 2:reserve" || !strings.HasSuffix(history, "more: icnctl mana history "+self+" --before 2\n") {
		t.Fatalf("history:\n%s", history)
	}
	if older := ok(icnctl("mana", "history", self, "--before", "2"), "history --before"); !strings.Contains(older, " send ") ||
		!strings.Contains(older, " open ") || !strings.Contains(older, "seeds") || strings.Contains(older, "more:") {
		t.Fatalf("older history:\n%s", older)
	}
	for _, did := range []string{self, other} {
		if got := ok(icnctl("mana", "verify", did), "verify"); !strings.HasPrefix(got, "valid: "+did+", ") {
			t.Fatalf("verify %s: %s", did, got)
		}
	}
	if got := ok(icnctl("reputation", other), "reputation"); got !=
		"DID            "+other+"\nScore          50 of 100\nJobs           0 (0 succeeded, 0 failed)\nMean duration  -\n" {
		t.Fatalf("reputation:\n%s", got)
	}
}
