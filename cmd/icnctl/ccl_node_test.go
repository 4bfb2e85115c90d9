package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/actors/dag"
	"github.com/intercooperative-network/icn-go/actors/governance"
	"github.com/intercooperative-network/icn-go/ccl/runtime"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/httpapi"
	"github.com/intercooperative-network/icn-go/services/store/memstore"
	"github.com/intercooperative-network/icn-go/supervisors"
)

const (
	cidManifest = "bafyreibs4mcv3agpwadjej7zcgr6of2wwoh6xtnzjjhdtn53asnwmkszuq"
	cidWASM     = "bafkreid6ibdqw5xdvuho7l3ov5cbnzmhdedxgqbsz7di5ye2xi4mgdx6qa"
	cidSource   = "bafkreieh4nictwpg7tszbeeak7fz654g4pgsdanfu7qr7dvpndlpgk3czm"
)

func cannedContract() httpapi.Contract {
	return httpapi.Contract{Manifest: cidManifest, WASM: cidWASM, Source: cidSource, CompilerVersion: "ccl-go/1.0.0",
		Entries: []httpapi.ContractEntry{{Name: "seat", Params: []string{"Integer"}, Result: "Did"}},
		Imports: []string{"member_count", "member_at", "now", "trap", "result"}}
}

func TestCCLPublishAndEval(t *testing.T) {
	n := newNode(t, false)
	mux := n.api.mux
	mux.HandleFunc("POST /api/v1/contracts", func(w http.ResponseWriter, r *http.Request) {
		var req httpapi.PublishRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("publish body: %v", err)
		}
		if strings.Contains(req.Source, "wall_clock") {
			reply(http.StatusBadRequest, httpapi.ErrorBody{Error: "contracts: compile error: ...", Code: httpapi.CodeCompileError,
				Details: map[string]any{"errors": []httpapi.SourceError{
					{File: req.Filename, Line: 3, Col: 9, Message: "unknown function wall_clock"},
					{File: req.Filename, Line: 4, Col: 2, Message: "missing return\x1b[2J"}}}})(w, r)
			return
		}
		reply(http.StatusCreated, cannedContract())(w, r)
	})
	mux.HandleFunc("POST /api/v1/contracts/{cid}/eval", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("cid") != cidManifest {
			reply(http.StatusNotFound, httpapi.ErrorBody{Error: "contracts: unknown contract: no manifest " + r.PathValue("cid") + " on this node",
				Code: httpapi.CodeUnknownContract})(w, r)
			return
		}
		var req evalRequest
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			t.Errorf("eval body: %v", err)
		}
		switch req.Entry {
		case "seat":
			reply(http.StatusOK, httpapi.EvalResult{Result: "did:key:z6MkCarol", Type: "Did", FuelUsed: 312})(w, r)
		case "price":
			// An i64 beyond a float64's precision, as icnd writes it.
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write([]byte(`{"result": 9223372036854775806, "type": "Integer", "fuel_used": 40}`))
		default:
			reply(http.StatusUnprocessableEntity, httpapi.ErrorBody{Error: "contracts: trap require_failed: no members", Code: httpapi.CodeRequireFailed,
				Details: map[string]any{"kind": "require_failed", "message": "no members", "fuel_used": 57}})(w, r)
		}
	})
	dir := t.TempDir()
	good, bad, snap := filepath.Join(dir, "council.ccl"), filepath.Join(dir, "bad.ccl"), filepath.Join(dir, "snap.json")
	writeFile(t, good, "policy seat(i: Integer) -> Did { return member_at(i); }\n")
	writeFile(t, bad, "fn run() -> Integer {\n\n\treturn wall_clock();\n")
	writeFile(t, snap, `{"members": ["did:key:z6MkCarol"], "now": 5616000}`)
	notJSON := filepath.Join(dir, "snap.txt")
	writeFile(t, notJSON, "members: carol")

	for _, tc := range []struct {
		name           string
		args           []string
		code           int
		stdout, stderr string
		body           string // the request's body, when one is sent
	}{
		{name: "publish", args: []string{"ccl", "publish", good},
			stdout: cidManifest + "\n  wasm " + cidWASM + "\n  source " + cidSource + "\n  compiler ccl-go/1.0.0\n  seat(Integer) -> Did\n" +
				"  imports: member_count, member_at, now, trap, result\n",
			body: `{"filename":"` + good + `","source":"policy seat(i: Integer) -\u003e Did { return member_at(i); }\n"}`},
		{name: "publish, compile errors", args: []string{"ccl", "publish", bad}, code: exitError,
			stderr: bad + ":3:9: unknown function wall_clock\n" + bad + ":4:2: missing return?[2J\nicnctl: " + bad + ": 2 compile errors\n"},
		{name: "publish, no file", args: []string{"ccl", "publish", filepath.Join(dir, "nope.ccl")}, code: exitError,
			stderr: "icnctl: open " + filepath.Join(dir, "nope.ccl") + ": no such file or directory\n"},
		{name: "eval", args: []string{"ccl", "eval", cidManifest, "--entry", "seat", "--arg", "0", "--snapshot", snap},
			stdout: "result: did:key:z6MkCarol (Did)\nfuel used: 312\n",
			body:   `{"entry":"seat","args":["0"],"snapshot":{"members":["did:key:z6MkCarol"],"now":5616000}}`},
		{name: "eval, an exact Integer", args: []string{"ccl", "eval", cidManifest, "--entry", "price", "--arg", "9223372036854775807", "--arg", "1", "--arg", "0"},
			stdout: "result: 9223372036854775806 (Integer)\nfuel used: 40\n",
			body:   `{"entry":"price","args":["9223372036854775807","1","0"]}`},
		{name: "eval json", args: []string{"-o", "json", "ccl", "eval", cidManifest, "--entry", "price", "--arg", "1", "--arg", "1", "--arg", "0"},
			stdout: "{\n  \"entry\": \"price\",\n  \"result\": 9223372036854775806,\n  \"type\": \"Integer\",\n  \"fuel_used\": 40\n}\n"},
		{name: "eval, a trap", args: []string{"ccl", "eval", cidManifest, "--entry", "passes"}, code: exitError,
			stdout: "fuel used: 57\n", stderr: "icnctl: trap require_failed: no members\n", body: `{"entry":"passes","args":[]}`},
		{name: "eval json, a trap", args: []string{"-o", "json", "ccl", "eval", cidManifest, "--entry", "passes"}, code: exitError,
			stdout: "{\n  \"entry\": \"passes\",\n  \"trap\": {\n    \"kind\": \"require_failed\",\n    \"message\": \"no members\"\n  },\n  \"fuel_used\": 57\n}\n",
			stderr: "icnctl: trap require_failed: no members\n"},
		{name: "eval, unknown contract", args: []string{"ccl", "eval", cidWASM, "--entry", "seat"}, code: exitError,
			stderr: "icnctl: contracts: unknown contract: no manifest " + cidWASM + " on this node (unknown_contract)\n"},
		{name: "eval, a snapshot that is not JSON", args: []string{"ccl", "eval", cidManifest, "--snapshot", notJSON}, code: exitUsage,
			stderr: "icnctl: --snapshot " + notJSON + ": not JSON\nRun 'icnctl ccl eval --help' for usage.\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(n.api.requests())
			r := runCmd(t, n.flags(tc.args...)...)
			r.expect(t, tc.code, tc.stdout, tc.stderr)
			if tc.body == "" {
				return
			}
			reqs := n.api.requests()[before:]
			if len(reqs) != 1 || reqs[0].auth != "Bearer "+apiToken || strings.TrimSpace(reqs[0].body) != tc.body {
				t.Fatalf("requests: %+v\nwant the body %s", reqs, tc.body)
			}
		})
	}
}

