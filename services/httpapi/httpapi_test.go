package httpapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/intercooperative-network/icn-go/actors/dag"
	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/correlation"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/network/memnet"
	"github.com/intercooperative-network/icn-go/services/store/memstore"
	"github.com/intercooperative-network/icn-go/supervisors"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// protoactor's dead-letter log throttle lives one second after a dead letter.
		goleak.IgnoreTopFunction("time.Sleep"),
		goleak.IgnoreAnyFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
		// libp2p's process-wide workers (the fixture's peers run on a
		// mocknet) outlive any one host.
		goleak.IgnoreAnyFunction("github.com/golang/glog.(*fileSink).flushDaemon"),
		goleak.IgnoreTopFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		goleak.IgnoreAnyFunction("github.com/libp2p/go-libp2p/p2p/net/mock.(*peernet).setupConn"))
}

const (
	apiToken   = "api-token-0123456789abcdef"
	adminToken = "admin-token-0123456789abcdef"
)

// subsystem answers StatusRequest and records the correlation id it saw.
type subsystem struct {
	name     string
	lastID   *atomic.Value
	starting *atomic.Bool // panic on start while set
}

func (s *subsystem) Receive(c actor.Context) {
	switch c.Message().(type) {
	case *actor.Started:
		if s.starting.Load() {
			panic("cannot start")
		}
	case *messages.StatusRequest:
		if h := c.MessageHeader(); h != nil {
			s.lastID.Store(h.Get(correlation.Header))
		}
		c.Respond(&messages.SubsystemStatus{Name: s.name, Ready: true, Since: time.Unix(0, 0).UTC()})
	}
}

// The fixture's "governance" child is a stand-in subsystem: it answers its
// status, records the correlation id it saw, and fails to start while
// broken is set. "peers" is the real peer manager on a memnet network.
type fixture struct {
	srv         *Server
	tree        *supervisors.Tree
	reg         *prometheus.Registry
	lastID      atomic.Value
	broken      atomic.Bool
	dataDir     string
	router      routers.Router // the public document's, made on first use
	adminRouter routers.Router // the admin document's, made on first use
	fabric      *memnet.Fabric // the fixture's network, for other nodes
	net         *memnet.Network
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{reg: prometheus.NewRegistry(), dataDir: t.TempDir()}
	f.lastID.Store("")
	child := func(name string) supervisors.ChildSpec {
		return supervisors.ChildSpec{Name: name, Restart: supervisors.Permanent,
			New: func() actor.Actor { return &subsystem{name: name, lastID: &f.lastID, starting: &f.broken} }}
	}
	pool := &supervisors.Spec{Children: []supervisors.ChildSpec{child("worker-0")}}
	dagMetrics, err := dag.NewMetrics(f.reg)
	if err != nil {
		t.Fatal(err)
	}
	st := memstore.New()
	f.fabric = newFabric(t)
	id, peersActor := newPeers(t, f.reg, f.fabric, &f.net)
	spec := supervisors.Spec{Name: "icn", Children: []supervisors.ChildSpec{
		{Name: "peers", Restart: supervisors.Permanent, New: peersActor},
		{Name: "ledger", Restart: supervisors.Permanent, New: newLedger(t, f.reg, st)},
		{Name: "executors", Restart: supervisors.Permanent, Supervisor: pool},
		{Name: "dag", Restart: supervisors.Permanent, New: dag.New(dag.Deps{Store: st, Clock: clock.Real{},
			Config: dag.Config{MaxBlockSize: 1 << 20, GCGrace: time.Hour}, Metrics: dagMetrics, Logger: slog.New(slog.DiscardHandler)})},
		child("governance"),
	}}
	d := supervisors.ProductionDefaults()
	d.Intensity, d.Period = 1, time.Minute
	d.Backoff.Initial, d.Backoff.Max = time.Millisecond, 5*time.Millisecond
	d.Breaker.OpenTimeout, d.Breaker.MaxOpenTimeout, d.Breaker.ProbeWindow = 300*time.Millisecond, time.Second, 50*time.Millisecond
	d.Shutdown = time.Second
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tree, err := supervisors.New(spec, log, f.reg, supervisors.WithDefaults(d))
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tree.Stop(context.Background()) })
	f.tree = tree
	started := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	srv, err := New(Config{APIAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", DataDir: f.dataDir, Version: "test"}, Deps{
		Tree: tree, Gatherer: f.reg, Registerer: f.reg, Logger: log,
		Node: func() NodeInfo {
			// As wiring builds it: the addresses end in the peer ID.
			return NodeInfo{DID: id.DID().String(), PeerID: f.net.ID().String(), Addrs: []string{f.net.Addr().String()},
				Version: "test", Profile: "test", StartedAt: started}
		},
		APIToken: []byte(apiToken), AdminToken: []byte(adminToken),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.started.Store(true) // route tests call the handlers without listening
	f.srv = srv
	return f
}

type call struct {
	method, path, token, body, contentType string
	header                                 map[string]string
}

func (f *fixture) do(t *testing.T, h http.Handler, c call) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequestWithContext(t.Context(), c.method, c.path, strings.NewReader(c.body))
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func errorBody(t *testing.T, rec *httptest.ResponseRecorder) ErrorBody {
	t.Helper()
	var eb ErrorBody
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error content type %q, body %s", ct, rec.Body)
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &eb); err != nil || eb.Error == "" || eb.Code == "" {
		t.Fatalf("not the error shape: %s (%v)", rec.Body, err)
	}
	return eb
}

