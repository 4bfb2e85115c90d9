package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/httpapi"
	"github.com/intercooperative-network/icn-go/supervisors"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// TestAgainstTheRealServer runs protoactor, whose dead-letter log
		// throttle lives on for a second after a dead letter.
		goleak.IgnoreTopFunction("time.Sleep"),
		goleak.IgnoreAnyFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
		// TestPeersAgainstTheRealServer runs libp2p on a mocknet, whose
		// process-wide workers outlive any one host.
		goleak.IgnoreAnyFunction("github.com/golang/glog.(*fileSink).flushDaemon"),
		goleak.IgnoreTopFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		goleak.IgnoreAnyFunction("github.com/libp2p/go-libp2p/p2p/net/mock.(*peernet).setupConn"))
}

const (
	apiToken   = "api-token-0123456789abcdef"
	adminToken = "admin-token-0123456789abcdef"
)

// fake imitates one of icnd's listeners: canned answers built from the real
// httpapi and supervisors types, the bearer check, and a log of requests.
type fake struct {
	srv  *httptest.Server
	mux  *http.ServeMux
	done chan struct{} // closed at cleanup: ends open event streams

	mu   sync.Mutex
	reqs []request
}

type request struct {
	method, uri, auth, contentType, body string
}

func newFake(t *testing.T, token string, routes map[string]http.HandlerFunc) *fake {
	t.Helper()
	f := &fake{done: make(chan struct{}), mux: http.NewServeMux()}
	mux := f.mux
	for pattern, h := range routes {
		mux.HandleFunc(pattern, h)
	}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		f.mu.Lock()
		f.reqs = append(f.reqs, request{r.Method, r.URL.RequestURI(), r.Header.Get("Authorization"), r.Header.Get("Content-Type"), string(body)})
		f.mu.Unlock()
		switch r.URL.Path {
		case "/health", "/ready", "/metrics":
		default:
			if r.Header.Get("Authorization") != "Bearer "+token {
				writeErrorBody(w, http.StatusUnauthorized, httpapi.CodeUnauthorized, "missing or wrong bearer token (Authorization: Bearer <token>)", "")
				return
			}
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() { close(f.done) }) // runs first: streams end, then Close can return
	return f
}

// requests returns what the fake was asked.
func (f *fake) requests() []request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]request(nil), f.reqs...)
}

// sentOne fails t unless reqs is what a command sent for want: nothing
// when want is "" (refused before any request), else exactly one request,
// "METHOD URI[ BODY]", with token, and a JSON content type when it has a
// body.
func sentOne(t *testing.T, reqs []request, want, token string) {
	t.Helper()
	if want == "" {
		if len(reqs) != 0 {
			t.Fatalf("a request was sent: %+v", reqs)
		}
		return
	}
	ctype := "application/json"
	if !strings.Contains(want, "{") {
		ctype = "" // no body, no content type
	}
	if len(reqs) != 1 || strings.TrimSpace(reqs[0].method+" "+reqs[0].uri+" "+reqs[0].body) != strings.TrimSpace(want) ||
		reqs[0].auth != "Bearer "+token || reqs[0].contentType != ctype {
		t.Fatalf("requests: %+v\n  want %s", reqs, want)
	}
}

// count returns how many requests asked for path (without query).
func (f *fake) count(path string) int {
	n := 0
	for _, r := range f.requests() {
		if p, _, _ := strings.Cut(r.uri, "?"); p == path {
			n++
		}
	}
	return n
}

// hostPort is the fake's address as icnd writes it into api.addr.
func (f *fake) hostPort() string { return strings.TrimPrefix(f.srv.URL, "http://") }

func reply(status int, v any) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
	}
}

func writeErrorBody(w http.ResponseWriter, status int, code, msg, retryAfter string) {
	if retryAfter != "" {
		w.Header().Set("Retry-After", retryAfter)
	}
	reply(status, httpapi.ErrorBody{Error: msg, Code: code})(w, nil)
}

func failure(status int, code, msg, retryAfter string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) { writeErrorBody(w, status, code, msg, retryAfter) }
}

// sse serves an event stream: frames are written (and flushed) one by one;
// then the stream stays open until the client or the test goes away, unless
// closeAfter is set.
func (f *fake) sse(closeAfter bool, frames ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		rc := http.NewResponseController(w)
		for _, fr := range frames {
			if _, err := io.WriteString(w, fr); err != nil {
				return
			}
			_ = rc.Flush()
		}
		if closeAfter {
			return
		}
		select {
		case <-r.Context().Done():
		case <-f.done:
		}
	}
}

