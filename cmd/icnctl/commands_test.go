package main

import (
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/intercooperative-network/icn-go/services/httpapi"
	"github.com/intercooperative-network/icn-go/supervisors"
)

func TestStatus(t *testing.T) {
	tests := []struct {
		name     string
		degraded bool
		code     int
		want     []string
	}{
		{"ok", false, exitOK, []string{
			"DID      did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
			"Peer ID  12D3KooWtest", "Version  v0.3.0", "Profile  dev",
			"Uptime   2h0m5s (since 2026-11-27T12:00:00Z)",
			"Addrs    /ip4/127.0.0.1/tcp/4001\n         /ip4/127.0.0.1/udp/4001/quic-v1",
			"Health: ok (3 of 3 subsystems serving)",
			"SUBSYSTEM  STATE    BREAKER  SERVING  ERROR\ndag        running  closed   yes      -\nledger     running  closed   yes      -\nexecutors  running  closed   yes      -\n",
			"ledger (/icn/ledger): ready, up 1h0m5s (since 2026-11-27T13:00:00Z)\n  accounts  12\n  blocks    42\n",
			"executors (/icn/executors): supervisors: no handler (not_implemented)",
		}},
		{"degraded", true, exitUnwell, []string{
			"Health: degraded (1 of 3 subsystems serving)",
			"dag        stopped       open     no       -\n",
			"ledger     unresponsive  closed   no       supervisors: timeout\n",
			"dag (/icn/dag): supervisors: /icn/dag is unavailable (breaker open) (unavailable)",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t, tt.degraded)
			r := runCmd(t, n.flags("status")...)
			if r.code != tt.code || r.stderr != "" {
				t.Fatalf("exit %d (want %d), stderr %q\n%s", r.code, tt.code, r.stderr, r.stdout)
			}
			for _, w := range tt.want {
				if !strings.Contains(r.stdout, w) {
					t.Errorf("output lacks %q:\n%s", w, r.stdout)
				}
			}
			// health agrees with status on the exit code.
			if r := runCmd(t, n.flags("health")...); r.code != tt.code || !strings.Contains(r.stdout, "Health: ") {
				t.Errorf("health: exit %d (want %d)\n%s", r.code, tt.code, r.stdout)
			}
		})
	}
}

func TestReady(t *testing.T) {
	tests := []struct {
		name     string
		degraded bool
		code     int
		want     string
	}{
		{"ready", false, exitOK, "ready\n"},
		{"not ready", true, exitUnwell, "not ready:\n  - dag is stopped (breaker open)\n  - ledger is unresponsive (breaker closed)\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t, tt.degraded)
			r := runCmd(t, n.flags("ready")...)
			if r.code != tt.code || r.stdout != tt.want || r.stderr != "" {
				t.Fatalf("exit %d (want %d), stdout %q, stderr %q", r.code, tt.code, r.stdout, r.stderr)
			}
		})
	}
}

