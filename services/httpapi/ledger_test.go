package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/actors/ledger"
	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/store"
	"github.com/intercooperative-network/icn-go/services/store/memstore"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// testParams are the fixture ledger's rules: no regeneration, so balances
// do not move with the wall clock between two requests of a test, and a
// per-operation cap above the initial allocation, so a transfer within
// the cap can still overdraw.
var testParams = ledger.Params{Capacity: 10_000, Initial: 1_000, OpCap: 5_000, ProposalCost: 10, VoteCost: 1}

// remote is a valid DID whose key no test node holds.
const remote = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"

// newLedger is the real ledger actor's producer over st, with a new node key.
func newLedger(t *testing.T, reg prometheus.Registerer, st store.Store) func() actor.Actor {
	t.Helper()
	id, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	m, err := ledger.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	return ledger.New(ledger.Deps{Keyring: identity.NewMemoryKeyring(id, rand.Reader, 0), Store: st, Clock: clock.Real{},
		Params: testParams, Metrics: m, Logger: slog.New(slog.DiscardHandler)})
}

// ledgerReady waits until the ledger has loaded its accounts from the dag,
// and returns them.
func (f *fixture) ledgerReady(t *testing.T) AccountList {
	t.Helper()
	var l AccountList
	waitFor(t, "the ledger to load", func() bool {
		rec := f.do(t, f.srv.Public(), call{method: "GET", path: "/api/v1/accounts", token: apiToken})
		return rec.Code == 200 && json.Unmarshal(rec.Body.Bytes(), &l) == nil
	})
	return l
}

// api calls the public listener with the api token, checks the answer
// against the OpenAPI document and its status, and decodes it into out.
func (f *fixture) api(t *testing.T, method, path, body string, status int, out any) *httptest.ResponseRecorder {
	t.Helper()
	c := call{method: method, path: path, token: apiToken, body: body}
	if body != "" {
		c.contentType = "application/json"
	}
	rec := f.do(t, f.srv.Public(), c)
	if f.router == nil {
		f.router = openAPIRouter(t, f.srv.Public())
	}
	checkAnswer(t, f.router, c, rec)
	if rec.Code != status {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, rec.Code, status, rec.Body)
	}
	if out != nil {
		// Fields the answer omits must not keep a previous answer's values.
		reflect.ValueOf(out).Elem().SetZero()
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, rec.Body)
		}
	}
	return rec
}

func (f *fixture) account(t *testing.T, did string) Account {
	t.Helper()
	var a Account
	f.api(t, "GET", "/api/v1/accounts/"+did, "", 200, &a)
	return a
}