func supervisionFrame(t *testing.T, ev supervisors.Event) string {
	t.Helper()
	b, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	return "event: supervision\ndata: " + string(b) + "\n\n"
}

// Canned node state.

var (
	startedAt = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	testNow   = startedAt.Add(2*time.Hour + 5*time.Second)
)

func nodeInfo() httpapi.NodeInfo {
	return httpapi.NodeInfo{DID: "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp", PeerID: "12D3KooWtest",
		Addrs: []string{"/ip4/127.0.0.1/tcp/4001", "/ip4/127.0.0.1/udp/4001/quic-v1"}, Version: "v0.3.0", Profile: "dev", StartedAt: startedAt}
}

func health(degraded bool) httpapi.Health {
	h := httpapi.Health{Status: "ok", Subsystems: map[string]httpapi.SubsystemHealth{
		"dag":       {State: "running", Breaker: "closed", Serving: true},
		"ledger":    {State: "running", Breaker: "closed", Serving: true},
		"executors": {State: "running", Breaker: "closed", Serving: true},
	}}
	if degraded {
		h.Status = "degraded"
		h.Subsystems["dag"] = httpapi.SubsystemHealth{State: "stopped", Breaker: "open", Serving: false}
		h.Subsystems["ledger"] = httpapi.SubsystemHealth{State: "unresponsive", Breaker: "closed", Error: "supervisors: timeout"}
	}
	return h
}

func subsystems(degraded bool) httpapi.SubsystemsReply {
	ledger := &messages.SubsystemStatus{Name: "ledger", Ready: true, Since: startedAt.Add(time.Hour),
		Details: map[string]string{"accounts": "12", "blocks": "42"}}
	r := httpapi.SubsystemsReply{Subsystems: []httpapi.SubsystemEntry{
		{Name: "dag", Path: "/icn/dag", Status: &messages.SubsystemStatus{Name: "dag", Ready: true, Since: startedAt}},
		{Name: "ledger", Path: "/icn/ledger", Status: ledger},
		{Name: "executors", Path: "/icn/executors", Error: &httpapi.ErrorBody{Error: "supervisors: no handler", Code: httpapi.CodeNotImplemented}},
	}}
	if degraded {
		r.Subsystems[0].Status = nil
		r.Subsystems[0].Error = &httpapi.ErrorBody{Error: "supervisors: /icn/dag is unavailable (breaker open)", Code: httpapi.CodeUnavailable,
			Details: map[string]any{"actor": "/icn/dag", "state": "open"}}
	}
	return r
}

func tree() supervisors.Node {
	worker := func(name string, processed uint64) supervisors.Node {
		return supervisors.Node{Path: "/icn/executors/" + name, Name: name, Kind: "worker", Restart: "permanent",
			Status: "running", Breaker: "closed", Processed: processed}
	}
	return supervisors.Node{Path: "/icn", Name: "icn", Kind: "supervisor", Strategy: "one_for_one", Restart: "permanent",
		Status: "running", Breaker: "closed", Children: []supervisors.Node{
			{Path: "/icn/dag", Name: "dag", Kind: "worker", Restart: "permanent", Status: "stopped", Breaker: "open",
				BreakerTrips: 2, Restarts: 3, Failures: 4, Processed: 1500,
				LastFailure: &supervisors.FailureInfo{Reason: "panic: disk on fire\ngoroutine 7 [running]:", Time: startedAt.Add(90 * time.Minute), MessageType: "*messages.Put"}},
			{Path: "/icn/ledger", Name: "ledger", Kind: "worker", Restart: "permanent", Status: "running", Breaker: "closed",
				BreakerTrips: 1, Mailbox: 2, Processed: 120},
			{Path: "/icn/executors", Name: "executors", Kind: "supervisor", Strategy: "rest_for_one", Restart: "permanent",
				Status: "running", Breaker: "closed", Children: []supervisors.Node{worker("worker-0", 7), worker("worker-1", 9)}},
		}}
}

