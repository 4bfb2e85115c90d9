package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/intercooperative-network/icn-go/services/httpapi"
)

// maxBody bounds what icnctl reads of one answer (the metrics page of a big
// node is the largest, a few MiB at most).
const maxBody = 32 << 20

// client talks to one of icnd's listeners.
type client struct {
	t         target
	http      *http.Client // short calls: bounded by --timeout
	stream    *http.Client // streams (events, uploads, downloads): no overall timeout
	timeout   time.Duration
	userAgent string
}

func newClient(t target, timeout time.Duration, version string) *client {
	base, _ := http.DefaultTransport.(*http.Transport)
	tr := base.Clone()
	tr.ResponseHeaderTimeout = timeout // a stream must at least answer its headers in time (after an upload's body)
	return &client{
		t:         t,
		http:      &http.Client{Transport: tr, Timeout: timeout},
		stream:    &http.Client{Transport: tr},
		timeout:   timeout,
		userAgent: "icnctl/" + version,
	}
}

// close drops idle keep-alive connections (and their goroutines).
func (c *client) close() { c.http.CloseIdleConnections() }

// answer is a successful response.
type answer struct {
	Status int
	Header http.Header
	Body   []byte
}

// call sends one request to path and returns the answer when its status is
// one of ok (200 if none is given). A JSON body is sent for a non-nil body.
// auth attaches the listener's bearer token.
func (c *client) call(ctx context.Context, method, path string, body any, auth bool, ok ...int) (answer, error) {
	req, err := c.request(ctx, method, path, body, auth)
	if err != nil {
		return answer{}, err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return answer{}, c.connError(ctx, err)
	}
	return c.readAnswer(ctx, method, path, res, ok)
}

// send streams body to path as the request body, with the api token: size
// bytes, or -1 when the size is unknown (a pipe). It uses the stream
// client, so --timeout does not cut a long upload; it still bounds
// connecting and, once the body is sent, the wait for the answer.
// "Expect: 100-continue" lets the node refuse (a wrong token) before the
// body goes out.
func (c *client) send(ctx context.Context, method, path, contentType string, body io.Reader, size int64, ok ...int) (answer, error) {
	if size == 0 {
		body = http.NoBody
	}
	req, err := c.newRequest(ctx, method, path, body, true)
	if err != nil {
		return answer{}, err
	}
	req.ContentLength = size
	req.Header.Set("Content-Type", contentType)
	if size != 0 {
		req.Header.Set("Expect", "100-continue")
	}
	res, err := c.stream.Do(req)
	if err != nil {
		return answer{}, c.connError(ctx, err)
	}
	return c.readAnswer(ctx, method, path, res, ok)
}

// readAnswer reads a response (at most maxBody bytes) and closes it; it
// returns the answer when its status is one of ok (200 if none is given),
// else the node's error.
func (c *client) readAnswer(ctx context.Context, method, path string, res *http.Response, ok []int) (answer, error) {
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, maxBody+1))
	if err != nil {
		return answer{}, c.connError(ctx, err)
	}
	if len(raw) > maxBody {
		return answer{}, fmt.Errorf("%s %s: the answer is larger than %d bytes", method, path, maxBody)
	}
	if len(ok) == 0 {
		ok = []int{http.StatusOK}
	}
	for _, s := range ok {
		if res.StatusCode == s {
			return answer{Status: res.StatusCode, Header: res.Header, Body: raw}, nil
		}
	}
	return answer{}, newAPIError(method, path, res.StatusCode, res.Header, raw)
}

// getJSON GETs path and decodes its 200 answer into out; it returns the raw
// JSON too, for -o json.
func (c *client) getJSON(ctx context.Context, path string, auth bool, out any) ([]byte, error) {
	ans, err := c.call(ctx, http.MethodGet, path, nil, auth)
	if err != nil {
		return nil, err
	}
	return ans.Body, decodeAnswer(http.MethodGet, path, ans.Body, out)
}

// request builds a request with a JSON body (none for a nil body).
func (c *client) request(ctx context.Context, method, path string, body any, auth bool) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := c.newRequest(ctx, method, path, rd, auth)
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// newRequest builds a request of body (nil for none), with icnctl's
// User-Agent and, when auth is set, the listener's bearer token.
func (c *client) newRequest(ctx context.Context, method, path string, body io.Reader, auth bool) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.t.base+path, body)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, c.t.base+path, err)
	}
	req.Header.Set("User-Agent", c.userAgent)
	if auth {
		tok, err := readToken(c.t)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return req, nil
}

