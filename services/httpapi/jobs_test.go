package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/actors/dag"
	"github.com/intercooperative-network/icn-go/actors/executors"
	"github.com/intercooperative-network/icn-go/actors/jobs"
	"github.com/intercooperative-network/icn-go/actors/ledger"
	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/store/memstore"
	"github.com/intercooperative-network/icn-go/services/wasm"
	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// noProviders is the peer manager of a node alone: nobody has a block.
type noProviders struct{}

func (noProviders) Receive(c actor.Context) {
	if _, ok := c.Message().(*messages.FindProviders); ok {
		c.Respond(&messages.Providers{})
	}
}

// newJobsFixture is a server over a tree that runs jobs for real: the
// dag, the ledger, an executor pool of one worker and the job manager.
func newJobsFixture(t *testing.T) *fixture {
	t.Helper()
	return newJobsFixtureSized(t, 4<<20)
}

// newJobsFixtureSized is newJobsFixture with a dag (and a server) that
// take blocks of up to maxBlock bytes.
func newJobsFixtureSized(t *testing.T, maxBlock int) *fixture {
	t.Helper()
	f := &fixture{reg: prometheus.NewRegistry()}
	log := slog.New(slog.DiscardHandler)
	id, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := wasm.New(wasm.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	dm, err := dag.NewMetrics(f.reg)
	if err != nil {
		t.Fatal(err)
	}
	lm, err := ledger.NewMetrics(f.reg)
	if err != nil {
		t.Fatal(err)
	}
	em, err := executors.NewMetrics(f.reg)
	if err != nil {
		t.Fatal(err)
	}
	st := memstore.New()
	d := supervisors.ProductionDefaults()
	d.Backoff.Initial, d.Backoff.Max = time.Millisecond, 5*time.Millisecond
	d.Shutdown = 5 * time.Second
	tree, err := supervisors.New(supervisors.Spec{Name: "icn", Children: []supervisors.ChildSpec{
		{Name: "dag", Restart: supervisors.Permanent, New: dag.New(dag.Deps{Store: st, Clock: clock.Real{},
			Config: dag.Config{MaxBlockSize: maxBlock, GCGrace: time.Hour}, Metrics: dm, Logger: log})},
		{Name: "peers", Restart: supervisors.Permanent, New: func() actor.Actor { return noProviders{} }},
		{Name: "ledger", Restart: supervisors.Permanent, New: ledger.New(ledger.Deps{Keyring: identity.NewMemoryKeyring(id, rand.Reader, 0),
			Store: st, Clock: clock.Real{}, Params: testParams, Metrics: lm, Logger: log})},
		{Name: "executors", Restart: supervisors.Permanent, Supervisor: executors.Spec(1,
			executors.Deps{Engine: eng, Identity: id, Clock: clock.Real{}, Metrics: em, Logger: log})},
		{Name: "jobs", Restart: supervisors.Permanent, Supervisor: jobs.Spec(jobs.Deps{Identity: id, Clock: clock.Real{}, Logger: log})},
	}}, log, f.reg, supervisors.WithDefaults(d))
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = tree.Stop(context.Background())
		_ = eng.Close(context.Background())
	})
	f.tree = tree
	srv, err := New(Config{APIAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", DataDir: t.TempDir(), Version: "test", MaxBlockSize: maxBlock}, Deps{
		Tree: tree, Gatherer: f.reg, Registerer: f.reg, Logger: log,
		Node: func() NodeInfo {
			return NodeInfo{DID: id.DID().String(), Version: "test", Profile: "test", Addrs: []string{}}
		},
		APIToken: []byte(apiToken), AdminToken: []byte(adminToken),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.started.Store(true)
	f.srv = srv
	waitFor(t, "the job manager and ledger to load", func() bool {
		rec := f.do(t, f.srv.Public(), call{method: "GET", path: "/api/v1/jobs", token: apiToken})
		rec2 := f.do(t, f.srv.Public(), call{method: "GET", path: "/api/v1/accounts", token: apiToken})
		return rec.Code == 200 && rec2.Code == 200
	})
	return f
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

// waitJob polls a job until it is final and settled.
func (f *fixture) waitJob(t *testing.T, id string) Job {
	t.Helper()
	var j Job
	waitFor(t, "job "+id+" to finish", func() bool {
		f.api(t, "GET", "/api/v1/jobs/"+id, "", 200, &j)
		return messages.JobFinal(j.State) && j.Settled
	})
	return j
}

// TestJobRoutes drives every job route through the router into a real job
// manager, and checks every answer against the OpenAPI document.
func TestJobRoutes(t *testing.T) {
	f := newJobsFixture(t)
	var accounts AccountList
	f.api(t, "GET", "/api/v1/accounts", "", 200, &accounts)
	before := accounts.Accounts[0]

	// A module given inline runs and completes.
	var j Job
	rec := f.api(t, "POST", "/api/v1/jobs", fmt.Sprintf(`{"module_wasm": %q, "input": %q, "max_mana": 50}`,
		b64(wasmtest.WAT(t, "upper")), b64([]byte("job via http"))), 202, &j)
	if j.JobID == "" || rec.Header().Get("Location") != "/api/v1/jobs/"+j.JobID || j.Spec.MaxMana != 50 {
		t.Fatalf("submit: %+v, location %q", j, rec.Header().Get("Location"))
	}
	done := f.waitJob(t, j.JobID)
	if done.State != messages.JobCompleted || done.Receipt == nil || done.Executor != before.DID || len(done.History) != 7 {
		t.Fatalf("job %+v", done)
	}
	// A lone node's only bid is its own, the one that won.
	if len(done.Bids) != 1 || done.Bids[0].Executor != before.DID || done.Bids[0].Price != done.Price || done.Bids[0].Time == "" {
		t.Fatalf("bids %+v, want the node's own at price %d", done.Bids, done.Price)
	}
	out := f.api(t, "GET", "/api/v1/jobs/"+j.JobID+"/output", "", 200, nil)
	if got := out.Body.String(); got != "JOB VIA HTTP" || out.Header().Get("Content-Type") != ctRaw {
		t.Fatalf("output %q (%s)", got, out.Header().Get("Content-Type"))
	}
	eb := errorBody(t, f.api(t, "POST", "/api/v1/jobs/"+j.JobID+"/cancel", "", 409, nil))
	if eb.Code != CodeJobFinished {
		t.Fatalf("cancel of a finished job: %+v", eb)
	}

	// A job cancelled while it runs. The cancel stops its run on the
	// executor too (actors/jobs TestCancelStopsTheLocalRun), so the one
	// worker is soon free for the next job; the short timeout only bounds
	// the wait should the run outlive the cancel.
	var slow Job
	f.api(t, "POST", "/api/v1/jobs", fmt.Sprintf(`{"module_wasm": %q, "limits": {"timeout_ms": 300}}`, b64(wasmtest.WAT(t, "sleep"))), 202, &slow)
	var cancelled Job
	f.api(t, "POST", "/api/v1/jobs/"+slow.JobID+"/cancel", "", 200, &cancelled)
	if cancelled.State != messages.JobCancelled {
		t.Fatalf("cancel: %+v", cancelled)
	}
	eb = errorBody(t, f.api(t, "GET", "/api/v1/jobs/"+slow.JobID+"/output", "", 409, nil))
	if eb.Code != CodeNoOutput {
		t.Fatalf("output of a cancelled job: %+v", eb)
	}
	// The first job's module by CID.
	var byCID Job
	f.api(t, "POST", "/api/v1/jobs", fmt.Sprintf(`{"module": %q, "input": %q, "args": ["a"], "env": {"K": "V"}}`,
		done.Spec.Module, b64([]byte("again"))), 202, &byCID)
	if byCID.Spec.Module != done.Spec.Module || byCID.JobID == j.JobID {
		t.Fatalf("by CID: %+v", byCID)
	}
	f.waitJob(t, byCID.JobID)

	var list JobList
	f.api(t, "GET", "/api/v1/jobs", "", 200, &list)
	if len(list.Jobs) != 3 {
		t.Fatalf("list: %+v", list)
	}
	f.api(t, "GET", "/api/v1/jobs?state=completed&limit=1", "", 200, &list)
	if len(list.Jobs) != 1 || list.Jobs[0].State != messages.JobCompleted || list.Next == "" {
		t.Fatalf("list completed, limit 1: %+v", list)
	}
	f.api(t, "GET", "/api/v1/jobs?state=completed&after="+list.Next, "", 200, &list)
	if len(list.Jobs) != 1 || list.Next != "" {
		t.Fatalf("second page: %+v", list)
	}

	// Every escrow came back.
	f.api(t, "GET", "/api/v1/accounts", "", 200, &accounts)
	if a := accounts.Accounts[0]; a.Available != before.Available || a.Reserved != 0 {
		t.Fatalf("account %+v, was %+v", a, before)
	}
}

func TestJobRouteErrors(t *testing.T) {
	f := newJobsFixture(t)
	module := b64(wasmtest.WAT(t, "upper"))
	for _, c := range []struct {
		body   string
		status int
		code   string
	}{
		{`{}`, 400, CodeInvalidModule},
		{`{"module": "not-a-cid"}`, 400, CodeInvalidModule},
		{fmt.Sprintf(`{"module_wasm": %q}`, b64([]byte("not wasm"))), 400, CodeInvalidModule},
		{fmt.Sprintf(`{"module_wasm": %q, "module": "bafkqaaa"}`, module), 400, CodeInvalidModule},
		{fmt.Sprintf(`{"module_wasm": %q, "input": %q}`, module, b64(make([]byte, messages.MaxJobInput+1))), 413, CodeTooLarge},
		{fmt.Sprintf(`{"module_wasm": %q, "input": "aGk=", "input_cid": "bafkqaaa"}`, module), 400, CodeInvalidJob},
		{fmt.Sprintf(`{"module_wasm": %q, "max_mana": 2000}`, module), 409, CodeInsufficientMana},
		{fmt.Sprintf(`{"module_wasm": %q, "bogus": 1}`, module), 400, CodeBadRequest},
	} {
		eb := errorBody(t, f.api(t, "POST", "/api/v1/jobs", c.body, c.status, nil))
		if eb.Code != c.code {
			t.Errorf("%.60s: code %s, want %s (%s)", c.body, eb.Code, c.code, eb.Error)
		}
	}
	var list JobList
	f.api(t, "GET", "/api/v1/jobs", "", 200, &list)
	if len(list.Jobs) != 0 {
		t.Fatalf("refused jobs were recorded: %+v", list)
	}
	for _, c := range []struct {
		method, path, code string
		status             int
	}{
		{"GET", "/api/v1/jobs/nope", CodeUnknownJob, 404},
		{"GET", "/api/v1/jobs/nope/output", CodeUnknownJob, 404},
		{"POST", "/api/v1/jobs/nope/cancel", CodeUnknownJob, 404},
		{"GET", "/api/v1/jobs?state=sleeping", CodeBadRequest, 400},
		{"GET", "/api/v1/jobs?limit=0", CodeBadRequest, 400},
	} {
		eb := errorBody(t, f.api(t, c.method, c.path, "", c.status, nil))
		if eb.Code != c.code {
			t.Errorf("%s %s: code %s, want %s", c.method, c.path, eb.Code, c.code)
		}
	}
}

// jobEvents reads a job event stream's "event: state" events (and the
// name of any other event) from body.
func jobEvents(t *testing.T, body string) (states []JobEvent, other []string) {
	t.Helper()
	for _, block := range strings.Split(body, "\n\n") {
		var name, data string
		for _, line := range strings.Split(block, "\n") {
			if v, ok := strings.CutPrefix(line, "event: "); ok {
				name = v
			} else if v, ok := strings.CutPrefix(line, "data: "); ok {
				data = v
			}
		}
		switch {
		case name == "state":
			var ev JobEvent
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Fatalf("event data %q: %v", data, err)
			}
			states = append(states, ev)
		case name != "":
			other = append(other, name)
		}
	}
	return states, other
}

// TestJobEvents follows jobs through the event stream: one event per
// transition, the history first, and the stream ends after the final
// state (the recorder returns only once the handler has).
func TestJobEvents(t *testing.T) {
	f := newJobsFixture(t)
	var j Job
	f.api(t, "POST", "/api/v1/jobs", fmt.Sprintf(`{"module_wasm": %q, "input": %q}`,
		b64(wasmtest.WAT(t, "upper")), b64([]byte("events"))), 202, &j)
	rec := f.do(t, f.srv.Public(), call{method: "GET", path: "/api/v1/jobs/" + j.JobID + "/events", token: apiToken})
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %v", rec.Code, rec.Header())
	}
	states, other := jobEvents(t, rec.Body.String())
	var done Job
	f.api(t, "GET", "/api/v1/jobs/"+j.JobID, "", 200, &done)
	if len(other) != 0 || len(states) != len(done.History) || states[len(states)-1].State != messages.JobCompleted {
		t.Fatalf("events %+v (and %v), history %+v", states, other, done.History)
	}
	for i, ev := range states {
		if ev.State != done.History[i].State || ev.Time != done.History[i].Time || ev.Reason != "" {
			t.Fatalf("event %d: %+v, history %+v", i, ev, done.History[i])
		}
	}

	// A finished job's stream is its history, then the end.
	again := f.do(t, f.srv.Public(), call{method: "GET", path: "/api/v1/jobs/" + j.JobID + "/events", token: apiToken})
	if s, _ := jobEvents(t, again.Body.String()); len(s) != len(states) {
		t.Fatalf("replay: %+v", s)
	}

	// A failed job's last event carries the reason.
	var bad Job
	f.api(t, "POST", "/api/v1/jobs", fmt.Sprintf(`{"module_wasm": %q}`, b64(wasmtest.WAT(t, "trap"))), 202, &bad)
	rec = f.do(t, f.srv.Public(), call{method: "GET", path: "/api/v1/jobs/" + bad.JobID + "/events", token: apiToken})
	states, _ = jobEvents(t, rec.Body.String())
	if last := states[len(states)-1]; last.State != messages.JobFailed || last.Reason == "" {
		t.Fatalf("failed job's events: %+v", states)
	}

	eb := errorBody(t, f.api(t, "GET", "/api/v1/jobs/nope/events", "", 404, nil))
	if eb.Code != CodeUnknownJob {
		t.Fatalf("events of an unknown job: %+v", eb)
	}

	// A client that goes away ends the stream of a job still running.
	var slow Job
	f.api(t, "POST", "/api/v1/jobs", fmt.Sprintf(`{"module_wasm": %q, "limits": {"timeout_ms": 300}}`, b64(wasmtest.WAT(t, "sleep"))), 202, &slow)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	req := httptest.NewRequestWithContext(ctx, "GET", "/api/v1/jobs/"+slow.JobID+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+apiToken)
	start := time.Now()
	rec = httptest.NewRecorder()
	f.srv.Public().ServeHTTP(rec, req)
	if d := time.Since(start); d > 250*time.Millisecond {
		t.Fatalf("the stream outlived its client by %s", d)
	}
	if states, _ := jobEvents(t, rec.Body.String()); len(states) == 0 || messages.JobFinal(states[len(states)-1].State) {
		t.Fatalf("events of a running job: %+v", states)
	}
	f.waitJob(t, slow.JobID)
}

