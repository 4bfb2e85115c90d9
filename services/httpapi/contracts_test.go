package httpapi

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/routers"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/actors/dag"
	"github.com/intercooperative-network/icn-go/actors/governance"
	"github.com/intercooperative-network/icn-go/ccl/runtime"
	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/store/memstore"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// contractsNode is a server over a tree of the real dag and governance
// actors (the shared fixture keeps its stand-in governance child, which
// the breaker and admin page tests break on purpose).
type contractsNode struct {
	srv    *Server
	tree   *supervisors.Tree
	router routers.Router
}

func newContractsNode(t *testing.T) *contractsNode {
	t.Helper()
	reg := prometheus.NewRegistry()
	log := slog.New(slog.DiscardHandler)
	rt, err := runtime.New()
	if err != nil {
		t.Fatal(err)
	}
	dm, err := dag.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := supervisors.New(supervisors.Spec{Name: "icn", Children: []supervisors.ChildSpec{
		{Name: "dag", Restart: supervisors.Permanent, New: dag.New(dag.Deps{Store: memstore.New(), Clock: clock.Real{},
			Config: dag.Config{MaxBlockSize: 1 << 20, GCGrace: time.Hour}, Metrics: dm, Logger: log})},
		{Name: "governance", Restart: supervisors.Permanent, New: governance.New(governance.Deps{Clock: clock.Real{}, Runtime: rt, Logger: log})},
	}}, log, reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = tree.Stop(context.Background())
		_ = rt.Close(context.Background())
	})
	srv, err := New(Config{APIAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", DataDir: t.TempDir(), Version: "test"}, Deps{
		Tree: tree, Gatherer: reg, Registerer: reg, Logger: log,
		Node:     func() NodeInfo { return NodeInfo{Version: "test", Profile: "test", Addrs: []string{}} },
		APIToken: []byte(apiToken), AdminToken: []byte(adminToken),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.started.Store(true)
	return &contractsNode{srv: srv, tree: tree, router: openAPIRouter(t, srv.Public())}
}

// api calls the public listener, checks the answer against the OpenAPI
// document and its status, and decodes it into out.
func (n *contractsNode) api(t *testing.T, c call, status int, out any) *httptest.ResponseRecorder {
	t.Helper()
	c.token = apiToken
	if c.body != "" && c.contentType == "" {
		c.contentType = "application/json"
	}
	rec := (&fixture{}).do(t, n.srv.Public(), c)
	checkAnswer(t, n.router, c, rec)
	if rec.Code != status {
		t.Fatalf("%s %s: status %d, want %d: %s", c.method, c.path, rec.Code, status, rec.Body)
	}
	if out != nil {
		reflect.ValueOf(out).Elem().SetZero()
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %v: %s", c.method, c.path, err, rec.Body)
		}
	}
	return rec
}