func TestAuthAndErrorShapes(t *testing.T) {
	f := newFixture(t)
	pub, adm := f.srv.Public(), f.srv.Admin()
	tests := []struct {
		name   string
		h      http.Handler
		c      call
		status int
		code   string
	}{
		{"api without token", pub, call{method: "GET", path: "/api/v1/node"}, 401, CodeUnauthorized},
		{"api with wrong token", pub, call{method: "GET", path: "/api/v1/node", token: "nope"}, 401, CodeUnauthorized},
		{"api with the admin token", pub, call{method: "GET", path: "/api/v1/node", token: adminToken}, 401, CodeUnauthorized},
		{"admin with the api token", adm, call{method: "GET", path: "/admin/actors", token: apiToken}, 401, CodeUnauthorized},
		{"admin kill without token", adm, call{method: "POST", path: "/admin/actors/kill", body: `{"path":"/icn/peers","mode":"panic"}`}, 401, CodeUnauthorized},
		{"unknown api path", pub, call{method: "GET", path: "/api/v1/nope", token: apiToken}, 404, CodeNotFound},
		{"unknown admin path", adm, call{method: "GET", path: "/admin/nope", token: adminToken}, 404, CodeNotFound},
		{"wrong method", pub, call{method: "DELETE", path: "/api/v1/node", token: apiToken}, 405, CodeMethod},
		{"unknown subsystem", pub, call{method: "GET", path: "/api/v1/subsystems/nope", token: apiToken}, 404, CodeNotFound},
		{"unknown actor", adm, call{method: "GET", path: "/admin/actors?path=/icn/nope", token: adminToken}, 404, CodeNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(t, tt.h, tt.c)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if eb := errorBody(t, rec); eb.Code != tt.code {
				t.Fatalf("code %q, want %q", eb.Code, tt.code)
			}
			if tt.status == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Fatal("401 without WWW-Authenticate")
			}
			if tt.status == 405 && rec.Header().Get("Allow") == "" {
				t.Fatal("405 without Allow")
			}
		})
	}
}