// A module_wasm larger than the node's blocks is stored chunked, and the
// job runs; only a body over the route's limit is a 413.
func TestAModuleLargerThanABlockIsChunked(t *testing.T) {
	const maxBlock = 64 << 10
	f := newJobsFixtureSized(t, maxBlock)
	wasm := wasmtest.Padded(wasmtest.WAT(t, "upper"), 3*maxBlock)
	var j Job
	f.api(t, "POST", "/api/v1/jobs", fmt.Sprintf(`{"module_wasm": %q, "input": %q}`, b64(wasm), b64([]byte("chunked"))), 202, &j)
	root, chunks, err := block.SplitModule(wasm, maxBlock)
	if err != nil {
		t.Fatal(err)
	}
	if j.Spec.Module != root.CID().String() {
		t.Fatalf("module %s, want the chunked module's root %s", j.Spec.Module, root.CID())
	}
	done := f.waitJob(t, j.JobID)
	if done.State != messages.JobCompleted || done.Receipt == nil || done.Receipt.Module != root.CID().String() {
		t.Fatalf("job %+v", done)
	}
	if out := f.api(t, "GET", "/api/v1/jobs/"+j.JobID+"/output", "", 200, nil); out.Body.String() != "CHUNKED" {
		t.Fatalf("output %q", out.Body)
	}
	for _, c := range chunks {
		f.api(t, "GET", "/api/v1/dag/blocks/"+c.CID().String()+"/stat", "", 200, nil)
	}
	var raw struct {
		Receipt map[string]any `json:"receipt"`
	}
	rec := f.api(t, "GET", "/api/v1/jobs/"+j.JobID, "", 200, nil)
	if err := json.Unmarshal(rec.Body.Bytes(), &raw); err != nil {
		t.Fatal(err)
	}
	if _, ok := raw.Receipt["cpu_us"]; !ok {
		t.Fatalf("the receipt has no cpu_us: %v", raw.Receipt)
	}

	// A dag-cbor module that is not a chunked module's root.
	notRoot, err := block.Encode(map[string]any{"module_chunks": "no"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.tree.Request(t.Context(), "dag", &messages.PutBlocks{Blocks: []block.Block{notRoot}}); err != nil {
		t.Fatal(err)
	}
	eb := errorBody(t, f.api(t, "POST", "/api/v1/jobs", fmt.Sprintf(`{"module": %q}`, notRoot.CID()), 400, nil))
	if eb.Code != CodeInvalidModule {
		t.Fatalf("a dag-cbor module that is not a root: %+v", eb)
	}

	// Over the body limit (no request body is read past it).
	body := `{"module_wasm": "` + strings.Repeat("A", jobBodyLimit) + `"}`
	over := f.do(t, f.srv.Public(), call{method: "POST", path: "/api/v1/jobs", token: apiToken, body: body, contentType: "application/json"})
	if eb := errorBody(t, over); over.Code != 413 || eb.Code != CodeTooLarge {
		t.Fatalf("a body over the limit: %d %+v", over.Code, eb)
	}
}

func TestModuleBlocks(t *testing.T) {
	wasm := wasmtest.Padded(wasmtest.WAT(t, "upper"), 100<<10)
	for _, tc := range []struct {
		name     string
		size     int
		maxBlock int
		blocks   int // 0: refused as invalid_module
	}{
		{"fits in a block", len(wasm), 4 << 20, 1},
		{"one byte over a block", len(wasm), len(wasm) - 1, 3},
		{"chunks of a block", len(wasm), 64 << 10, 3},
		{"one block under big blocks", 3<<20 + 1, 4 << 20, 1},
		{"chunks of 1 MiB under big blocks", 5 << 20, 4 << 20, 6},
		{"over the bound", block.MaxModuleSize + 1, 4 << 20, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := wasm
			if tc.size != len(wasm) {
				data = make([]byte, tc.size)
			}
			blocks, err := moduleBlocks(data, tc.maxBlock)
			var e *Error
			switch {
			case tc.blocks == 0 && (!errors.As(err, &e) || e.Code != CodeInvalidModule):
				t.Fatalf("%d blocks, %v; want invalid_module", len(blocks), err)
			case tc.blocks != 0 && (err != nil || len(blocks) != tc.blocks):
				t.Fatalf("%d blocks, %v; want %d", len(blocks), err, tc.blocks)
			}
			for _, b := range blocks {
				if b.Size() > tc.maxBlock {
					t.Fatalf("a block of %d bytes (max %d)", b.Size(), tc.maxBlock)
				}
			}
		})
	}
}