func corpus(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../../examples/ccl/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func jsonString(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestContractRoutes(t *testing.T) {
	n := newContractsNode(t)
	src := corpus(t, "rotating_council.ccl")

	// Published as JSON, then again as raw text: the same contract.
	var c Contract
	rec := n.api(t, call{method: "POST", path: "/api/v1/contracts", body: jsonString(t, PublishRequest{Filename: "council.ccl", Source: src})}, 201, &c)
	if c.Manifest == "" || c.WASM == "" || c.Source == "" || c.CompilerVersion == "" ||
		!reflect.DeepEqual(c.Entries, []ContractEntry{{Name: "seat", Params: []string{"Integer"}, Result: "Did"}}) ||
		!reflect.DeepEqual(c.Imports, []string{"member_count", "member_at", "now", "trap", "result"}) {
		t.Fatalf("published: %+v", c)
	}
	if loc := rec.Header().Get("Location"); loc != "/api/v1/contracts/"+c.Manifest {
		t.Fatalf("Location %q", loc)
	}
	var raw Contract
	n.api(t, call{method: "POST", path: "/api/v1/contracts", body: src, contentType: "application/octet-stream"}, 201, &raw)
	if !reflect.DeepEqual(raw, c) {
		t.Fatalf("raw publish: %+v, JSON publish %+v", raw, c)
	}
	// text/plain, as curl --data-binary @file -H 'Content-Type: text/plain' sends it.
	rec = (&fixture{}).do(t, n.srv.Public(), call{method: "POST", path: "/api/v1/contracts", token: apiToken, body: src, contentType: "text/plain; charset=utf-8"})
	if rec.Code != 201 || !strings.Contains(rec.Body.String(), c.Manifest) {
		t.Fatalf("text/plain publish: %d %s", rec.Code, rec.Body)
	}
	var got Contract
	n.api(t, call{method: "GET", path: "/api/v1/contracts/" + c.Manifest}, 200, &got)
	if !reflect.DeepEqual(got, c) {
		t.Fatalf("get: %+v, published %+v", got, c)
	}

	// docs/ccl.md: council_day_65.json, seats 0, 1, 2.
	snap := corpus(t, "snapshots/council_day_65.json")
	for i, want := range []string{"did:key:z6MkCarol", "did:key:z6MkAlice", "did:key:z6MkBob"} {
		var r EvalResult
		body := `{"entry": "seat", "args": [` + string(rune('0'+i)) + `], "snapshot": ` + snap + `}`
		n.api(t, call{method: "POST", path: "/api/v1/contracts/" + c.Manifest + "/eval", body: body}, 200, &r)
		if r.Result != want || r.Type != "Did" || r.FuelUsed == 0 {
			t.Fatalf("seat %d: %+v, want %s", i, r, want)
		}
	}
	// A trap is a 422 whose code is its kind.
	rec = n.api(t, call{method: "POST", path: "/api/v1/contracts/" + c.Manifest + "/eval",
		body: `{"entry": "seat", "args": [0], "snapshot": ` + corpus(t, "snapshots/council_empty.json") + `}`}, 422, nil)
	eb := errorBody(t, rec)
	if eb.Code != CodeRequireFailed || eb.Details["kind"] != "require_failed" || eb.Details["message"] != "no members" || eb.Details["fuel_used"].(float64) <= 0 {
		t.Fatalf("trap: %+v", eb)
	}
}

// TestIntegerArgumentsAreExact: i64 arguments beyond a float64's
// precision reach the contract unchanged.
func TestIntegerArgumentsAreExact(t *testing.T) {
	n := newContractsNode(t)
	var c Contract
	n.api(t, call{method: "POST", path: "/api/v1/contracts?filename=id.ccl", body: "policy price(a: Integer, b: Integer, c: Integer) -> Mana { return a - b + c; }",
		contentType: "application/octet-stream"}, 201, &c)
	rec := n.api(t, call{method: "POST", path: "/api/v1/contracts/" + c.Manifest + "/eval",
		body: `{"entry": "price", "args": [9223372036854775807, "1", 0]}`}, 200, nil)
	if !strings.Contains(rec.Body.String(), `"result": 9223372036854775806`) {
		t.Fatalf("eval: %s", rec.Body)
	}
	// And the trap of the corpus: max + 1.
	rec = n.api(t, call{method: "POST", path: "/api/v1/contracts/" + c.Manifest + "/eval",
		body: `{"entry": "price", "args": [9223372036854775807, 0, 1]}`}, 422, nil)
	if eb := errorBody(t, rec); eb.Code != CodeOverflow {
		t.Fatalf("overflow: %+v", eb)
	}
}

func TestContractRefusals(t *testing.T) {
	n := newContractsNode(t)
	var c Contract
	n.api(t, call{method: "POST", path: "/api/v1/contracts", body: jsonString(t, PublishRequest{Source: corpus(t, "eligibility.ccl")})}, 201, &c)

	// Compile errors: every one, positioned.
	rec := n.api(t, call{method: "POST", path: "/api/v1/contracts", body: jsonString(t, PublishRequest{Filename: "bad.ccl",
		Source: "fn run() -> Integer {\n\tlet x = true;\n\treturn x\n}\n"})}, 400, nil)
	var body struct {
		Code    string `json:"code"`
		Details struct {
			Errors []SourceError `json:"errors"`
		} `json:"details"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.Code != CodeCompileError || len(body.Details.Errors) == 0 ||
		body.Details.Errors[0] != (SourceError{File: "bad.ccl", Line: 3, Col: 10, Message: "expected ';' after the return statement, found '}'"}) {
		t.Fatalf("compile error: %s", rec.Body)
	}
	// A raw source without ?filename= is contract.ccl in positions.
	rec = n.api(t, call{method: "POST", path: "/api/v1/contracts", body: "fn run() -> Integer { return wall_clock(); }", contentType: "application/octet-stream"}, 400, nil)
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Details.Errors[0].File != "contract.ccl" {
		t.Fatalf("raw compile error: %s", rec.Body)
	}

	// A manifest whose module is not what its source compiles to.
	tampered := tamperedManifest(t, n, c)
	missing, err := block.Encode(map[string]any{"nothing": "here"})
	if err != nil {
		t.Fatal(err)
	}
	eval := "/api/v1/contracts/" + c.Manifest + "/eval"
	for _, tc := range []struct {
		name   string
		c      call
		status int
		code   string
	}{
		{"bad cid", call{method: "GET", path: "/api/v1/contracts/nope"}, 400, CodeInvalidCID},
		{"unknown", call{method: "GET", path: "/api/v1/contracts/" + missing.CID().String()}, 404, CodeUnknownContract},
		{"unknown eval", call{method: "POST", path: "/api/v1/contracts/" + missing.CID().String() + "/eval", body: `{"entry": "eligible"}`}, 404, CodeUnknownContract},
		{"mismatch", call{method: "POST", path: "/api/v1/contracts/" + tampered + "/eval", body: `{"entry": "eligible", "args": ["did:key:z6MkA"]}`}, 409, CodeContractMismatch},
		{"no entry", call{method: "POST", path: eval, body: `{"entry": "passes"}`}, 400, CodeNoEntryPoint},
		{"entry missing", call{method: "POST", path: eval, body: `{"args": []}`}, 400, CodeBadRequest},
		{"bad args", call{method: "POST", path: eval, body: `{"entry": "eligible", "args": [1, 2]}`}, 400, CodeBadArguments},
		{"arg type", call{method: "POST", path: eval, body: `{"entry": "eligible", "args": [{"a": 1}]}`}, 400, CodeBadRequest},
		{"bad snapshot", call{method: "POST", path: eval, body: `{"entry": "eligible", "args": ["did:key:z6MkA"], "snapshot": {"voters": []}}`}, 400, CodeBadSnapshot},
		{"unknown field", call{method: "POST", path: eval, body: `{"entry": "eligible", "fuel": 1}`}, 400, CodeBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := n.api(t, tc.c, tc.status, nil)
			if eb := errorBody(t, rec); eb.Code != tc.code {
				t.Fatalf("code %q, want %q: %s", eb.Code, tc.code, rec.Body)
			}
		})
	}
}

// tamperedManifest stores, next to the published contract c, a manifest
// that links c's source to another module; it returns its CID.
func tamperedManifest(t *testing.T, n *contractsNode, c Contract) string {
	t.Helper()
	get := func(s string) block.Block {
		id, err := block.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		r, err := supervisors.Ask[*messages.GetBlockReply](t.Context(), n.tree, "dag", &messages.GetBlock{CID: id})
		if err != nil {
			t.Fatal(err)
		}
		return r.Block
	}
	src, wasm := get(c.Source), get(c.WASM)
	other, err := block.NewRaw(append(append([]byte(nil), wasm.Data()...), 0)) // one more byte
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := block.Decode(get(c.Manifest), &m); err != nil {
		t.Fatal(err)
	}
	m["source"], m["wasm"] = block.LinkTo(src.CID()), block.LinkTo(other.CID())
	mb, err := block.Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.tree.Request(t.Context(), "dag", &messages.PutBlocks{Blocks: []block.Block{other, mb}}); err != nil {
		t.Fatal(err)
	}
	return mb.CID().String()
}