// TestLedgerRoutes drives every ledger route through the router into the
// real ledger actor, and checks every answer against the OpenAPI document.
func TestLedgerRoutes(t *testing.T) {
	f := newFixture(t)
	l := f.ledgerReady(t)
	if len(l.Accounts) != 1 || !l.Accounts[0].Local || l.Accounts[0].Available != 1000 || l.Accounts[0].Seq != 0 {
		t.Fatalf("a new node's accounts: %+v", l)
	}
	self := l.Accounts[0].DID

	var b Account
	rec := f.api(t, "POST", "/api/v1/accounts", "", 201, &b)
	if !strings.HasPrefix(b.DID, "did:key:z") || !b.Local || b.Available != 1000 || b.Head == "" || b.AsOf == "" {
		t.Fatalf("new account: %+v", b)
	}
	if loc := rec.Header().Get("Location"); loc != "/api/v1/accounts/"+b.DID {
		t.Fatalf("Location %q", loc)
	}
	f.api(t, "GET", "/api/v1/accounts", "", 200, &l)
	if len(l.Accounts) != 2 || l.Accounts[0].DID != self || l.Accounts[1].DID != b.DID {
		t.Fatalf("accounts: %+v", l)
	}

	var tr TransferResult
	f.api(t, "POST", "/api/v1/transfers", `{"to": "`+b.DID+`", "amount": 300, "memo": "seeds"}`, 201, &tr)
	if tr.Send.Op != messages.OpSend || tr.Send.Account != self || tr.Send.Amount != 300 || tr.Send.Memo != "seeds" ||
		tr.Send.Counterparty != b.DID || tr.Send.BalanceAfter != 700 || tr.Send.Seq != 1 || tr.Send.Prev == "" {
		t.Fatalf("send: %+v", tr.Send)
	}
	if tr.Receive == nil || tr.Receive.Source != tr.Send.CID || tr.Receive.BalanceAfter != 1300 || tr.Receive.Counterparty != self {
		t.Fatalf("receive: %+v", tr.Receive)
	}
	// From the new account back, named explicitly.
	f.api(t, "POST", "/api/v1/transfers", `{"from": "`+b.DID+`", "to": "`+self+`", "amount": 50}`, 201, &tr)
	if got := f.account(t, self); got.Available != 750 || got.Seq != 2 || got.Head != tr.Receive.CID {
		t.Fatalf("payer after the transfers: %+v", got)
	}
	if got := f.account(t, b.DID); got.Available != 1250 || got.Head != tr.Send.CID {
		t.Fatalf("payee after the transfers: %+v", got)
	}

	// A remote payee: only the send is recorded here.
	f.api(t, "POST", "/api/v1/transfers", `{"to": "`+remote+`", "amount": 10}`, 201, &tr)
	if tr.Send.Counterparty != remote || tr.Receive != nil {
		t.Fatalf("a remote payee got a local receive: %+v", tr.Receive)
	}

	// Reservations: a reference with a slash travels escaped in the path.
	var er EntryResult
	f.api(t, "POST", "/api/v1/reservations", `{"account": "`+self+`", "ref": "job/1", "amount": 400}`, 201, &er)
	if er.Entry.Op != messages.OpReserve || er.Entry.Ref != "job/1" || er.Entry.ReservedAfter != 400 || er.Entry.BalanceAfter != 340 || er.Receive != nil {
		t.Fatalf("reserve: %+v", er)
	}
	f.api(t, "POST", "/api/v1/reservations", `{"account": "`+self+`", "ref": "job-2", "amount": 100}`, 201, &er)
	if a := f.account(t, self); a.Available != 240 || a.Reserved != 500 || a.Balance != 740 || a.Reservations != 2 {
		t.Fatalf("with two reservations: %+v", a)
	}
	settle := "/api/v1/reservations/" + self + "/" + url.PathEscape("job/1") + "/settle"
	if !strings.Contains(settle, "job%2F1") {
		t.Fatalf("the reference was not escaped: %s", settle)
	}
	f.api(t, "POST", settle, `{"to": "`+b.DID+`", "pay": 250}`, 200, &er)
	if er.Entry.Op != messages.OpSettle || er.Entry.Amount != 250 || er.Entry.BalanceAfter != 390 || er.Entry.ReservedAfter != 100 {
		t.Fatalf("settle: %+v", er.Entry)
	}
	if er.Receive == nil || er.Receive.Account != b.DID || er.Receive.Amount != 250 || er.Receive.Source != er.Entry.CID {
		t.Fatalf("settle's receive: %+v", er.Receive)
	}
	f.api(t, "DELETE", "/api/v1/reservations/"+self+"/job-2", "", 200, &er)
	if er.Entry.Op != messages.OpRelease || er.Entry.Amount != 100 || er.Entry.BalanceAfter != 490 || er.Entry.ReservedAfter != 0 {
		t.Fatalf("release: %+v", er.Entry)
	}

	// Entries, newest first, a page at a time.
	var page EntryList
	f.api(t, "GET", "/api/v1/accounts/"+self+"/entries?limit=4", "", 200, &page)
	ops := func(p EntryList) (s []string) {
		for _, e := range p.Entries {
			s = append(s, fmt.Sprintf("%d:%s", e.Seq, e.Op))
		}
		return s
	}
	if got := strings.Join(ops(page), " "); got != "7:release 6:settle 5:reserve 4:reserve" || page.Next != 4 {
		t.Fatalf("first page: %s, next %d", got, page.Next)
	}
	f.api(t, "GET", fmt.Sprintf("/api/v1/accounts/%s/entries?limit=4&before=%d", self, page.Next), "", 200, &page)
	if got := strings.Join(ops(page), " "); got != "3:send 2:receive 1:send 0:open" || page.Next != 0 {
		t.Fatalf("second page: %s, next %d", got, page.Next)
	}
	if open := page.Entries[3]; open.Prev != "" || open.Amount != 1000 || open.Time == "" {
		t.Fatalf("open entry: %+v", open)
	}
	f.api(t, "GET", "/api/v1/accounts/"+b.DID+"/entries", "", 200, &page)
	if got := strings.Join(ops(page), " "); got != "3:receive 2:send 1:receive 0:open" || page.Next != 0 {
		t.Fatalf("payee's entries: %s", got)
	}

	for did, entries := range map[string]int{self: 8, b.DID: 4} {
		var v VerifyReport
		f.api(t, "GET", "/api/v1/accounts/"+did+"/verify", "", 200, &v)
		if !v.Valid || v.Entries != entries || len(v.Problems) != 0 || v.Account != did || v.Head == "" {
			t.Fatalf("verify %s: %+v", did, v)
		}
	}

	var rep Reputation
	f.api(t, "GET", "/api/v1/reputation/"+b.DID, "", 200, &rep)
	if rep.DID != b.DID || rep.Score != 50 || rep.Jobs != 0 {
		t.Fatalf("reputation: %+v", rep)
	}
}