// TestCCLAgainstTheRealServer publishes and evaluates a corpus program
// through services/httpapi and the real dag and governance actors.
func TestCCLAgainstTheRealServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an actor system")
	}
	reg := prometheus.NewRegistry()
	log := slog.New(slog.DiscardHandler)
	rt, err := runtime.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = rt.Close(context.Background()) })
	metrics, err := dag.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := supervisors.New(supervisors.Spec{Name: "icn", Children: []supervisors.ChildSpec{
		{Name: dag.Name, Restart: supervisors.Permanent, New: dag.New(dag.Deps{Store: memstore.New(), Clock: clock.Real{}, Metrics: metrics, Logger: log,
			Config: dag.Config{MaxBlockSize: 1 << 20, GCGrace: time.Hour}})},
		{Name: governance.Name, Restart: supervisors.Permanent, New: governance.New(governance.Deps{Clock: clock.Real{}, Runtime: rt, Logger: log})},
	}}, log, reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tree.Stop(context.Background()) })
	dataDir := serveTree(t, tree, reg, 1<<20, func() httpapi.NodeInfo { return httpapi.NodeInfo{Version: "real"} })
	icnctl := func(args ...string) result {
		t.Helper()
		return runCmd(t, append([]string{"--data-dir", dataDir}, args...)...)
	}

	r := icnctl("ccl", "publish", examples+"rotating_council.ccl")
	manifest, _, _ := strings.Cut(r.stdout, "\n")
	if r.code != exitOK || !strings.HasPrefix(manifest, "bafyrei") || !strings.Contains(r.stdout, "\n  seat(Integer) -> Did\n") {
		t.Fatalf("publish: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// docs/ccl.md: seat 1 on day 65 is Alice; no members is require_failed.
	r = icnctl("ccl", "eval", manifest, "--entry", "seat", "--arg", "1", "--snapshot", examples+"snapshots/council_day_65.json")
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "result: did:key:z6MkAlice (Did)\nfuel used: ") {
		t.Fatalf("eval: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = icnctl("ccl", "eval", manifest, "--entry", "seat", "--arg", "0", "--snapshot", examples+"snapshots/council_empty.json")
	if r.code != exitError || r.stderr != "icnctl: trap require_failed: no members\n" || !strings.HasPrefix(r.stdout, "fuel used: ") {
		t.Fatalf("trap: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	bad := examples + "errors/unknown_function.ccl"
	if r := icnctl("ccl", "publish", bad); r.code != exitError ||
		r.stderr != bad+":3:9: unknown function wall_clock\nicnctl: "+bad+": 1 compile error\n" {
		t.Fatalf("compile error: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