func TestPublicEndpoints(t *testing.T) {
	f := newFixture(t)
	pub := f.srv.Public()
	rec := f.do(t, pub, call{method: "GET", path: "/health"})
	var h Health
	if err := json.Unmarshal(rec.Body.Bytes(), &h); err != nil || rec.Code != 200 {
		t.Fatalf("health: %d %s", rec.Code, rec.Body)
	}
	if h.Status != "ok" || len(h.Subsystems) != 5 || !h.Subsystems["peers"].Serving || !h.Subsystems["governance"].Serving ||
		h.Subsystems["executors"].Breaker != "closed" {
		t.Fatalf("health: %+v", h)
	}
	f.ledgerReady(t) // until then, /ready says the ledger is loading
	if rec := f.do(t, pub, call{method: "GET", path: "/ready"}); rec.Code != 200 {
		t.Fatalf("ready: %d %s", rec.Code, rec.Body)
	}
	rec = f.do(t, pub, call{method: "GET", path: "/api/v1/node", token: apiToken})
	var n NodeInfo
	if err := json.Unmarshal(rec.Body.Bytes(), &n); err != nil || n.Profile != "test" || !strings.HasPrefix(n.DID, "did:key:z") ||
		n.PeerID != f.net.ID().String() || len(n.Addrs) != 1 || !strings.HasSuffix(n.Addrs[0], "/p2p/"+n.PeerID) {
		t.Fatalf("node: %d %s", rec.Code, rec.Body)
	}
	rec = f.do(t, pub, call{method: "GET", path: "/api/v1/subsystems/ledger", token: apiToken})
	var st messages.SubsystemStatus
	if err := json.Unmarshal(rec.Body.Bytes(), &st); err != nil || st.Name != "ledger" {
		t.Fatalf("subsystem: %d %s", rec.Code, rec.Body)
	}
	rec = f.do(t, pub, call{method: "GET", path: "/api/v1/subsystems", token: apiToken})
	var all SubsystemsReply
	// The fixture's executors supervisor has no behaviour: it says so at once.
	if err := json.Unmarshal(rec.Body.Bytes(), &all); err != nil || len(all.Subsystems) != 5 || all.Subsystems[0].Status == nil ||
		all.Subsystems[0].Status.Details["peer_id"] != f.net.ID().String() || all.Subsystems[1].Status == nil ||
		all.Subsystems[2].Error == nil || all.Subsystems[2].Error.Code != CodeNotImplemented {
		t.Fatalf("subsystems: %d %s", rec.Code, rec.Body)
	}
	rec = f.do(t, pub, call{method: "GET", path: "/metrics"})
	if rec.Code != 200 || !strings.Contains(rec.Body.String(), "icn_actor_messages_processed_total") || !strings.Contains(rec.Body.String(), "icn_http_requests_total") {
		t.Fatalf("metrics: %d\n%s", rec.Code, rec.Body)
	}
}

func TestCorrelationIDIsEchoedAndReachesTheActor(t *testing.T) {
	f := newFixture(t)
	rec := f.do(t, f.srv.Public(), call{method: "GET", path: "/api/v1/subsystems/governance", token: apiToken, header: map[string]string{RequestIDHeader: "trace-123"}})
	if got := rec.Header().Get(RequestIDHeader); got != "trace-123" {
		t.Fatalf("echoed %q", got)
	}
	if got := f.lastID.Load(); got != "trace-123" {
		t.Fatalf("the actor saw correlation id %q", got)
	}
	for _, bad := range []string{"", "has space", strings.Repeat("x", 200)} {
		rec := f.do(t, f.srv.Public(), call{method: "GET", path: "/health", header: map[string]string{RequestIDHeader: bad}})
		if got := rec.Header().Get(RequestIDHeader); !correlation.Valid(got) || got == bad {
			t.Fatalf("for %q the server answered id %q", bad, got)
		}
	}
}