// snapshot is what refused requests must leave alone: every account's
// state and chain.
func (f *fixture) snapshot(t *testing.T) string {
	t.Helper()
	var l AccountList
	f.api(t, "GET", "/api/v1/accounts", "", 200, &l)
	var b strings.Builder
	for _, a := range l.Accounts {
		a.AsOf = ""
		var page EntryList
		f.api(t, "GET", "/api/v1/accounts/"+a.DID+"/entries", "", 200, &page)
		fmt.Fprintf(&b, "%+v %d entries\n", a, len(page.Entries))
	}
	return b.String()
}

// TestTransferRetriedUnderItsKey: a transfer sent again with its
// idempotency key answers the first one's entries, replayed, and pays
// nothing.
func TestTransferRetriedUnderItsKey(t *testing.T) {
	f := newFixture(t)
	self := f.ledgerReady(t).Accounts[0].DID
	var b Account
	f.api(t, "POST", "/api/v1/accounts", "", 201, &b)
	body := `{"to": "` + b.DID + `", "amount": 300, "memo": "rent", "idempotency_key": "invoice-7"}`
	var first, again TransferResult
	f.api(t, "POST", "/api/v1/transfers", body, 201, &first)
	f.api(t, "POST", "/api/v1/transfers", body, 201, &again)
	if first.Replayed || !again.Replayed || again.Send.CID != first.Send.CID || again.Receive == nil || again.Receive.CID != first.Receive.CID {
		t.Fatalf("first %+v, again %+v", first, again)
	}
	if got := f.account(t, self); got.Available != 700 || got.Seq != 1 {
		t.Fatalf("payer after a retry: %+v", got)
	}
}