// publicRoutes is a healthy or degraded public API.
func publicRoutes(degraded bool) map[string]http.HandlerFunc {
	ready := reply(http.StatusOK, httpapi.Readiness{Ready: true, Reasons: []string{}})
	if degraded {
		ready = reply(http.StatusServiceUnavailable, httpapi.Readiness{Reasons: []string{"dag is stopped (breaker open)", "ledger is unresponsive (breaker closed)"}})
	}
	return map[string]http.HandlerFunc{
		"GET /health":                    reply(http.StatusOK, health(degraded)),
		"GET /ready":                     ready,
		"GET /api/v1/node":               reply(http.StatusOK, nodeInfo()),
		"GET /api/v1/subsystems":         reply(http.StatusOK, subsystems(degraded)),
		"GET /api/v1/subsystems/ledger":  reply(http.StatusOK, subsystems(false).Subsystems[1].Status),
		"GET /api/v1/subsystems/dag":     failure(http.StatusServiceUnavailable, httpapi.CodeUnavailable, "supervisors: /icn/dag is unavailable (breaker open)", "3"),
		"GET /api/v1/openapi.json":       reply(http.StatusOK, map[string]any{"openapi": "3.0.3", "info": map[string]string{"title": "ICN node API"}}),
		"GET /metrics":                   func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "# TYPE icn_up gauge\nicn_up 1\n") },
		"GET /api/v1/subsystems/{other}": failure(http.StatusNotFound, httpapi.CodeNotFound, `no subsystem "nope"`, ""),
	}
}

func adminRoutes() map[string]http.HandlerFunc {
	return map[string]http.HandlerFunc{
		"GET /admin/actors": func(w http.ResponseWriter, r *http.Request) {
			switch p := r.URL.Query().Get("path"); p {
			case "":
				reply(http.StatusOK, tree())(w, r)
			case "/icn/executors":
				reply(http.StatusOK, tree().Children[2])(w, r)
			default:
				writeErrorBody(w, http.StatusNotFound, httpapi.CodeNotFound, "supervisors: not found: "+p, "")
			}
		},
		"POST /admin/actors/kill": func(w http.ResponseWriter, r *http.Request) {
			var req httpapi.KillRequest
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				writeErrorBody(w, http.StatusBadRequest, httpapi.CodeBadRequest, err.Error(), "")
				return
			}
			switch req.Path {
			case "/icn/zz":
				writeErrorBody(w, http.StatusNotFound, httpapi.CodeNotFound, "supervisors: not found: /icn/zz", "")
			case "/icn/dag":
				writeErrorBody(w, http.StatusConflict, httpapi.CodeActorNotRunning, "supervisors: actor not running: /icn/dag", "")
			case "/icn/busy":
				writeErrorBody(w, http.StatusServiceUnavailable, httpapi.CodeUnavailable, "supervisors: /icn/busy is unavailable (half_open)", "2")
			default:
				reply(http.StatusAccepted, httpapi.KillAccepted{Path: req.Path, Mode: req.Mode, Accepted: true})(w, r)
			}
		},
		"GET /admin/openapi.json": reply(http.StatusOK, map[string]any{"openapi": "3.0.3", "info": map[string]string{"title": "ICN node admin API"}}),
	}
}

// node is a fake icnd: both listeners and a data dir with both tokens.
type node struct {
	api, admin *fake
	dataDir    string
}

func newNode(t *testing.T, degraded bool) *node {
	t.Helper()
	n := &node{dataDir: t.TempDir()}
	n.api = newFake(t, apiToken, publicRoutes(degraded))
	n.admin = newFake(t, adminToken, adminRoutes())
	writeFile(t, filepath.Join(n.dataDir, httpapi.APITokenFile), apiToken+"\n")
	writeFile(t, filepath.Join(n.dataDir, httpapi.AdminTokenFile), adminToken+"\n")
	return n
}

// flags points icnctl at the fake node by flags, as URLs.
func (n *node) flags(args ...string) []string {
	return append([]string{"--api", n.api.srv.URL, "--admin=" + n.admin.srv.URL, "--data-dir", n.dataDir}, args...)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Running icnctl in-process.

type result struct {
	code           int
	stdout, stderr string
}

// expect fails the test unless r exited with code and printed exactly
// stdout and stderr.
func (r result) expect(t *testing.T, code int, stdout, stderr string) {
	t.Helper()
	if r.code != code || r.stdout != stdout || r.stderr != stderr {
		t.Fatalf("exit %d (want %d)\nstdout %q\n  want %q\nstderr %q\n  want %q", r.code, code, r.stdout, stdout, r.stderr, stderr)
	}
}

func testApp(env map[string]string) *app {
	a := newApp(func(k string) string { return env[k] }, "v9.9.9-test")
	a.now = func() time.Time { return testNow }
	a.isTerminal = func(io.Writer) bool { return false }
	a.backoffMin, a.backoffMax = 5*time.Millisecond, 20*time.Millisecond
	return a
}

func runApp(t *testing.T, a *app, args ...string) result {
	t.Helper()
	var out, errOut bytes.Buffer
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	code := run(ctx, a, args, &out, &errOut)
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

func runCmd(t *testing.T, args ...string) result {
	t.Helper()
	return runApp(t, testApp(nil), args...)
}

// syncBuffer is a bytes.Buffer safe for one writer and a polling reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
