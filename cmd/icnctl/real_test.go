package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/actors/dag"
	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/httpapi"
	"github.com/intercooperative-network/icn-go/services/store/memstore"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// statusActor answers StatusRequest, as every subsystem does.
type statusActor struct{ name string }

func (s *statusActor) Receive(c actor.Context) {
	if _, ok := c.Message().(*messages.StatusRequest); ok {
		c.Respond(&messages.SubsystemStatus{Name: s.name, Ready: true, Since: time.Now(), Details: map[string]string{"things": "3"}})
	}
}

// startRealNode runs services/httpapi itself on a small supervision tree:
// the real dag actor (on a memory store) and a ledger that only answers
// status. It returns the data dir, where the server wrote its addresses and
// tokens, as icnd does.
func startRealNode(t *testing.T, maxBlockSize int) string {
	t.Helper()
	return startRealNodeWith(t, maxBlockSize, "did:key:zReal", func(prometheus.Registerer) func() actor.Actor {
		return func() actor.Actor { return &statusActor{name: "ledger"} }
	})
}

// startRealNodeWith is startRealNode with the node's DID and the ledger
// newLedger makes (its metrics go to the node's registry).
func startRealNodeWith(t *testing.T, maxBlockSize int, did string, newLedger func(prometheus.Registerer) func() actor.Actor) string {
	t.Helper()
	reg := prometheus.NewRegistry()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	metrics, err := dag.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	dagActor := dag.New(dag.Deps{Store: memstore.New(), Clock: clock.Real{}, Metrics: metrics, Logger: log,
		Config: dag.Config{MaxBlockSize: maxBlockSize, GCGrace: time.Hour}})
	ledger := newLedger(reg)
	d := supervisors.ProductionDefaults()
	d.Backoff.Initial, d.Backoff.Max = time.Millisecond, 5*time.Millisecond
	d.Shutdown = time.Second
	tree, err := supervisors.New(supervisors.Spec{Name: "icn", Children: []supervisors.ChildSpec{
		{Name: dag.Name, Restart: supervisors.Permanent, New: dagActor},
		{Name: "ledger", Restart: supervisors.Permanent, New: ledger},
	}}, log, reg, supervisors.WithDefaults(d))
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tree.Stop(context.Background()) })
	return serveTree(t, tree, reg, maxBlockSize, func() httpapi.NodeInfo {
		return httpapi.NodeInfo{DID: did, PeerID: "12D3KooWreal", Version: "real", Profile: "test", StartedAt: testNow.Add(-time.Hour)}
	})
}

// serveTree runs services/httpapi over a started tree whose metrics are on
// reg, and returns the data dir where it wrote its addresses and tokens.
func serveTree(t *testing.T, tree *supervisors.Tree, reg *prometheus.Registry, maxBlockSize int, node func() httpapi.NodeInfo) string {
	t.Helper()
	dataDir := t.TempDir()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var (
		toks [2][]byte
		err  error
	)
	for i, name := range []string{httpapi.APITokenFile, httpapi.AdminTokenFile} {
		if toks[i], err = httpapi.LoadOrCreateToken(filepath.Join(dataDir, name)); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := httpapi.New(httpapi.Config{APIAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", DataDir: dataDir, Version: "real",
		MaxBlockSize: maxBlockSize}, httpapi.Deps{
		Tree: tree, Gatherer: reg, Registerer: reg, Logger: log, APIToken: toks[0], AdminToken: toks[1], Node: node,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) }) // runs before the tree stops
	return dataDir
}