// TestLedgerRefusalsChangeNothing: every malformed or refused request gets
// its stable code, and leaves every balance and chain as it was.
func TestLedgerRefusalsChangeNothing(t *testing.T) {
	f := newFixture(t)
	self := f.ledgerReady(t).Accounts[0].DID
	var b Account
	f.api(t, "POST", "/api/v1/accounts", "", 201, &b)
	f.api(t, "POST", "/api/v1/reservations", `{"account": "`+self+`", "ref": "held", "amount": 100}`, 201, nil)
	f.api(t, "POST", "/api/v1/transfers", `{"to": "`+b.DID+`", "amount": 10, "idempotency_key": "paid"}`, 201, nil)
	before := f.snapshot(t)

	transfer := func(fields string) string { return `{"to": "` + b.DID + `", ` + fields + `}` }
	resv := "/api/v1/reservations/" + self + "/held"
	tests := []struct {
		name, method, path, body, contentType string
		status                                int
		code                                  string
	}{
		{"overdraft", "POST", "/api/v1/transfers", transfer(`"amount": 2000`), "", 409, CodeInsufficientMana},
		{"zero amount", "POST", "/api/v1/transfers", transfer(`"amount": 0`), "", 400, CodeInvalidAmount},
		{"no amount", "POST", "/api/v1/transfers", `{"to": "` + b.DID + `"}`, "", 400, CodeInvalidAmount},
		{"over the cap", "POST", "/api/v1/transfers", transfer(`"amount": 5001`), "", 400, CodeInvalidAmount},
		{"bad payee", "POST", "/api/v1/transfers", `{"to": "did:key:nope", "amount": 1}`, "", 400, CodeInvalidAccount},
		{"bad payer", "POST", "/api/v1/transfers", transfer(`"from": "alice", "amount": 1`), "", 400, CodeInvalidAccount},
		{"to itself", "POST", "/api/v1/transfers", `{"to": "` + self + `", "amount": 1}`, "", 400, CodeInvalidAccount},
		{"from a remote account", "POST", "/api/v1/transfers", transfer(`"from": "` + remote + `", "amount": 1`), "", 409, CodeNotLocal},
		{"long memo", "POST", "/api/v1/transfers", transfer(`"amount": 1, "memo": "` + strings.Repeat("m", messages.MaxMemoLength+1) + `"`), "", 400, CodeInvalidReference},
		{"no payee", "POST", "/api/v1/transfers", `{"amount": 1}`, "", 400, CodeBadRequest},
		{"a used key with another amount", "POST", "/api/v1/transfers", transfer(`"amount": 11, "idempotency_key": "paid"`), "", 409, CodeKeyReused},
		{"a key with a space", "POST", "/api/v1/transfers", transfer(`"amount": 1, "idempotency_key": "a b"`), "", 400, CodeInvalidReference},
		{"unknown field", "POST", "/api/v1/transfers", transfer(`"amount": 1, "fee": 1`), "", 400, CodeBadRequest},
		{"trailing data", "POST", "/api/v1/transfers", transfer(`"amount": 1`) + ` {}`, "", 400, CodeBadRequest},
		{"amount as a string", "POST", "/api/v1/transfers", transfer(`"amount": "1"`), "", 400, CodeBadRequest},
		{"negative amount", "POST", "/api/v1/transfers", transfer(`"amount": -1`), "", 400, CodeBadRequest},
		{"fractional amount", "POST", "/api/v1/transfers", transfer(`"amount": 1.5`), "", 400, CodeBadRequest},
		{"malformed json", "POST", "/api/v1/transfers", `{"to": `, "", 400, CodeBadRequest},
		{"empty body", "POST", "/api/v1/transfers", ``, "application/json", 400, CodeBadRequest},
		{"not json", "POST", "/api/v1/transfers", transfer(`"amount": 1`), "text/plain", 415, CodeUnsupported},
		{"too large", "POST", "/api/v1/transfers", transfer(`"amount": 1, "memo": "` + strings.Repeat("m", 5000) + `"`), "", 413, CodeTooLarge},
		{"reserve with a space in the ref", "POST", "/api/v1/reservations", `{"account": "` + self + `", "ref": "a b", "amount": 1}`, "", 400, CodeInvalidReference},
		{"reserve with a long ref", "POST", "/api/v1/reservations", `{"account": "` + self + `", "ref": "` + strings.Repeat("r", messages.MaxReferenceLength+1) + `", "amount": 1}`, "", 400, CodeInvalidReference},
		{"reserve without a ref", "POST", "/api/v1/reservations", `{"account": "` + self + `", "amount": 1}`, "", 400, CodeBadRequest},
		{"reserve without an account", "POST", "/api/v1/reservations", `{"ref": "x", "amount": 1}`, "", 400, CodeBadRequest},
		{"reserve too much", "POST", "/api/v1/reservations", `{"account": "` + self + `", "ref": "big", "amount": 950}`, "", 409, CodeInsufficientMana},
		{"reserve an open ref", "POST", "/api/v1/reservations", `{"account": "` + self + `", "ref": "held", "amount": 1}`, "", 409, CodeDuplicateReservation},
		{"reserve on a remote account", "POST", "/api/v1/reservations", `{"account": "` + remote + `", "ref": "x", "amount": 1}`, "", 409, CodeNotLocal},
		{"release of none", "DELETE", "/api/v1/reservations/" + self + "/none", "", "", 404, CodeUnknownReservation},
		{"release on a remote account", "DELETE", "/api/v1/reservations/" + remote + "/held", "", "", 409, CodeNotLocal},
		{"release on a bad account", "DELETE", "/api/v1/reservations/nobody/held", "", "", 400, CodeInvalidAccount},
		{"settle of none", "POST", "/api/v1/reservations/" + self + "/none/settle", `{"to": "` + b.DID + `", "pay": 1}`, "", 404, CodeUnknownReservation},
		{"settle over the reservation", "POST", resv + "/settle", `{"to": "` + b.DID + `", "pay": 101}`, "", 400, CodeInvalidAmount},
		{"settle to itself", "POST", resv + "/settle", `{"to": "` + self + `", "pay": 1}`, "", 400, CodeInvalidAccount},
		{"settle without a payee", "POST", resv + "/settle", `{"pay": 1}`, "", 400, CodeBadRequest},
		{"settle with an unknown field", "POST", resv + "/settle", `{"to": "` + b.DID + `", "amount": 1}`, "", 400, CodeBadRequest},
		{"unknown account", "GET", "/api/v1/accounts/" + remote, "", "", 404, CodeUnknownAccount},
		{"invalid account", "GET", "/api/v1/accounts/nobody", "", "", 400, CodeInvalidAccount},
		{"entries of an unknown account", "GET", "/api/v1/accounts/" + remote + "/entries", "", "", 404, CodeUnknownAccount},
		{"zero limit", "GET", "/api/v1/accounts/" + self + "/entries?limit=0", "", "", 400, CodeBadRequest},
		{"limit over the maximum", "GET", "/api/v1/accounts/" + self + "/entries?limit=1001", "", "", 400, CodeBadRequest},
		{"negative before", "GET", "/api/v1/accounts/" + self + "/entries?before=-1", "", "", 400, CodeBadRequest},
		{"verify of an unknown account", "GET", "/api/v1/accounts/" + remote + "/verify", "", "", 404, CodeUnknownAccount},
		{"reputation of a bad DID", "GET", "/api/v1/reputation/bob", "", "", 400, CodeInvalidAccount},
		{"get a reservation", "GET", resv, "", "", 405, CodeMethod},
		{"no token", "POST", "/api/v1/accounts", "", "", 401, CodeUnauthorized},
	}
	router := openAPIRouter(t, f.srv.Public())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := call{method: tt.method, path: tt.path, token: apiToken, body: tt.body, contentType: tt.contentType}
			if tt.status == 401 {
				c.token = ""
			}
			if c.contentType == "" && tt.body != "" {
				c.contentType = "application/json"
			}
			rec := f.do(t, f.srv.Public(), c)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			eb := errorBody(t, rec)
			if eb.Code != tt.code {
				t.Fatalf("code %q, want %q (%s)", eb.Code, tt.code, eb.Error)
			}
			if tt.status != 405 { // the mux's 405 belongs to no route
				checkAnswer(t, router, c, rec)
			}
		})
	}
	if after := f.snapshot(t); after != before {
		t.Fatalf("refused requests changed the ledger:\nbefore %s\nafter  %s", before, after)
	}
}

