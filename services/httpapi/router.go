package httpapi

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/http/httptest"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/messages/correlation"
)

// RequestIDHeader carries the correlation id in and out of every request.
const RequestIDHeader = "X-Request-ID"

// defaultBodyLimit bounds a request body when a route sets none.
const defaultBodyLimit = 1 << 20

// Param documents a path or query parameter.
type Param struct {
	Name        string
	In          string // "path" or "query"
	Description string
	Required    bool
	Type        string // "string" (default), "integer", "boolean"
}

// Route is one endpoint: how it is reached, what it takes and answers, and
// its handler. The route table is the only way to register a handler, and
// the OpenAPI document is generated from it, so the two cannot disagree.
type Route struct {
	Method       string // GET, POST, DELETE, ...
	Path         string // ServeMux path pattern, with {name} wildcards
	Summary      string
	Description  string
	Tag          string
	Public       bool        // no token needed (health, readiness, metrics, the admin page shell)
	Params       []Param     // query parameters; path parameters are derived from Path
	Body         any         // zero value of the JSON request body, nil if none
	BodyOptional bool        // the JSON body may be left out (Body documents it when given)
	AlsoRaw      bool        // the body may also be raw bytes (any content type)
	RawOnly      bool        // the body is raw bytes only (Body is nil)
	BodyLimit    int64       // bytes; 0 means defaultBodyLimit
	Response     any         // zero value of the JSON success body, nil if none
	Status       int         // success status; 0 means 200
	Produces     string      // success content type when it is not JSON
	Errors       []int       // error statuses the route may answer (401 is added for token routes)
	Alt          map[int]any // other statuses answered with their own JSON body (e.g. /ready's 503)
	Handle       func(w http.ResponseWriter, r *http.Request) error
}

func (rt Route) pattern() string { return rt.Method + " " + rt.Path }

func (rt Route) status() int {
	if rt.Status == 0 {
		return http.StatusOK
	}
	return rt.Status
}

// API is one listener's routes behind the common middleware: correlation
// id, panic recovery, bearer auth, body limits, the JSON 404/405, access log
// and request metrics.
type API struct {
	listener string
	title    string
	token    []byte
	log      *slog.Logger
	metrics  *httpMetrics
	mux      *http.ServeMux
	routes   []Route
	byPatt   map[string]*Route
	inflight *atomic.Int64 // shared by the server's listeners
}

func newAPI(listener, title string, token []byte, log *slog.Logger, m *httpMetrics, inflight *atomic.Int64) *API {
	return &API{listener: listener, title: title, token: token, log: log, metrics: m,
		mux: http.NewServeMux(), byPatt: map[string]*Route{}, inflight: inflight}
}

// handle registers a route. Registering two routes with one pattern panics,
// as http.ServeMux does: it is a programming error caught by any test.
func (a *API) handle(rt Route) {
	if rt.Handle == nil {
		panic("httpapi: route without handler: " + rt.pattern())
	}
	a.routes = append(a.routes, rt)
	stored := &rt
	a.mux.Handle(rt.pattern(), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := stored.Handle(w, r); err != nil {
			if w.(*recorder).wrote {
				// Streaming handlers may fail after the header went out.
				a.log.WarnContext(r.Context(), "handler failed after answering", "route", stored.pattern(), "err", err)
				return
			}
			writeError(w, err)
		}
	}))
	a.byPatt[rt.pattern()] = stored
}

// Routes returns the registered routes, in registration order.
func (a *API) Routes() []Route { return append([]Route(nil), a.routes...) }

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.inflight.Add(1)
	defer a.inflight.Add(-1)
	began := time.Now()
	id := r.Header.Get(RequestIDHeader)
	if !correlation.Valid(id) {
		id = correlation.New()
	}
	w.Header().Set(RequestIDHeader, id)
	r = r.WithContext(correlation.With(r.Context(), id))
	rec := &recorder{ResponseWriter: w, status: http.StatusOK}

	h, pattern := a.mux.Handler(r)
	label := pattern
	if pattern == "" {
		label = "unmatched"
	}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			a.log.ErrorContext(r.Context(), "handler panicked", "route", label, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			if !rec.wrote {
				writeError(rec, &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: "internal error"})
			}
		}
		elapsed := time.Since(began)
		a.metrics.observe(a.listener, label, rec.status, elapsed)
		a.log.LogAttrs(r.Context(), slog.LevelInfo, "http request",
			slog.String("listener", a.listener), slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.status), slog.Duration("duration", elapsed), slog.String("remote", r.RemoteAddr))
	}()

	if pattern == "" {
		a.unmatched(rec, r, h)
		return
	}
	rt := a.byPatt[pattern]
	if !rt.Public && !a.authorized(r) {
		writeError(rec, &Error{Status: http.StatusUnauthorized, Code: CodeUnauthorized,
			Message: "missing or wrong bearer token (Authorization: Bearer <token>)"})
		return
	}
	if rt.Body != nil && !rt.AlsoRaw {
		if err := checkJSON(r); err != nil {
			writeError(rec, err)
			return
		}
	}
	limit := rt.BodyLimit
	if limit == 0 {
		limit = defaultBodyLimit
	}
	r.Body = http.MaxBytesReader(w, r.Body, limit) // w, not rec: it closes the connection past the limit
	a.mux.ServeHTTP(rec, r)                        // not h: only ServeMux.ServeHTTP sets r.PathValue
}