func TestKillValidation(t *testing.T) {
	f := newFixture(t)
	adm := f.srv.Admin()
	tests := []struct {
		name, body, contentType string
		status                  int
		code                    string
	}{
		{"malformed json", `{"path":`, "application/json", 400, CodeBadRequest},
		{"unknown field", `{"path":"/icn/peers","mode":"panic","force":true}`, "application/json", 400, CodeBadRequest},
		{"trailing data", `{"path":"/icn/peers","mode":"panic"} {}`, "application/json", 400, CodeBadRequest},
		{"wrong type", `{"path":7,"mode":"panic"}`, "application/json", 400, CodeBadRequest},
		{"empty body", ``, "application/json", 400, CodeBadRequest},
		{"missing path", `{"mode":"panic"}`, "application/json", 400, CodeBadRequest},
		{"bad mode", `{"path":"/icn/peers","mode":"explode"}`, "application/json", 400, CodeBadKillMode},
		{"unknown actor", `{"path":"/icn/zz","mode":"panic"}`, "application/json", 404, CodeNotFound},
		{"the root", `{"path":"/icn","mode":"stop"}`, "application/json", 400, CodeRootKill},
		{"wrong content type", `{"path":"/icn/peers","mode":"panic"}`, "text/plain", 415, CodeUnsupported},
		{"too large", `{"path":"` + strings.Repeat("a", 5000) + `","mode":"panic"}`, "application/json", 413, CodeTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := f.do(t, adm, call{method: "POST", path: "/admin/actors/kill", token: adminToken, body: tt.body, contentType: tt.contentType})
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if eb := errorBody(t, rec); eb.Code != tt.code {
				t.Fatalf("code %q, want %q (%s)", eb.Code, tt.code, eb.Error)
			}
		})
	}
	// Nothing above changed the tree.
	for _, n := range f.tree.Snapshot().Children {
		if n.Restarts != 0 || n.Failures != 0 {
			t.Fatalf("a rejected kill touched %s: %+v", n.Path, n)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func TestKillThenBreakerGives503WithRetryAfter(t *testing.T) {
	f := newFixture(t)
	adm, pub := f.srv.Admin(), f.srv.Public()
	kill := func(mode string) *httptest.ResponseRecorder {
		return f.do(t, adm, call{method: "POST", path: "/admin/actors/kill", token: adminToken, body: `{"path":"/icn/governance","mode":"` + mode + `"}`, contentType: "application/json"})
	}
	rec := kill("panic")
	var acc KillAccepted
	if err := json.Unmarshal(rec.Body.Bytes(), &acc); rec.Code != 202 || err != nil || !acc.Accepted || acc.Mode != "panic" {
		t.Fatalf("kill: %d %s", rec.Code, rec.Body)
	}
	waitFor(t, "governance restarted", func() bool {
		n, _ := f.tree.Actor("/icn/governance")
		return n.Restarts == 1 && n.Status == "running"
	})
	// The registry says running once the restart is under way; an answer
	// says the new incarnation has run its Started (which fails once
	// broken is set below, and that would be the second failure).
	waitFor(t, "governance answering", func() bool {
		return f.do(t, pub, call{method: "GET", path: "/api/v1/subsystems/governance", token: apiToken}).Code == 200
	})
	// Intensity is 1: the next failure opens governance's breaker.
	f.broken.Store(true)
	if rec := kill("stop"); rec.Code != 202 {
		t.Fatalf("second kill: %d %s", rec.Code, rec.Body)
	}
	waitFor(t, "governance breaker open", func() bool {
		n, _ := f.tree.Actor("/icn/governance")
		return n.Breaker == "open"
	})
	rec = f.do(t, pub, call{method: "GET", path: "/api/v1/subsystems/governance", token: apiToken})
	if rec.Code != 503 || rec.Header().Get("Retry-After") == "" || errorBody(t, rec).Code != CodeUnavailable {
		t.Fatalf("call to an open breaker: %d %v %s", rec.Code, rec.Header(), rec.Body)
	}
	if rec := kill("panic"); rec.Code != 409 || errorBody(t, rec).Code != CodeActorNotRunning {
		t.Fatalf("kill of a stopped actor: %d %s", rec.Code, rec.Body)
	}
	var h Health
	_ = json.Unmarshal(f.do(t, pub, call{method: "GET", path: "/health"}).Body.Bytes(), &h)
	if h.Status != "degraded" || h.Subsystems["governance"].Serving || h.Subsystems["governance"].Breaker != "open" || !h.Subsystems["ledger"].Serving {
		t.Fatalf("health with governance open: %+v", h)
	}
	rec = f.do(t, pub, call{method: "GET", path: "/ready"})
	if rec.Code != 503 || !strings.Contains(rec.Body.String(), "governance is stopped (breaker open)") {
		t.Fatalf("ready with governance open: %d %s", rec.Code, rec.Body)
	}
	// Repaired: the half-open probe is the next call and closes the breaker.
	f.broken.Store(false)
	waitFor(t, "governance half-open", func() bool {
		n, _ := f.tree.Actor("/icn/governance")
		return n.Breaker != "open"
	})
	waitFor(t, "governance serving again", func() bool {
		return f.do(t, pub, call{method: "GET", path: "/api/v1/subsystems/governance", token: apiToken}).Code == 200
	})
	waitFor(t, "governance breaker closed", func() bool {
		n, _ := f.tree.Actor("/icn/governance")
		return n.Breaker == "closed"
	})
}

func TestOpenAPIDocumentsEveryRouteAndEveryAnswer(t *testing.T) {
	f := newFixture(t)
	for _, api := range []*API{f.srv.Public(), f.srv.Admin()} {
		router := openAPIRouter(t, api)
		// Call every GET route (and a kill) and check each answer against the document.
		token := apiToken
		if api == f.srv.Admin() {
			token = adminToken
		}
		var calls []call
		for _, rt := range api.Routes() {
			if rt.Method == "GET" && rt.Produces != "text/event-stream" {
				p := strings.ReplaceAll(strings.ReplaceAll(rt.Path, "{name}", "dag"), "{$}", "")
				calls = append(calls, call{method: "GET", path: p, token: token}, call{method: "GET", path: p})
			}
		}
		if api == f.srv.Admin() {
			calls = append(calls,
				call{method: "POST", path: "/admin/actors/kill", token: token, contentType: "application/json", body: `{"path":"/icn/ledger","mode":"poison"}`},
				call{method: "POST", path: "/admin/actors/kill", token: token, contentType: "application/json", body: `{"path":"/icn/ledger","mode":"bad"}`},
				call{method: "GET", path: "/admin/actors?path=/icn/nope", token: token})
		} else {
			calls = append(calls, call{method: "GET", path: "/api/v1/subsystems/nope", token: token})
		}
		for _, c := range calls {
			checkAnswer(t, router, c, f.do(t, api, c))
		}
	}
}

// openAPIRouter loads a listener's OpenAPI document with an independent
// implementation (kin-openapi), validates it, checks that it documents every
// route, and returns a router over it for checkAnswer.
func openAPIRouter(t *testing.T, api *API) routers.Router {
	t.Helper()
	raw, err := json.Marshal(api.OpenAPI("test"))
	if err != nil {
		t.Fatal(err)
	}
	doc, err := openapi3.NewLoader().LoadFromData(raw)
	if err != nil {
		t.Fatalf("%s: load: %v", api.listener, err)
	}
	if err := doc.Validate(t.Context()); err != nil {
		t.Fatalf("%s: invalid OpenAPI: %v", api.listener, err)
	}
	for _, rt := range api.Routes() {
		item := doc.Paths.Find(openAPIPath(rt.Path))
		if item == nil || item.GetOperation(rt.Method) == nil {
			t.Fatalf("%s %s is served but not documented", rt.Method, rt.Path)
		}
	}
	doc.Servers = openapi3.Servers{{URL: "http://icn.test"}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatal(err)
	}
	return router
}

// checkAnswer checks rec, the answer to c, against the document: its
// status is documented for the route, and its body matches that status's
// schema.
func checkAnswer(t *testing.T, router routers.Router, c call, rec *httptest.ResponseRecorder) {
	t.Helper()
	req := httptest.NewRequest(c.method, "http://icn.test"+c.path, strings.NewReader(c.body))
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s: %v", c.method, c.path, err)
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc}}
	opts := &openapi3filter.Options{IncludeResponseStatus: true}
	if ct := rec.Header().Get("Content-Type"); strings.HasPrefix(ct, "text/html") {
		// kin-openapi decodes no HTML: check the documented type, then the rest.
		if _, ok := route.Operation.Responses.Status(rec.Code).Value.Content["text/html"]; !ok {
			t.Errorf("%s answered text/html, documented as %v", c.path, route.Operation.Responses.Status(rec.Code).Value.Content)
		}
		opts.ExcludeResponseBody = true
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: rec.Code, Header: rec.Header(), Options: opts}
	out.SetBodyBytes(rec.Body.Bytes())
	if err := openapi3filter.ValidateResponse(t.Context(), out); err != nil {
		t.Errorf("%s %s (token=%v) answered %d, not as documented: %v\n%s", c.method, c.path, c.token != "", rec.Code, err, rec.Body)
	}
}

func TestTokenFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", APITokenFile)
	tok, err := LoadOrCreateToken(p)
	if err != nil || len(tok) < 40 {
		t.Fatalf("create: %q %v", tok, err)
	}
	fi, err := os.Stat(p)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v %v", fi.Mode(), err)
	}
	again, err := LoadOrCreateToken(p)
	if err != nil || !bytes.Equal(again, tok) {
		t.Fatalf("reload: %q %v", again, err)
	}
	if err := os.Chmod(p, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateToken(p); !errors.Is(err, ErrInsecureToken) {
		t.Fatalf("world-readable token: %v", err)
	}
	short := filepath.Join(dir, "short")
	if err := os.WriteFile(short, []byte("abc\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateToken(short); err == nil {
		t.Fatal("a 3-byte token was accepted")
	}
}

func TestListenersEventsAndShutdown(t *testing.T) {
	f := newFixture(t)
	f.srv.started.Store(false)
	if err := f.srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = f.srv.Stop(context.Background())
		}
	})
	for _, l := range []string{"api", "admin"} {
		b, err := os.ReadFile(AddrFile(f.dataDir, l))
		if err != nil || strings.TrimSpace(string(b)) != f.srv.Addr(l) {
			t.Fatalf("%s addr file: %q %v", l, b, err)
		}
	}
	req, _ := http.NewRequestWithContext(t.Context(), "GET", "http://"+f.srv.Addr("admin")+"/admin/events", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("events: %d %v", res.StatusCode, res.Header)
	}
	lines := bufio.NewScanner(res.Body)
	lines.Scan() // the opening comment
	body := `{"path":"/icn/ledger","mode":"panic"}`
	kreq, _ := http.NewRequestWithContext(t.Context(), "POST", "http://"+f.srv.Addr("admin")+"/admin/actors/kill", strings.NewReader(body))
	kreq.Header.Set("Authorization", "Bearer "+adminToken)
	kres, err := http.DefaultClient.Do(kreq)
	if err != nil || kres.StatusCode != 202 {
		t.Fatalf("kill over the wire: %v %v", kres, err)
	}
	kres.Body.Close()
	var got []supervisors.Event
	for lines.Scan() && len(got) < 2 {
		if data, ok := strings.CutPrefix(lines.Text(), "data: "); ok {
			var ev supervisors.Event
			if err := json.Unmarshal([]byte(data), &ev); err != nil {
				t.Fatal(err)
			}
			got = append(got, ev)
		}
	}
	if len(got) < 2 || got[0].Type != supervisors.EventKilled || got[0].Path != "/icn/ledger" {
		t.Fatalf("events: %+v", got)
	}
	// Shutdown ends the open stream and removes the address files.
	done := make(chan error, 1)
	go func() { done <- f.srv.Stop(context.Background()) }()
	for lines.Scan() {
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("shutdown did not end the event stream")
	}
	stopped = true
	if _, err := os.Stat(AddrFile(f.dataDir, "api")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("addr file left behind: %v", err)
	}
}

