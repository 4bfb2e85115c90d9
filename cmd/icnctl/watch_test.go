package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/intercooperative-network/icn-go/services/httpapi"
	"github.com/intercooperative-network/icn-go/services/logging"
	"github.com/intercooperative-network/icn-go/supervisors"
)

func event(i int) supervisors.Event {
	return supervisors.Event{Time: startedAt.Add(time.Duration(i) * time.Millisecond), Path: "/icn/dag",
		Type: supervisors.EventKilled, Reason: fmt.Sprintf("burst #%02d", i)}
}

func TestWatchOnce(t *testing.T) {
	first := supervisors.Event{Time: startedAt.Add(time.Minute), Path: "/icn/ledger", Type: supervisors.EventBreaker, From: "closed", To: "open", Reason: "3 failures in 1m0s"}
	second := supervisors.Event{Time: startedAt.Add(2 * time.Minute), Path: "/icn/ledger", Type: supervisors.EventRestarting, Delay: 250 * time.Millisecond}
	var tree strings.Builder
	renderTree(&tree, treeValue())
	tests := []struct {
		name    string
		output  string
		stdout  string
		fetches int // of /admin/actors
	}{
		{"lines", "text", tree.String() + "2026-11-27T12:01:00.000Z  /icn/ledger  breaker closed -> open: 3 failures in 1m0s\n", 1},
		{"json lines", "json", string(mustJSON(t, first)) + "\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t, false)
			n.admin.mux.HandleFunc("GET /admin/events", n.admin.sse(false,
				": icn supervision events\n\n",
				": keepalive\n\n",
				"event: hello\ndata: {}\n\n", // unknown to this icnctl: ignored
				"event: dropped\ndata: {\"dropped\":3}\n\n",
				supervisionFrame(t, first),
				supervisionFrame(t, second)))
			r := runCmd(t, n.flags("-o", tt.output, "actors", "watch", "--once")...)
			if r.code != exitOK || r.stdout != tt.stdout {
				t.Fatalf("exit %d\nstdout %q\n  want %q\nstderr %s", r.code, r.stdout, tt.stdout, r.stderr)
			}
			if !strings.Contains(r.stderr, "icnctl: the node dropped 3 events for this watcher") {
				t.Fatalf("stderr: %q", r.stderr)
			}
			if got := n.admin.count(actorsPath); got != tt.fetches {
				t.Fatalf("%d tree fetches, want %d", got, tt.fetches)
			}
			if reqs := n.admin.requests(); reqs[0].uri != eventsPath || reqs[0].auth != "Bearer "+adminToken {
				t.Fatalf("the stream was not opened first, with the admin token: %+v", reqs)
			}
		})
	}
}

// treeValue is tree(), named apart from the strings.Builder above.
func treeValue() supervisors.Node { return tree() }

// burst is n supervision events in one write.
func burst(t *testing.T, n int) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(supervisionFrame(t, event(i)))
	}
	return b.String()
}

// lastFrame returns what follows the last screen clear.
func lastFrame(out string) string {
	i := strings.LastIndex(out, clearScreen)
	if i < 0 {
		return ""
	}
	return out[i+len(clearScreen):]
}