// TestAgainstTheRealServer runs icnctl against services/httpapi itself (on a
// small supervision tree), so the fakes above cannot drift from it unseen:
// the addr and token files it writes, the routes, the JSON, the event stream.
func TestAgainstTheRealServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an actor system")
	}
	dataDir := startRealNode(t, 4<<20)

	icnctl := func(args ...string) result {
		t.Helper()
		return runCmd(t, append([]string{"--data-dir", dataDir}, args...)...)
	}
	r := icnctl("status")
	for _, w := range []string{"DID      did:key:zReal", "Uptime   1h0m0s", "Health: ok (2 of 2 subsystems serving)", "ledger     running  closed   yes", "things  3", "max_block_size  4194304"} {
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

// TestDAGAgainstTheRealServer runs the dag commands against the real
// handlers and the real dag actor: put, get, stat, pin, export, import, gc,
// and the node's own refusals.
func TestDAGAgainstTheRealServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an actor system")
	}
	const maxBlock = 64 << 10
	first, second := startRealNode(t, maxBlock), startRealNode(t, maxBlock)
	dir := t.TempDir()
	icnctl := func(dataDir string, stdin io.Reader, args ...string) result {
		t.Helper()
		var out, errOut bytes.Buffer
		code := runIO(t, testApp(nil), stdin, &out, &errOut, append([]string{"--data-dir", dataDir}, args...)...)
		return result{code: code, stdout: out.String(), stderr: errOut.String()}
	}
	ok := func(r result, what string) string {
		t.Helper()
		if r.code != exitOK || r.stderr != "" {
			t.Fatalf("%s: exit %d: %s%s", what, r.code, r.stderr, r.stdout)
		}
		return r.stdout
	}

	// Put a binary file and, from stdin, a node that links to it.
	leafFile := filepath.Join(dir, "leaf.bin")
	writeFile(t, leafFile, string(binaryData))
	leaf := strings.TrimSuffix(ok(icnctl(first, nil, "dag", "put", leafFile), "put"), "\n")
	if leaf != cidOf(binaryData) {
		t.Fatalf("put printed %q, want %s", leaf, cidOf(binaryData))
	}
	root := strings.TrimSuffix(ok(icnctl(first, strings.NewReader(`{"data": {"title": "minutes"}, "links": {"leaf": "`+leaf+`"}}`),
		"dag", "put", "--json", "--pin=false", "--ttl", "1h", "-"), "put --json"), "\n")
	if got := ok(icnctl(first, nil, "dag", "get", leaf), "get"); got != string(binaryData) {
		t.Fatalf("get: %q, want %q", got, binaryData)
	}
	if got, want := ok(icnctl(first, nil, "dag", "get", "--json", root), "get --json"),
		"{\n  \"data\": {\n    \"title\": \"minutes\"\n  },\n  \"links\": {\n    \"leaf\": {\n      \"/\": \""+leaf+"\"\n    }\n  }\n}\n"; got != want {
		t.Fatalf("get --json:\n%s\nwant\n%s", got, want)
	}
	st := ok(icnctl(first, nil, "dag", "stat", root), "stat")
	for _, w := range []string{"CID      " + root + "\n", "Codec    dag-cbor\n", "Pin      -\n", " left)\n", "Links    " + leaf + "\n"} {
		if !strings.Contains(st, w) {
			t.Fatalf("stat lacks %q:\n%s", w, st)
		}
	}
	if got := ok(icnctl(first, nil, "dag", "pin", root), "pin"); got != "pinned "+root+" (recursive)\n" {
		t.Fatalf("pin: %q", got)
	}
	if pins := ok(icnctl(first, nil, "dag", "pins"), "pins"); !strings.Contains(pins, root+"  recursive  ") || !strings.Contains(pins, leaf+"  recursive  ") {
		t.Fatalf("pins:\n%s", pins)
	}

	// Export, and import the archive into the second node.
	car := ok(icnctl(first, nil, "dag", "export", root), "export")
	cr, err := block.NewCARReader(strings.NewReader(car), maxBlock)
	if err != nil || len(cr.Roots) != 1 || cr.Roots[0].String() != root {
		t.Fatalf("export: %v, roots %v", err, cr)
	}
	var got []string
	for {
		b, err := cr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b.CID().String())
	}
	if strings.Join(got, " ") != root+" "+leaf {
		t.Fatalf("exported %v", got)
	}
	carPath := filepath.Join(dir, "dag.car")
	writeFile(t, carPath, car)
	imported := ok(icnctl(second, nil, "dag", "import", carPath), "import")
	if !strings.HasPrefix(imported, "Roots   "+root+"\nBlocks  2 (2 new)\nBytes   ") || !strings.HasSuffix(imported, "\nPinned  yes\n") {
		t.Fatalf("import:\n%s", imported)
	}
	if got := ok(icnctl(second, nil, "dag", "get", leaf), "get from the second node"); got != string(binaryData) {
		t.Fatalf("the import lost the leaf: %q", got)
	}
	if st := ok(icnctl(second, nil, "dag", "stat", root), "stat"); !strings.Contains(st, "Pin      recursive\n") {
		t.Fatalf("the import did not pin the root:\n%s", st)
	}

	// Unpinned, within their retention: GC keeps both.
	ok(icnctl(first, nil, "dag", "unpin", root), "unpin")
	ok(icnctl(first, nil, "dag", "unpin", leaf), "unpin")
	if got := ok(icnctl(first, nil, "dag", "gc"), "gc"); !strings.HasPrefix(got, "removed 0 blocks (0 B), kept 2, in ") {
		t.Fatalf("gc: %q", got)
	}

	// A node that has the root but not the leaf cannot export the DAG.
	rootCID, err := block.Parse(root)
	if err != nil {
		t.Fatal(err)
	}
	rootBlock, err := block.Verified(rootCID, []byte(ok(icnctl(first, nil, "dag", "get", root), "get root")))
	if err != nil {
		t.Fatal(err)
	}
	var pbuf bytes.Buffer
	cw, err := block.NewCARWriter(&pbuf, rootCID)
	if err != nil {
		t.Fatal(err)
	}
	if err := cw.Write(rootBlock); err != nil {
		t.Fatal(err)
	}
	if err := cw.Flush(); err != nil {
		t.Fatal(err)
	}
	partial := filepath.Join(dir, "partial.car")
	writeFile(t, partial, pbuf.String())
	third := startRealNode(t, maxBlock)
	ok(icnctl(third, nil, "dag", "import", "--pin=false", partial), "import of the root alone")

	// The node's refusals, as icnctl shows them.
	big := filepath.Join(dir, "big.bin")
	writeFile(t, big, strings.Repeat("x", maxBlock+1))
	huge := filepath.Join(dir, "huge.bin")
	writeFile(t, huge, strings.Repeat("y", 8<<20))
	tests := []struct {
		name    string
		dataDir string
		args    []string
		prefix  string
		suffix  string
	}{
		{"a block over dag.max_block_size", first, []string{"dag", "put", big}, "icnctl: dag: block too large: ",
			"(block_too_large)\n  " + big + " (64.0 KiB) is larger than one block may be on this node (its dag.max_block_size).\n" +
				"  Store large data as several blocks linked by a dag-cbor node, or as a CAR archive (icnctl dag import).\n"},
		{"a body over the limit", first, []string{"dag", "put", huge}, "icnctl: request body larger than 1114112 bytes (payload_too_large)\n  " + huge + " (8.0 MiB) is larger",
			"(icnctl dag import).\n"},
		{"an incomplete DAG", third, []string{"dag", "export", root}, "icnctl: this node lacks 1 blocks of the DAG under " + root + " (incomplete_dag)\n  1 block missing:\n    " + leaf + "\n",
			"then export again.\n"},
		{"an incomplete import", third, []string{"dag", "import", partial}, "icnctl: this node lacks 1 blocks of the DAG under " + root +
			": nothing pinned (the 1 blocks imported expire unpinned) (incomplete_dag)\n  1 block missing:\n    " + leaf + "\n", "to store without pinning.\n"},
		{"a wrong token, before the upload", first, []string{"--api-token-file", filepath.Join(first, httpapi.AdminTokenFile), "dag", "import", huge},
			"icnctl: missing or wrong bearer token", "(unauthorized)\n"},
		{"not a CAR", first, []string{"dag", "import", leafFile}, "icnctl: block: invalid CAR", "(invalid_car)\n"},
		{"not pinned", first, []string{"dag", "unpin", root}, "icnctl: dag: not pinned", "(not_pinned)\n"},
		{"a raw block as JSON", first, []string{"dag", "get", "--json", leaf}, "icnctl: block: invalid dag-cbor node: ", "(invalid_node)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := icnctl(tt.dataDir, nil, tt.args...)
			if r.code != exitError || r.stdout != "" || !strings.HasPrefix(r.stderr, tt.prefix) || !strings.HasSuffix(r.stderr, tt.suffix) {
				t.Fatalf("exit %d, stdout %q\nstderr %q\nwant   %q ... %q", r.code, r.stdout, r.stderr, tt.prefix, tt.suffix)
			}
		})
	}
}