func TestActorsTree(t *testing.T) {
	n := newNode(t, false)
	r := runCmd(t, n.flags("actors")...)
	want := `ACTOR           KIND                     STATUS   BREAKER          RESTARTS  FAILURES  MAILBOX  PROCESSED  LAST FAILURE
icn             supervisor/one_for_one   running  closed           0         0         0        0          -
├─ dag          worker                   stopped  open (2 trips)   3         4         0        1500       panic: disk on fire (13:30:00Z, on *messages.Put)
├─ ledger       worker                   running  closed (1 trip)  0         0         2        120        -
└─ executors    supervisor/rest_for_one  running  closed           0         0         0        0          -
   ├─ worker-0  worker                   running  closed           0         0         0        7          -
   └─ worker-1  worker                   running  closed           0         0         0        9          -
`
	if r.code != exitOK || r.stdout != want {
		t.Fatalf("exit %d, stderr %q, got:\n%s\nwant:\n%s", r.code, r.stderr, r.stdout, want)
	}
	if reqs := n.admin.requests(); len(reqs) != 1 || reqs[0].uri != "/admin/actors" || reqs[0].auth != "Bearer "+adminToken {
		t.Fatalf("requests: %+v", reqs)
	}

	// A subtree, asked by path.
	r = runCmd(t, n.flags("actors", "/icn/executors")...)
	if r.code != exitOK || !strings.HasPrefix(strings.SplitN(r.stdout, "\n", 3)[1], "executors ") || !strings.Contains(r.stdout, "└─ worker-1") {
		t.Fatalf("subtree: exit %d\n%s", r.code, r.stdout)
	}
	if last := n.admin.requests()[1]; last.uri != "/admin/actors?path=%2Ficn%2Fexecutors" {
		t.Fatalf("subtree request %q", last.uri)
	}
	r = runCmd(t, n.flags("actors", "/icn/nope")...)
	if r.code != exitError || r.stderr != "icnctl: supervisors: not found: /icn/nope (not_found)\n" {
		t.Fatalf("unknown actor: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestKill(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
		sent   string // the request body the node got; "" when none may be sent
	}{
		{"accepted, default mode", []string{"/icn/ledger"}, exitOK,
			"kill accepted: /icn/ledger (panic); its supervisor decides what happens next (icnctl actors watch)\n", "",
			`{"path":"/icn/ledger","mode":"panic"}`},
		{"accepted, by name", []string{"ledger", "--mode", "poison"}, exitOK,
			"kill accepted: ledger (poison); its supervisor decides what happens next (icnctl actors watch)\n", "",
			`{"path":"ledger","mode":"poison"}`},
		{"bad mode", []string{"/icn/ledger", "--mode", "explode"}, exitUsage, "",
			"icnctl: --mode \"explode\": want one of panic, stop, poison\nRun 'icnctl actors kill --help' for usage.\n", ""},
		{"empty mode", []string{"/icn/ledger", "--mode="}, exitUsage, "",
			"icnctl: --mode \"\": want one of panic, stop, poison\nRun 'icnctl actors kill --help' for usage.\n", ""},
		{"no path", []string{}, exitUsage, "",
			"icnctl: accepts 1 arg(s), received 0\nRun 'icnctl actors kill --help' for usage.\n", ""},
		{"unknown actor: 404", []string{"/icn/zz", "--mode", "stop"}, exitError, "",
			"icnctl: supervisors: not found: /icn/zz (not_found)\n", `{"path":"/icn/zz","mode":"stop"}`},
		{"not running: 409", []string{"/icn/dag"}, exitError, "",
			"icnctl: supervisors: actor not running: /icn/dag (actor_not_running)\n", `{"path":"/icn/dag","mode":"panic"}`},
		{"unavailable: 503", []string{"/icn/busy"}, exitError, "",
			"icnctl: supervisors: /icn/busy is unavailable (half_open) (unavailable), retry after 2s\n", `{"path":"/icn/busy","mode":"panic"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t, false)
			r := runCmd(t, n.flags(append([]string{"actors", "kill"}, tt.args...)...)...)
			r.expect(t, tt.code, tt.stdout, tt.stderr)
			reqs := n.admin.requests()
			if tt.sent == "" {
				if len(reqs) != 0 {
					t.Fatalf("a request was sent: %+v", reqs)
				}
				return
			}
			if len(reqs) != 1 || reqs[0].method != "POST" || reqs[0].uri != "/admin/actors/kill" ||
				reqs[0].contentType != "application/json" || reqs[0].body != tt.sent {
				t.Fatalf("requests: %+v", reqs)
			}
		})
	}
}

func TestServerErrors(t *testing.T) {
	n := newNode(t, false)
	proxy := newFake(t, apiToken, map[string]http.HandlerFunc{
		"GET /api/v1/node": func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			w.WriteHeader(http.StatusBadGateway)
			w.Write([]byte("<html>\x1b[31mbad gateway</html>\n<p>more</p>"))
		},
	})
	tests := []struct {
		name   string
		args   []string
		stderr string
	}{
		{"503 with Retry-After", n.flags("subsystems", "dag"),
			"icnctl: supervisors: /icn/dag is unavailable (breaker open) (unavailable), retry after 3s\n"},
		{"404", n.flags("subsystems", "nope"), "icnctl: no subsystem \"nope\" (not_found)\n"},
		{"wrong token", append(n.flags("node"), "--api-token-file", filepath.Join(n.dataDir, httpapi.AdminTokenFile)),
			"icnctl: missing or wrong bearer token (Authorization: Bearer <token>) (unauthorized)\n"},
		{"not icnd's error shape", []string{"--api", proxy.srv.URL, "--data-dir", n.dataDir, "node"},
			"icnctl: GET /api/v1/node answered 502 Bad Gateway: <html>?[31mbad gateway</html>\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, tt.args...)
			if r.code != exitError || r.stdout != "" || r.stderr != tt.stderr {
				t.Fatalf("exit %d\nstdout %q\nstderr %q\n  want %q", r.code, r.stdout, r.stderr, tt.stderr)
			}
		})
	}
}

func TestJSONOutput(t *testing.T) {
	n := newNode(t, true)
	tests := []struct {
		args []string
		code int
		want any // the server's value, compared after decoding both
	}{
		{[]string{"node"}, exitOK, nodeInfo()},
		{[]string{"health"}, exitUnwell, health(true)},
		{[]string{"ready"}, exitUnwell, httpapi.Readiness{Reasons: []string{"dag is stopped (breaker open)", "ledger is unresponsive (breaker closed)"}}},
		{[]string{"subsystems"}, exitOK, subsystems(true)},
		{[]string{"subsystems", "ledger"}, exitOK, subsystems(false).Subsystems[1].Status},
		{[]string{"actors"}, exitOK, tree()},
		{[]string{"actors", "kill", "/icn/ledger", "--mode", "stop"}, exitOK, httpapi.KillAccepted{Path: "/icn/ledger", Mode: "stop", Accepted: true}},
		{[]string{"status"}, exitUnwell, map[string]any{"node": nodeInfo(), "health": health(true), "subsystems": subsystems(true)}},
		{[]string{"openapi", "admin"}, exitOK, map[string]any{"openapi": "3.0.3", "info": map[string]string{"title": "ICN node admin API"}}},
		{[]string{"openapi"}, exitOK, map[string]any{"openapi": "3.0.3", "info": map[string]string{"title": "ICN node API"}}},
		{[]string{"version"}, exitOK, map[string]string{"version": "v9.9.9-test"}},
		{[]string{"admin-url"}, exitOK, map[string]string{"url": n.admin.srv.URL + "/admin/#token=" + adminToken}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCmd(t, n.flags(append([]string{"-o", "json"}, tt.args...)...)...)
			if r.code != tt.code || r.stderr != "" {
				t.Fatalf("exit %d (want %d), stderr %q", r.code, tt.code, r.stderr)
			}
			if !json.Valid([]byte(r.stdout)) || !strings.HasPrefix(r.stdout, "{\n  \"") || !strings.HasSuffix(r.stdout, "}\n") {
				t.Fatalf("not indented JSON:\n%s", r.stdout)
			}
			if got, want := normalize(t, []byte(r.stdout)), normalize(t, mustJSON(t, tt.want)); got != want {
				t.Fatalf("got  %s\nwant %s", got, want)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// normalize decodes and re-encodes JSON, so layout and key order do not count.
func normalize(t *testing.T, b []byte) string {
	t.Helper()
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
	return string(mustJSON(t, v))
}

func TestOtherCommands(t *testing.T) {
	n := newNode(t, false)
	tests := []struct {
		args   []string
		stdout string
		path   string // what the node was asked, on which listener
		admin  bool
	}{
		{[]string{"metrics"}, "# TYPE icn_up gauge\nicn_up 1\n", "/metrics", false},
		{[]string{"version"}, "icnctl v9.9.9-test\n", "", false},
		{[]string{"--version"}, "icnctl v9.9.9-test\n", "", false},
		{[]string{"subsystems", "ledger"}, "ledger: ready, up 1h0m5s (since 2026-11-27T13:00:00Z)\n  accounts  12\n  blocks    42\n", "/api/v1/subsystems/ledger", false},
		{[]string{"openapi"}, "{\n  \"info\": {\n    \"title\": \"ICN node API\"\n  },\n  \"openapi\": \"3.0.3\"\n}\n", "/api/v1/openapi.json", false},
		{[]string{"openapi", "admin"}, "{\n  \"info\": {\n    \"title\": \"ICN node admin API\"\n  },\n  \"openapi\": \"3.0.3\"\n}\n", "/admin/openapi.json", true},
		{[]string{"admin-url"}, n.admin.srv.URL + "/admin/#token=" + adminToken + "\n", "", false},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			before := len(n.api.requests()) + len(n.admin.requests())
			r := runCmd(t, n.flags(tt.args...)...)
			if r.code != exitOK || r.stdout != tt.stdout || r.stderr != "" {
				t.Fatalf("exit %d\nstdout %q\n  want %q\nstderr %q", r.code, r.stdout, tt.stdout, r.stderr)
			}
			asked := append(n.api.requests(), n.admin.requests()...)
			if tt.path == "" {
				if len(asked) != before {
					t.Fatalf("asked the node: %+v", asked[before:])
				}
				return
			}
			f := n.api
			if tt.admin {
				f = n.admin
			}
			if f.count(tt.path) == 0 {
				t.Fatalf("%s was not asked on the right listener", tt.path)
			}
		})
	}
	r := runCmd(t, n.flags("node")...)
	for _, w := range []string{"DID      did:key:z6Mk", "Uptime   2h0m5s", "Addrs    /ip4/127.0.0.1/tcp/4001"} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("node output lacks %q:\n%s", w, r.stdout)
		}
	}
}

func TestAddressDiscovery(t *testing.T) {
	n := newNode(t, false)
	other := t.TempDir() // a second data dir, for the environment
	writeFile(t, filepath.Join(other, httpapi.APITokenFile), apiToken)
	writeFile(t, filepath.Join(other, httpapi.AdminTokenFile), adminToken)
	writeFile(t, httpapi.AddrFile(n.dataDir, "api"), n.api.hostPort()+"\n")
	writeFile(t, httpapi.AddrFile(n.dataDir, "admin"), n.admin.hostPort()+"\n")
	writeFile(t, httpapi.AddrFile(other, "api"), n.api.hostPort()+"\n")
	writeFile(t, httpapi.AddrFile(other, "admin"), n.admin.hostPort()+"\n")

	tests := []struct {
		name string
		env  map[string]string
		args []string
	}{
		{"addr files in --data-dir", nil, []string{"--data-dir", n.dataDir}},
		{"addr files in ICN_DATA_DIR", map[string]string{envDataDir: other}, nil},
		{"ICN_API and ICN_ADMIN over the files", map[string]string{envDataDir: n.dataDir,
			envAPI: n.api.srv.URL, envAdmin: n.admin.hostPort()}, nil},
		{"flags over the environment", map[string]string{envDataDir: "/nonexistent", envAPI: "127.0.0.1:1", envAdmin: "bad address"},
			[]string{"--data-dir", n.dataDir, "--api", n.api.hostPort(), "--admin", n.admin.srv.URL + "/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, cmd := range []string{"health", "actors"} {
				r := runApp(t, testApp(tt.env), append(tt.args, cmd)...)
				if r.code != exitOK {
					t.Fatalf("%s: exit %d: %s", cmd, r.code, r.stderr)
				}
			}
		})
	}
	// A stale address file says where the address came from.
	dead := closedAddr(t)
	stale := t.TempDir()
	writeFile(t, httpapi.AddrFile(stale, "api"), dead+"\n")
	r := runCmd(t, "--data-dir", stale, "health")
	if r.code != exitError || !strings.Contains(r.stderr, "(address from "+httpapi.AddrFile(stale, "api")+")") {
		t.Fatalf("stale file: exit %d: %s", r.code, r.stderr)
	}
}

func TestResolveTarget(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, httpapi.AddrFile(dir, "api"), "0.0.0.0:7000\n")
	writeFile(t, httpapi.AddrFile(dir, "admin"), "not an address\n")
	tests := []struct {
		name    string
		l       listener
		addr    setting
		dataDir string
		base    string
		usage   bool // a usage error (exit 64); else an error (exit 1) when base is ""
	}{
		{"host:port flag", apiListener(), setting{"10.0.0.1:80", "--api"}, dir, "http://10.0.0.1:80", false},
		{"URL flag", apiListener(), setting{"https://node.example:8443/icn/", "--api"}, dir, "https://node.example:8443/icn", false},
		{"URL without port", apiListener(), setting{"http://node.example", "--api"}, dir, "http://node.example", false},
		{"IPv6", apiListener(), setting{"[::1]:7845", "ICN_API"}, dir, "http://[::1]:7845", false},
		{"wildcard IPv6 URL", apiListener(), setting{"http://[::]:9", "ICN_API"}, dir, "http://[::1]:9", false},
		{"empty host", apiListener(), setting{":7845", "ICN_API"}, dir, "http://127.0.0.1:7845", false},
		{"addr file, wildcard host", apiListener(), setting{}, dir, "http://127.0.0.1:7000", false},
		{"default", apiListener(), setting{}, t.TempDir(), "http://127.0.0.1:7845", false},
		{"admin default", adminListener(), setting{}, t.TempDir(), "http://127.0.0.1:7846", false},
		{"no port", apiListener(), setting{"localhost", "--api"}, dir, "", true},
		{"bad port", apiListener(), setting{"localhost:99999", "ICN_API"}, dir, "", true},
		{"bad scheme", apiListener(), setting{"ftp://x:1", "--api"}, dir, "", true},
		{"query", apiListener(), setting{"http://x:1/?a=b", "--api"}, dir, "", true},
		{"bad addr file", adminListener(), setting{}, dir, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tg, err := resolveTarget(tt.l, tt.addr, tt.dataDir, "")
			var ue *usageError
			switch {
			case tt.base != "":
				if err != nil || tg.base != tt.base {
					t.Fatalf("base %q, err %v; want %q", tg.base, err, tt.base)
				}
				if want := filepath.Join(tt.dataDir, tt.l.tokenFile); tg.tokenPath != want {
					t.Fatalf("token path %q, want %q", tg.tokenPath, want)
				}
			case err == nil:
				t.Fatalf("accepted as %q", tg.base)
			case errors.As(err, &ue) != tt.usage:
				t.Fatalf("usage error %v, want %v: %v", !tt.usage, tt.usage, err)
			}
		})
	}
}

func TestMissingToken(t *testing.T) {
	n := newNode(t, false)
	empty := t.TempDir()
	tests := []struct {
		name string
		args []string
		file string
	}{
		{"api token", []string{"--api", n.api.srv.URL, "--data-dir", empty, "node"}, filepath.Join(empty, "api.token")},
		{"admin token", []string{"--admin", n.admin.srv.URL, "--data-dir", empty, "actors"}, filepath.Join(empty, "admin.token")},
		{"token file flag", n.flags("--admin-token-file", filepath.Join(empty, "mine"), "admin-url"), filepath.Join(empty, "mine")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCmd(t, tt.args...)
			if r.code != exitError || !strings.Contains(r.stderr, tt.file+" does not exist; icnd creates it on its first start") {
				t.Fatalf("exit %d: %s", r.code, r.stderr)
			}
		})
	}
	if got := len(n.api.requests()) + len(n.admin.requests()); got != 0 {
		t.Fatalf("%d requests were sent without a token", got)
	}
	// Public endpoints need no token.
	if r := runCmd(t, "--api", n.api.srv.URL, "--data-dir", empty, "health"); r.code != exitOK {
		t.Fatalf("health without a token: exit %d: %s", r.code, r.stderr)
	}
}

// closedAddr returns an address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestConnectionRefused(t *testing.T) {
	dead := closedAddr(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, httpapi.APITokenFile), apiToken)
	writeFile(t, filepath.Join(dir, httpapi.AdminTokenFile), adminToken)
	for _, args := range [][]string{
		{"--api", dead, "status"},
		{"--admin", "http://" + dead, "actors"},
		{"--admin", dead, "actors", "watch", "--once"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := runCmd(t, append([]string{"--data-dir", dir}, args...)...)
			flag := args[0]
			for _, w := range []string{"cannot reach the", "http://" + dead, "connection refused", "is icnd running?", "make run", "pass " + flag} {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("message lacks %q: %s", w, r.stderr)
				}
			}
			if r.code != exitError {
				t.Fatalf("exit %d", r.code)
			}
		})
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		want string
	}{
		{[]string{"bogus"}, `unknown command "bogus" for "icnctl"`},
		{[]string{"status", "--bogus"}, "unknown flag: --bogus"},
		{[]string{"node", "extra"}, `unknown command "extra" for "icnctl node"`},
		{[]string{"subsystems", "a", "b"}, "accepts at most 1 arg(s), received 2"},
		{[]string{"-o", "yaml", "node"}, `-o "yaml": want text or json`},
		{[]string{"--timeout", "0s", "node"}, "--timeout 0s: want a positive duration"},
		{[]string{"--timeout", "soon", "node"}, `invalid argument "soon" for "--timeout"`},
		{[]string{"--api", "nope", "health"}, `--api "nope": want host:port or http://host:port`},
		{[]string{"openapi", "nope"}, `openapi takes one optional argument, api or admin, got "nope"`},
		{[]string{"openapi", "api", "admin"}, `openapi takes one optional argument, api or admin, got "api admin"`},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runApp(t, testApp(map[string]string{envDataDir: t.TempDir()}), tt.args...)
			if r.code != exitUsage || !strings.Contains(r.stderr, tt.want) || !strings.Contains(r.stderr, "--help' for usage") {
				t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
			}
		})
	}
	if r := runCmd(t); r.code != exitOK || !strings.Contains(r.stdout, "Exit codes:") {
		t.Fatalf("no arguments: exit %d\n%s", r.code, r.stdout)
	}
}

func TestAdminURLEscapesTheToken(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, httpapi.AdminTokenFile), "a+b/c&d=e%f_g-h.i~j\n")
	r := runCmd(t, "--data-dir", dir, "--admin", "0.0.0.0:7846", "admin-url")
	if want := "http://127.0.0.1:7846/admin/#token=a%2Bb%2Fc%26d%3De%25f_g-h.i~j\n"; r.code != exitOK || r.stdout != want {
		t.Fatalf("exit %d: %q, want %q (%s)", r.code, r.stdout, want, r.stderr)
	}
}

func TestRenderingIsInert(t *testing.T) {
	n := supervisors.Node{Name: "evil\x1b[2J", Kind: "worker", Status: "running\r", Breaker: "closed",
		LastFailure: &supervisors.FailureInfo{Reason: "\x1b]0;pwned\x07 boom\nsecond line"}}
	var b strings.Builder
	renderTree(&b, n)
	if strings.ContainsAny(b.String(), "\x1b\r\x07") || strings.Contains(b.String(), "second line") {
		t.Fatalf("control characters or a second line got through: %q", b.String())
	}
}