// TestAPIDocListsEveryRoute keeps docs/api.md honest.
func TestAPIDocListsEveryRoute(t *testing.T) {
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t)
	for _, api := range []*API{f.srv.Public(), f.srv.Admin()} {
		for _, rt := range api.Routes() {
			entry := "`" + rt.Method + " " + openAPIPath(rt.Path)
			if !bytes.Contains(doc, []byte(entry)) {
				t.Errorf("docs/api.md does not list %s", entry[1:])
			}
		}
	}
}

// TestAPIDocListsEveryErrorCode keeps the error table in docs/api.md
// complete: clients branch on these codes.
func TestAPIDocListsEveryErrorCode(t *testing.T) {
	doc, err := os.ReadFile("../../docs/api.md")
	if err != nil {
		t.Fatal(err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), "errors.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	codes := 0
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok || len(vs.Names) != 1 || !strings.HasPrefix(vs.Names[0].Name, "Code") || len(vs.Values) != 1 {
			return true
		}
		lit, ok := vs.Values[0].(*ast.BasicLit)
		if !ok {
			return true
		}
		codes++
		if row := "| `" + strings.Trim(lit.Value, `"`) + "` |"; !bytes.Contains(doc, []byte(row)) {
			t.Errorf("docs/api.md has no row for error code %s", lit.Value)
		}
		return true
	})
	if codes < 20 {
		t.Fatalf("found only %d codes in errors.go", codes)
	}
}