// TestInsufficientManaSaysHowMuch: the 409 carries the numbers, and the
// available mana at the top too, as issue 4 specifies the body.
func TestInsufficientManaSaysHowMuch(t *testing.T) {
	f := newFixture(t)
	self := f.ledgerReady(t).Accounts[0].DID
	rec := f.api(t, "POST", "/api/v1/transfers", `{"to": "`+remote+`", "amount": 1200}`, 409, nil)
	eb := errorBody(t, rec)
	want := map[string]any{"account": self, "available": 1000.0, "needed": 1200.0}
	if eb.Code != CodeInsufficientMana || fmt.Sprint(eb.Details) != fmt.Sprint(want) {
		t.Fatalf("%s: %v", eb.Code, eb.Details)
	}
	if eb.Available == nil || *eb.Available != 1000 {
		t.Fatalf("top-level available %v in %s", eb.Available, rec.Body)
	}
}

// TestLedgerLoadingIs503: until the ledger has loaded its accounts (here
// never: there is no dag to load them from), account operations answer
// 503 with Retry-After, and reputation, which needs no chain, is served.
func TestLedgerLoadingIs503(t *testing.T) {
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tree, err := supervisors.New(supervisors.Spec{Name: "icn", Children: []supervisors.ChildSpec{
		{Name: "ledger", Restart: supervisors.Permanent, New: newLedger(t, reg, memstore.New())},
	}}, log, reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tree.Stop(context.Background()) })
	srv, err := New(Config{}, Deps{Tree: tree, Gatherer: reg, Registerer: reg, Logger: log,
		Node: func() NodeInfo { return NodeInfo{} }, APIToken: []byte(apiToken), AdminToken: []byte(adminToken)})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{srv: srv}
	srv.started.Store(true)
	if rec := f.do(t, srv.Public(), call{method: "GET", path: "/ready"}); rec.Code != 503 ||
		!strings.Contains(rec.Body.String(), "ledger is not ready (loading accounts from the dag)") {
		t.Fatalf("ready while the ledger loads: %d %s", rec.Code, rec.Body)
	}
	for _, c := range []call{
		{method: "GET", path: "/api/v1/accounts"},
		{method: "POST", path: "/api/v1/accounts"},
		{method: "GET", path: "/api/v1/accounts/" + remote + "/entries"},
		{method: "POST", path: "/api/v1/transfers", body: `{"to": "` + remote + `", "amount": 1}`, contentType: "application/json"},
		{method: "DELETE", path: "/api/v1/reservations/" + remote + "/job"},
	} {
		c.token = apiToken
		rec := f.do(t, srv.Public(), c)
		if rec.Code != 503 || rec.Header().Get("Retry-After") != "1" {
			t.Fatalf("%s %s while loading: %d %v %s", c.method, c.path, rec.Code, rec.Header(), rec.Body)
		}
		if eb := errorBody(t, rec); eb.Code != CodeUnavailable || eb.Details["actor"] != "ledger" || eb.Details["state"] != "loading" {
			t.Fatalf("%s %s while loading: %+v", c.method, c.path, eb)
		}
	}
	var rep Reputation
	rec := f.do(t, srv.Public(), call{method: "GET", path: "/api/v1/reputation/" + remote, token: apiToken})
	if err := json.Unmarshal(rec.Body.Bytes(), &rep); rec.Code != 200 || err != nil || rep.Score != 50 {
		t.Fatalf("reputation while loading: %d %s", rec.Code, rec.Body)
	}
}