// openStream GETs a Server-Sent Events endpoint; the caller closes the body.
func (c *client) openStream(ctx context.Context, path string) (*http.Response, error) {
	res, err := c.open(ctx, path, "text/event-stream")
	if err != nil {
		return nil, err
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		res.Body.Close()
		return nil, fmt.Errorf("GET %s answered %q, not an event stream", path, ct)
	}
	return res, nil
}

// open GETs path with the api or admin token and the stream client (no
// overall time limit: the answer may take long to read) and returns the 200
// answer; the caller reads and closes its body. accept, if not empty, is
// sent as Accept.
func (c *client) open(ctx context.Context, path, accept string) (*http.Response, error) {
	req, err := c.request(ctx, http.MethodGet, path, nil, true)
	if err != nil {
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	res, err := c.stream.Do(req)
	if err != nil {
		return nil, c.connError(ctx, err)
	}
	if res.StatusCode != http.StatusOK {
		defer res.Body.Close()
		raw, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
		return nil, newAPIError(http.MethodGet, path, res.StatusCode, res.Header, raw)
	}
	return res, nil
}

// connError explains a request that got no answer. A cancelled command
// (Ctrl-C) is reported as such, not as a network problem.
func (c *client) connError(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	timeout := errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
	return &ConnError{Listener: c.t.name, Base: c.t.base, Source: c.t.source,
		Flag: c.t.addrFlag, Env: c.t.addrEnv, Timeout: timeout, Limit: c.timeout, Err: err}
}

// ConnError: icnd could not be reached, or did not answer in time.
type ConnError struct {
	Listener string // api | admin
	Base     string // the URL tried
	Source   string // where the address came from: a flag, a variable, an addr file, "default"
	Flag     string
	Env      string
	Timeout  bool
	Limit    time.Duration
	Err      error
}

func (e *ConnError) Error() string {
	if e.Timeout {
		return fmt.Sprintf("no answer from the %s listener at %s within %s (is icnd overloaded? raise --timeout)", e.Listener, e.Base, e.Limit)
	}
	from := ""
	if e.Source != "default" {
		from = " (address from " + e.Source + ")"
	}
	return fmt.Sprintf("cannot reach the %s listener at %s%s: %v; is icnd running? Start it with `make run`, or pass %s (%s) or --data-dir",
		e.Listener, e.Base, from, e.Err, e.Flag, e.Env)
}

func (e *ConnError) Unwrap() error { return e.Err }

// APIError is an error answer of icnd, in the one shape httpapi gives every
// error (httpapi.ErrorBody). Branch on Body.Code, never on the message.
type APIError struct {
	Method, Path string
	Status       int
	Body         httpapi.ErrorBody
	RetryAfter   time.Duration // from Retry-After (503)
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString(e.Body.Error)
	if e.Body.Code != "" {
		fmt.Fprintf(&b, " (%s)", e.Body.Code)
	}
	if e.RetryAfter > 0 {
		fmt.Fprintf(&b, ", retry after %s", e.RetryAfter)
	}
	return b.String()
}

func newAPIError(method, path string, status int, h http.Header, raw []byte) *APIError {
	e := &APIError{Method: method, Path: path, Status: status, RetryAfter: retryAfter(h.Get("Retry-After"))}
	if err := json.Unmarshal(raw, &e.Body); err != nil || e.Body.Error == "" {
		// Not icnd's error shape: a proxy, or another program on the port.
		snippet := strings.TrimSpace(string(raw))
		if i := strings.IndexByte(snippet, '\n'); i >= 0 {
			snippet = snippet[:i]
		}
		if len(snippet) > 120 {
			snippet = snippet[:120] + "..."
		}
		e.Body = httpapi.ErrorBody{Error: fmt.Sprintf("%s %s answered %d %s", method, path, status, http.StatusText(status))}
		if snippet != "" {
			e.Body.Error += ": " + clean(snippet)
		}
	}
	return e
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string) time.Duration {
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && n > 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t).Round(time.Second); d > 0 {
			return d
		}
	}
	return 0
}

// decodeAnswer decodes a success body into out. Unknown fields are allowed:
// a newer icnd may add some.
func decodeAnswer(method, path string, raw []byte, out any) error {
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("%s %s: icnd answered malformed JSON: %w", method, path, err)
	}
	return nil
}