// held answers a status request only when released.
type held struct{ release chan struct{} }

func (h *held) Receive(c actor.Context) {
	if _, ok := c.Message().(*messages.StatusRequest); ok {
		<-h.release
		c.Respond(&messages.SubsystemStatus{Name: "held", Ready: true})
	}
}

// TestStopLetsRequestsInFlightFinish: shutdown ends event streams but not
// ordinary requests, which finish within the stop budget.
func TestStopLetsRequestsInFlightFinish(t *testing.T) {
	release := make(chan struct{})
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	tree, err := supervisors.New(supervisors.Spec{Name: "icn", Children: []supervisors.ChildSpec{
		{Name: "held", Restart: supervisors.Permanent, New: func() actor.Actor { return &held{release: release} }},
	}}, log, reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tree.Stop(context.Background()) })
	srv, err := New(Config{APIAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0"}, Deps{Tree: tree, Gatherer: reg, Registerer: reg, Logger: log,
		Node: func() NodeInfo { return NodeInfo{} }, APIToken: []byte(apiToken), AdminToken: []byte(adminToken)})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	answer := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("GET", "http://"+srv.Addr("api")+"/api/v1/subsystems/held", nil)
		req.Header.Set("Authorization", "Bearer "+apiToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			answer <- -1
			return
		}
		res.Body.Close()
		answer <- res.StatusCode
	}()
	// Wait until the request is inside the actor, then stop the server.
	waitFor(t, "request in the actor", func() bool {
		n, _ := tree.Actor("held")
		return srv.inflight.Load() > 0 && n.Mailbox == 0
	})
	stopped := make(chan error, 1)
	go func() { stopped <- srv.Stop(context.Background()) }()
	waitFor(t, "readiness to drop", func() bool { return srv.draining.Load() })
	close(release)
	if code := <-answer; code != 200 {
		t.Fatalf("the request in flight during shutdown answered %d, want 200", code)
	}
	if err := <-stopped; err != nil {
		t.Fatal(err)
	}
}
