package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/httpapi"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// statusActor answers StatusRequest, as every subsystem does.
type statusActor struct{ name string }

func (s *statusActor) Receive(c actor.Context) {
	if _, ok := c.Message().(*messages.StatusRequest); ok {
		c.Respond(&messages.SubsystemStatus{Name: s.name, Ready: true, Since: time.Now(), Details: map[string]string{"things": "3"}})
	}
}

// TestAgainstTheRealServer runs icnctl against services/httpapi itself (on a
// small supervision tree), so the fakes above cannot drift from it unseen:
// the addr and token files it writes, the routes, the JSON, the event stream.
func TestAgainstTheRealServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an actor system")
	}
	dataDir := t.TempDir()
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	child := func(name string) supervisors.ChildSpec {
		return supervisors.ChildSpec{Name: name, Restart: supervisors.Permanent,
			New: func() actor.Actor { return &statusActor{name: name} }}
	}
	d := supervisors.ProductionDefaults()
	d.Backoff.Initial, d.Backoff.Max = time.Millisecond, 5*time.Millisecond
	d.Shutdown = time.Second
	tree, err := supervisors.New(supervisors.Spec{Name: "icn", Children: []supervisors.ChildSpec{child("dag"), child("ledger")}},
		log, reg, supervisors.WithDefaults(d))
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = tree.Stop(context.Background()) }()

	var toks [2][]byte
	for i, name := range []string{httpapi.APITokenFile, httpapi.AdminTokenFile} {
		if toks[i], err = httpapi.LoadOrCreateToken(filepath.Join(dataDir, name)); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := httpapi.New(httpapi.Config{APIAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", DataDir: dataDir, Version: "real"}, httpapi.Deps{
		Tree: tree, Gatherer: reg, Registerer: reg, Logger: log, APIToken: toks[0], AdminToken: toks[1],
		Node: func() httpapi.NodeInfo {
			return httpapi.NodeInfo{DID: "did:key:zReal", PeerID: "12D3KooWreal", Version: "real", Profile: "test", StartedAt: testNow.Add(-time.Hour)}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Stop(context.Background()) }()

	icnctl := func(args ...string) result {
		t.Helper()
		return runCmd(t, append([]string{"--data-dir", dataDir}, args...)...)
	}
	r := icnctl("status")
	for _, w := range []string{"DID      did:key:zReal", "Uptime   1h0m0s", "Health: ok (2 of 2 subsystems serving)", "ledger     running  closed   yes", "things  3"} {
		if r.code != exitOK || !strings.Contains(r.stdout, w) {
			t.Fatalf("status: exit %d, lacks %q:\n%s%s", r.code, w, r.stdout, r.stderr)
		}
	}
	if r := icnctl("ready"); r.code != exitOK || r.stdout != "ready\n" {
		t.Fatalf("ready: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	if r := icnctl("actors"); r.code != exitOK || !strings.Contains(r.stdout, "└─ ledger") {
		t.Fatalf("actors: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r := icnctl("openapi", "admin"); r.code != exitOK || !json.Valid([]byte(r.stdout)) || !strings.Contains(r.stdout, "/admin/actors/kill") {
		t.Fatalf("openapi --admin: exit %d %s", r.code, r.stderr)
	}
	if r := icnctl("subsystems", "nope"); r.code != exitError || r.stderr != "icnctl: no subsystem \"nope\" (not_found)\n" {
		t.Fatalf("unknown subsystem: exit %d %q", r.code, r.stderr)
	}
	if r := icnctl("actors", "kill", "/icn", "--mode", "stop"); r.code != exitError || !strings.HasSuffix(r.stderr, "(root_kill)\n") {
		t.Fatalf("root kill: exit %d %q", r.code, r.stderr)
	}

	// Watch, then kill: the kill's events arrive over the real stream.
	var out, errOut syncBuffer
	exit := make(chan int, 1)
	go func() {
		exit <- run(t.Context(), testApp(nil), []string{"--data-dir", dataDir, "actors", "watch", "--once"}, &out, &errOut)
	}()
	// Subscribed, and the tree printed: from now on no event is missed.
	waitFor(t, "the watcher to subscribe", func() bool { return strings.Contains(errOut.String(), "watching supervision events") })
	if r := icnctl("actors", "kill", "/icn/dag", "--mode", "panic"); r.code != exitOK || !strings.HasPrefix(r.stdout, "kill accepted: /icn/dag (panic)") {
		t.Fatalf("kill: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
	select {
	case code := <-exit:
		if code != exitOK {
			t.Fatalf("watch: exit %d: %s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no event reached the watcher")
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if !strings.HasPrefix(lines[0], "ACTOR ") || !strings.Contains(lines[len(lines)-1], "  /icn/dag  ") {
		t.Fatalf("watched:\n%s", out.String())
	}
}