// unmatched answers the mux's 404 or 405 in the JSON error shape.
func (a *API) unmatched(w http.ResponseWriter, r *http.Request, h http.Handler) {
	probe := httptest.NewRecorder()
	h.ServeHTTP(probe, r)
	if allow := probe.Header().Get("Allow"); allow != "" {
		w.Header().Set("Allow", allow)
	}
	switch probe.Code {
	case http.StatusMethodNotAllowed:
		writeError(w, &Error{Status: http.StatusMethodNotAllowed, Code: CodeMethod,
			Message: fmt.Sprintf("%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, probe.Header().Get("Allow"))})
	default:
		writeError(w, &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: "no such endpoint: " + r.URL.Path})
	}
}

func (a *API) authorized(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && len(a.token) > 0 && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(got)), a.token) == 1
}

func checkJSON(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return nil // curl -d without -H: be lenient, the body is still parsed strictly
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return &Error{Status: http.StatusUnsupportedMediaType, Code: CodeUnsupported,
			Message: fmt.Sprintf("content type %q: want application/json", ct)}
	}
	return nil
}

// decodeJSON reads exactly one JSON value into v, refusing unknown fields
// and trailing data; errors say what is wrong and where.
func decodeJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err // *http.MaxBytesError maps to 413
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return BadRequest("empty request body: want a JSON object")
	}
	return decodeBody(body, v)
}

// decodeOptionalJSON is decodeJSON for a route whose body may be left out
// (Route.BodyOptional): it says whether there was one.
func decodeOptionalJSON(r *http.Request, v any) (bool, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return false, err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return false, nil
	}
	return true, decodeBody(body, v)
}

// decodeBody decodes one strict JSON value, as decodeJSON describes.
func decodeBody(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return BadRequest("malformed JSON at byte %d: %v", se.Offset, err)
		case errors.As(err, &te):
			return BadRequest("field %q: want %s, got JSON %s", te.Field, te.Type, te.Value)
		default:
			return BadRequest("bad JSON body: %v", err)
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return BadRequest("trailing data after the JSON body")
	}
	return nil
}

// recorder remembers the status for logs and metrics and whether anything
// was written; Unwrap keeps http.ResponseController (Flush) working.
type recorder struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// httpMetrics count requests per listener and route pattern (bounded labels).
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg prometheus.Registerer) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icn_http_requests_total", Help: "HTTP requests by listener, route pattern and status code.",
		}, []string{"listener", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "icn_http_request_duration_seconds", Help: "HTTP request latency by listener and route pattern.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"listener", "route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *httpMetrics) observe(listener, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(listener, route, fmt.Sprint(status)).Inc()
	m.duration.WithLabelValues(listener, route).Observe(d.Seconds())
}

// requestContext bounds a handler's call into the actors.
func requestContext(r *http.Request, d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(r.Context(), d)
}

// actorCall sends msg to the named actor through the tree, bounded by the
// server's call timeout and the request's own context, and checks the
// reply's type. An error reply comes back as the error, for statusOf.
func actorCall[R any](s *Server, r *http.Request, name string, msg any) (R, error) {
	return actorCallWithin[R](s, r, s.cfg.CallTimeout, name, msg)
}

// actorCallWithin is actorCall bounded by d instead of the call timeout,
// for requests whose actor waits on something slower (a dial) that has a
// deadline of its own: its answer, not a 504, should reach the client.
func actorCallWithin[R any](s *Server, r *http.Request, d time.Duration, name string, msg any) (R, error) {
	var zero R
	ctx, cancel := requestContext(r, d)
	defer cancel()
	res, err := s.deps.Tree.Request(ctx, name, msg)
	if err != nil {
		return zero, err
	}
	out, ok := res.(R)
	if !ok {
		return zero, fmt.Errorf("httpapi: %s answered %T, want %T", name, res, zero)
	}
	return out, nil
}