func TestWatchTerminalCoalescesBursts(t *testing.T) {
	n := newNode(t, false)
	n.admin.mux.HandleFunc("GET /admin/events", n.admin.sse(false, ": icn supervision events\n\n", burst(t, 50)))
	a := testApp(nil)
	a.isTerminal = func(io.Writer) bool { return true }
	var out, errOut syncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	exit := make(chan int, 1)
	go func() { exit <- run(ctx, a, n.flags("actors", "watch"), &out, &errOut) }()

	waitFor(t, "a frame with the whole burst", func() bool { return strings.Contains(lastFrame(out.String()), "burst #49") })
	cancel() // as SIGINT does
	select {
	case code := <-exit:
		if code != exitOK || errOut.String() != "" {
			t.Fatalf("exit %d on cancellation, stderr %q", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("watch did not end on cancellation")
	}

	// 50 events, yet the tree was read at the start and then once or twice
	// (twice only if the burst reached icnctl in two parts).
	if got := n.admin.count(actorsPath); got < 2 || got > 3 {
		t.Fatalf("%d tree fetches for a burst of 50 events", got)
	}
	frames := strings.Split(out.String(), clearScreen)[1:]
	if !strings.Contains(frames[0], "none yet") || !strings.Contains(frames[0], "├─ dag") {
		t.Fatalf("first frame:\n%s", frames[0])
	}
	last := lastFrame(out.String())
	for i := 40; i < 50; i++ {
		if !strings.Contains(last, fmt.Sprintf("12:00:00.%03d  /icn/dag  killed: burst #%02d", i, i)) {
			t.Errorf("last frame lacks event %d", i)
		}
	}
	if strings.Contains(last, "burst #39") || !strings.Contains(last, "└─ executors") {
		t.Fatalf("last frame:\n%s", last)
	}
}

func TestWatchTerminalOnce(t *testing.T) {
	n := newNode(t, false)
	n.admin.mux.HandleFunc("GET /admin/events", n.admin.sse(false, burst(t, 20)))
	a := testApp(nil)
	a.isTerminal = func(io.Writer) bool { return true }
	r := runApp(t, a, n.flags("actors", "watch", "--once")...)
	if r.code != exitOK || strings.Count(r.stdout, clearScreen) != 2 {
		t.Fatalf("exit %d, %d frames: %s", r.code, strings.Count(r.stdout, clearScreen), r.stdout)
	}
	if got := n.admin.count(actorsPath); got != 2 {
		t.Fatalf("%d tree fetches, want 2 (the first frame, the burst's frame)", got)
	}
}

func TestWatchReconnects(t *testing.T) {
	n := newNode(t, false)
	var conns atomic.Int32
	dropping := n.admin.sse(true, ": icn supervision events\n\n")
	live := n.admin.sse(false, ": icn supervision events\n\n", supervisionFrame(t, event(7)))
	n.admin.mux.HandleFunc("GET /admin/events", func(w http.ResponseWriter, r *http.Request) {
		if conns.Add(1) < 3 {
			dropping(w, r) // twice: the delay grows
			return
		}
		live(w, r)
	})
	a := testApp(nil)
	a.backoffMax = time.Minute // no connection here lasts that long: the delay only grows
	r := runApp(t, a, n.flags("actors", "watch", "--once")...)
	if r.code != exitOK || !strings.HasSuffix(r.stdout, "/icn/dag  killed: burst #07\n") {
		t.Fatalf("exit %d\n%s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	for _, w := range []string{
		"icnctl: event stream lost (the node closed the event stream); reconnecting in 5ms\n",
		"icnctl: event stream lost (the node closed the event stream); reconnecting in 10ms\n",
		"icnctl: event stream reconnected\n",
	} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("stderr lacks %q:\n%s", w, r.stderr)
		}
	}
	if got := conns.Load(); got != 3 {
		t.Fatalf("%d connections, want 3", got)
	}
}

func TestWatchDoesNotRetryWhatCannotWork(t *testing.T) {
	n := newNode(t, false)
	n.admin.mux.HandleFunc("GET /admin/events", n.admin.sse(false))
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"wrong token", n.flags("--admin-token-file", filepath.Join(n.dataDir, httpapi.APITokenFile), "actors", "watch"),
			"icnctl: missing or wrong bearer token (Authorization: Bearer <token>) (unauthorized)\n"},
		{"no events endpoint", []string{"--admin", n.api.srv.URL, "--admin-token-file", filepath.Join(n.dataDir, httpapi.APITokenFile),
			"--data-dir", n.dataDir, "actors", "watch"}, "icnctl: GET /admin/events answered 404 Not Found: 404 page not found\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, tt.args...)
			if r.code != exitError || !strings.HasPrefix(r.stderr, tt.want) {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
		})
	}
}

func TestWatchLinesEndOnCancel(t *testing.T) {
	n := newNode(t, false)
	n.admin.mux.HandleFunc("GET /admin/events", n.admin.sse(false, burst(t, 3)))
	var out, errOut syncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	exit := make(chan int, 1)
	go func() { exit <- run(ctx, testApp(nil), n.flags("-o", "json", "actors", "watch"), &out, &errOut) }()
	waitFor(t, "three events", func() bool { return strings.Count(out.String(), "\n") == 3 })
	cancel()
	if code := <-exit; code != exitOK {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	for i, line := range strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n") {
		var ev supervisors.Event
		if err := json.Unmarshal([]byte(line), &ev); err != nil || ev != event(i) {
			t.Fatalf("line %d: %q (%v)", i, line, err)
		}
	}
}

func TestWatchShowsTheRequestID(t *testing.T) {
	killed := supervisors.Event{Time: startedAt.Add(time.Minute), Path: "/icn/dag", Type: supervisors.EventKilled, RequestID: "req-kill"}
	anonymous := supervisors.Event{Time: startedAt.Add(time.Minute), Path: "/icn/dag", Type: supervisors.EventKilled}
	hostile := supervisors.Event{Time: startedAt.Add(time.Minute), Path: "/icn/dag", Type: supervisors.EventKilled, RequestID: "req\x1b[2J"}
	tests := []struct {
		name     string
		ev       supervisors.Event
		terminal bool
		want     string // in stdout
	}{
		{"lines", killed, false, "2026-11-27T12:01:00.000Z  /icn/dag  killed  request_id=req-kill\n"},
		{"lines without a request", anonymous, false, "2026-11-27T12:01:00.000Z  /icn/dag  killed\n"},
		{"lines, control characters", hostile, false, "  request_id=req?[2J\n"},
		{"frame", killed, true, "  12:01:00.000  /icn/dag  killed  request_id=req-kill\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t, false)
			n.admin.mux.HandleFunc("GET /admin/events", n.admin.sse(false, supervisionFrame(t, tt.ev)))
			a := testApp(nil)
			a.isTerminal = func(io.Writer) bool { return tt.terminal }
			r := runApp(t, a, n.flags("actors", "watch", "--once")...)
			if r.code != exitOK || !strings.Contains(r.stdout, tt.want) {
				t.Fatalf("exit %d\nstdout %q\nwant it to hold %q\nstderr %s", r.code, r.stdout, tt.want, r.stderr)
			}
			if tt.ev.RequestID == "" && strings.Contains(r.stdout, logging.RequestIDKey) {
				t.Fatalf("an event without a request shows one: %q", r.stdout)
			}
		})
	}
}
