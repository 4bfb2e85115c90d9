package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/intercooperative-network/icn-go/services/httpapi"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// binaries are icnd and icnctl built once per test binary run (in
// TestMain's temporary directory), the first time a test needs them.
type binaries struct{ icnd, icnctl string }

var (
	buildOnce sync.Once
	built     binaries
	buildErr  error
	binDir    string
)

func TestMain(m *testing.M) {
	var err error
	binDir, err = os.MkdirTemp("", "icnd-test-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(binDir)
	os.Exit(code)
}

func build(t testing.TB) binaries {
	t.Helper()
	buildOnce.Do(func() {
		b := binaries{icnd: filepath.Join(binDir, "icnd"), icnctl: filepath.Join(binDir, "icnctl")}
		for pkg, out := range map[string]string{".": b.icnd, "../icnctl": b.icnctl} {
			cmd := exec.Command("go", "build", "-ldflags", "-X main.version=proc-test", "-o", out, pkg)
			if msg, err := cmd.CombinedOutput(); err != nil {
				buildErr = fmt.Errorf("go build %s: %v\n%s", pkg, err, msg)
				return
			}
		}
		built = b
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return built
}

// daemon is one running icnd process.
type daemon struct {
	cmd    *exec.Cmd
	stdout *bytes.Buffer
	stderr *bytes.Buffer
	done   chan error
}

func startDaemon(t testing.TB, icnd, dataDir string, extra ...string) *daemon {
	t.Helper()
	return startDaemonEnv(t, icnd, dataDir, nil, extra...)
}

// startDaemonEnv starts icnd with env added to a clean environment.
func startDaemonEnv(t testing.TB, icnd, dataDir string, env []string, extra ...string) *daemon {
	t.Helper()
	args := append([]string{"run", "--profile", "production", "--data-dir", dataDir,
		"--api-addr", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0",
		"--p2p-listen", "/ip4/127.0.0.1/tcp/0", "--log-level", "warn", "--workers", "2"}, extra...)
	cmd := exec.Command(icnd, args...)
	cmd.Env = append(cleanEnv(), env...)
	d := &daemon{cmd: cmd, stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = d.stdout, d.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			if err := <-d.done; err == nil {
				t.Log("icnd had already exited cleanly")
			}
		}
	})
	return d
}

// cleanEnv drops ICN_* variables of the developer's shell: icnd refuses
// unknown ones and must not pick up someone's settings.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "ICN_") {
			env = append(env, kv)
		}
	}
	return env
}

// waitReady polls /ready until 200; it returns the API address.
func (d *daemon) waitReady(t testing.TB, dataDir string, within time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		select {
		case err := <-d.done:
			t.Fatalf("icnd exited before ready: %v\nstderr:\n%s", err, d.stderr)
		default:
		}
		if b, err := os.ReadFile(httpapi.AddrFile(dataDir, "api")); err == nil {
			addr := strings.TrimSpace(string(b))
			if res, err := http.Get("http://" + addr + "/ready"); err == nil {
				res.Body.Close()
				if res.StatusCode == 200 {
					return addr
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("icnd not ready within %s\nstderr:\n%s", within, d.stderr)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (d *daemon) signal(t testing.TB, sig syscall.Signal, within time.Duration) {
	t.Helper()
	if err := d.cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-d.done:
		if err != nil {
			t.Fatalf("icnd exited with %v after %s\nstderr:\n%s", err, sig, d.stderr)
		}
	case <-time.After(within):
		t.Fatalf("icnd still running %s after %s", within, sig)
	}
}

// kill SIGKILLs the daemon and waits for it to be gone.
func (d *daemon) kill(t testing.TB) {
	t.Helper()
	if err := d.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if err := <-d.done; err == nil {
		t.Fatal("icnd exited cleanly after SIGKILL")
	}
}

func icnctl(t *testing.T, bin, dataDir string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--data-dir", dataDir}, args...)...)
	cmd.Env = cleanEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("icnctl %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}

// TestDaemonWithIcnctl builds both binaries, runs icnd on an empty data
// dir, drives it with icnctl, kills an actor, restarts the daemon and checks
// that its DID and peer ID survive.
func TestDaemonWithIcnctl(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bins := build(t)
	dataDir := filepath.Join(t.TempDir(), "data")

	d := startDaemon(t, bins.icnd, dataDir)
	d.waitReady(t, dataDir, 30*time.Second)
	for _, want := range []string{"DID", "peer ID", "/admin/", "api.token"} {
		if !strings.Contains(d.stdout.String(), want) {
			t.Errorf("the start banner lacks %q:\n%s", want, d.stdout)
		}
	}

	var first httpapi.NodeInfo
	if err := json.Unmarshal(icnctl(t, bins.icnctl, dataDir, "node", "-o", "json"), &first); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(first.DID, "did:key:z6Mk") || !strings.HasPrefix(first.PeerID, "12D3KooW") || first.Profile != "production" || first.Version != "proc-test" {
		t.Fatalf("node: %+v", first)
	}
	status := string(icnctl(t, bins.icnctl, dataDir, "status"))
	for _, sub := range []string{"dag", "ledger", "peers", "jobs", "executors", "governance"} {
		if !strings.Contains(status, sub) {
			t.Errorf("status lacks %s:\n%s", sub, status)
		}
	}
	tree := string(icnctl(t, bins.icnctl, dataDir, "actors"))
	if !strings.Contains(tree, "worker-1") || !strings.Contains(tree, "governance") {
		t.Fatalf("actors:\n%s", tree)
	}

	// Kill dag through icnctl and watch it come back.
	icnctl(t, bins.icnctl, dataDir, "actors", "kill", "/icn/dag", "--mode", "panic")
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n supervisors.Node
		if err := json.Unmarshal(icnctl(t, bins.icnctl, dataDir, "actors", "/icn/dag", "-o", "json"), &n); err != nil {
			t.Fatal(err)
		}
		if n.Restarts == 1 && n.Failures == 1 && n.Status == "running" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dag did not come back: %+v", n)
		}
		time.Sleep(5 * time.Millisecond)
	}

	d.signal(t, syscall.SIGTERM, 10*time.Second)
	if _, err := os.Stat(httpapi.AddrFile(dataDir, "api")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("api.addr left after a clean stop: %v", err)
	}

	// Restart on the same data dir: same identity.
	d2 := startDaemon(t, bins.icnd, dataDir)
	d2.waitReady(t, dataDir, 30*time.Second)
	var second httpapi.NodeInfo
	if err := json.Unmarshal(icnctl(t, bins.icnctl, dataDir, "node", "-o", "json"), &second); err != nil {
		t.Fatal(err)
	}
	if second.DID != first.DID || second.PeerID != first.PeerID {
		t.Fatalf("identity changed across restarts: %s/%s -> %s/%s", first.DID, first.PeerID, second.DID, second.PeerID)
	}
	d2.signal(t, syscall.SIGINT, 10*time.Second)
}

// TestSIGTERMRightAfterReadyStopsInOrder: a signal that arrives as soon as
// the node answers must still get the orderly stop (exit 0), never the
// default action of a signal nobody handles yet.
func TestSIGTERMRightAfterReadyStopsInOrder(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bins := build(t)
	for i := range 5 {
		dataDir := filepath.Join(t.TempDir(), fmt.Sprint(i))
		d := startDaemon(t, bins.icnd, dataDir)
		d.waitReady(t, dataDir, 30*time.Second)
		d.signal(t, syscall.SIGTERM, 10*time.Second)
	}
}

func TestBadConfigIsRefusedWithTheKeyName(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bins := build(t)
	for _, tc := range []struct {
		args []string
		env  string
		want string
	}{
		{[]string{"run", "--workers", "-3"}, "", "workers"},
		{[]string{"run", "--no-such-flag"}, "", "no-such-flag"},
		{[]string{"run", "--check-config"}, "ICN_WROKERS=2", "ICN_WROKERS"},
		{[]string{"run", "--profile", "staging"}, "", "staging"},
	} {
		cmd := exec.Command(bins.icnd, append(tc.args, "--data-dir", t.TempDir())...)
		cmd.Env = cleanEnv()
		if tc.env != "" {
			cmd.Env = append(cmd.Env, tc.env)
		}
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() == 0 || !strings.Contains(string(out), tc.want) {
			t.Errorf("icnd %v (%s): exit %v, output:\n%s", tc.args, tc.env, err, out)
		}
	}
	out, err := exec.Command(bins.icnd, "run", "--check-config", "--data-dir", t.TempDir()).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "config ok") {
		t.Fatalf("valid config: %v %s", err, out)
	}
}

// BenchmarkStartToReady measures `icnd run` to /ready = 200, on an empty
// data dir (key and store created) and on a warm one.
func BenchmarkStartToReady(b *testing.B) {
	bins := build(b)
	for _, warm := range []bool{false, true} {
		name := "empty"
		if warm {
			name = "warm"
		}
		b.Run(name, func(b *testing.B) {
			warmDir := filepath.Join(b.TempDir(), "warm")
			if warm {
				d := startDaemon(b, bins.icnd, warmDir)
				d.waitReady(b, warmDir, 30*time.Second)
				d.signal(b, syscall.SIGTERM, 10*time.Second)
			}
			var total time.Duration
			for i := 0; b.Loop(); i++ {
				dir := warmDir
				if !warm {
					dir = filepath.Join(b.TempDir(), fmt.Sprint(i))
				}
				began := time.Now()
				d := startDaemon(b, bins.icnd, dir)
				d.waitReady(b, dir, 30*time.Second)
				total += time.Since(began)
				b.StopTimer()
				d.signal(b, syscall.SIGTERM, 10*time.Second)
				b.StartTimer()
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/ready")
		})
	}
}

// TestSIGKILLDuringPutsLosesNoAcknowledgedBlock puts blocks from 16
// clients, SIGKILLs icnd after 300 acknowledgements, restarts it and reads
// every acknowledged block back, byte for byte.
func TestSIGKILLDuringPutsLosesNoAcknowledgedBlock(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bins := build(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	d := startDaemon(t, bins.icnd, dataDir)
	api := d.waitReady(t, dataDir, 30*time.Second)
	token, err := os.ReadFile(filepath.Join(dataDir, httpapi.APITokenFile))
	if err != nil {
		t.Fatal(err)
	}
	bearer := "Bearer " + strings.TrimSpace(string(token))

	type acked struct{ cid, data string }
	var mu sync.Mutex
	var done []acked
	killAt := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				data := fmt.Sprintf("worker %d block %d %s", w, i, strings.Repeat("x", 200+i%700))
				req, _ := http.NewRequest("POST", "http://"+api+"/api/v1/dag/blocks", strings.NewReader(data))
				req.Header.Set("Authorization", bearer)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					return // the daemon is gone
				}
				var pr httpapi.PutResult
				ok := res.StatusCode == 201 && json.NewDecoder(res.Body).Decode(&pr) == nil
				res.Body.Close()
				if !ok {
					return
				}
				mu.Lock()
				done = append(done, acked{pr.CID, data})
				n := len(done)
				mu.Unlock()
				if n >= 300 {
					once.Do(func() { close(killAt) })
				}
			}
		})
	}
	<-killAt
	d.kill(t)
	wg.Wait()
	mu.Lock()
	acks := append([]acked(nil), done...)
	mu.Unlock()

	d2 := startDaemon(t, bins.icnd, dataDir)
	api = d2.waitReady(t, dataDir, 30*time.Second)
	// Their pins survived too: a collection right after the restart keeps
	// every one, and each says it is pinned.
	c := newAPI(t, api, dataDir)
	c.must(200, "POST", "/api/v1/dag/gc", nil, nil)
	for _, a := range acks {
		var st httpapi.BlockStat
		if c.must(200, "GET", "/api/v1/dag/blocks/"+a.cid+"/stat", nil, &st); !st.Pinned {
			t.Fatalf("acknowledged block %s lost its pin after SIGKILL: %+v", a.cid, st)
		}
	}
	for _, a := range acks {
		req, _ := http.NewRequest("GET", "http://"+api+"/api/v1/dag/blocks/"+a.cid, nil)
		req.Header.Set("Authorization", bearer)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || string(body) != a.data {
			t.Fatalf("acknowledged block %s after SIGKILL: %d %.80q", a.cid, res.StatusCode, body)
		}
	}
	t.Logf("%d acknowledged blocks survived SIGKILL", len(acks))
	d2.signal(t, syscall.SIGTERM, 10*time.Second)
}

// TestKeyEncryptCoversTheKeyring encrypts a node's keys with icnd key
// encrypt: the node then starts with the passphrase (its keyring too) and
// refuses to start without it.
func TestKeyEncryptCoversTheKeyring(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bins := build(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	d := startDaemon(t, bins.icnd, dataDir)
	d.waitReady(t, dataDir, 30*time.Second)
	d.signal(t, syscall.SIGTERM, 10*time.Second)
	if _, err := os.Stat(filepath.Join(dataDir, "accounts", "keyring")); err != nil {
		t.Fatalf("the node has no keyring: %v", err)
	}

	pass := "ICN_KEY_PASSPHRASE=correct horse battery staple"
	encrypt := func() (string, error) {
		cmd := exec.Command(bins.icnd, "key", "encrypt", "--data-dir", dataDir)
		cmd.Env = append(cleanEnv(), pass)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := encrypt()
	if err != nil || !strings.Contains(out, "encrypted the keyring") {
		t.Fatalf("icnd key encrypt: %v\n%s", err, out)
	}
	if out, err := encrypt(); err == nil || !strings.Contains(out, "already encrypted") {
		t.Fatalf("second icnd key encrypt: %v\n%s", err, out)
	}

	d2 := startDaemonEnv(t, bins.icnd, dataDir, []string{pass})
	d2.waitReady(t, dataDir, 30*time.Second)
	d2.signal(t, syscall.SIGTERM, 10*time.Second)

	d3 := startDaemon(t, bins.icnd, dataDir)
	select {
	case err := <-d3.done:
		if err == nil || !strings.Contains(d3.stderr.String(), "passphrase") {
			t.Fatalf("icnd started without the passphrase: %v\n%s", err, d3.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("icnd still running without the passphrase")
	}
}

// api is a client of a daemon's public API.
type api struct {
	t      testing.TB
	addr   string
	bearer string
}

func newAPI(t testing.TB, addr, dataDir string) api {
	token, err := os.ReadFile(filepath.Join(dataDir, httpapi.APITokenFile))
	if err != nil {
		t.Fatal(err)
	}
	return api{t, addr, "Bearer " + strings.TrimSpace(string(token))}
}

// do sends a JSON request and decodes a JSON answer into out; it returns
// the status, or an error when the daemon did not answer.
func (a api) do(method, path string, body, out any) (int, error) {
	var r io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://"+a.addr+path, r)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", a.bearer)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer res.Body.Close()
	if out != nil && res.StatusCode < 300 {
		if err := json.NewDecoder(res.Body).Decode(out); err != nil {
			return res.StatusCode, err
		}
	}
	return res.StatusCode, nil
}

// must is do that fails the test unless the status is want.
func (a api) must(want int, method, path string, body, out any) {
	a.t.Helper()
	if code, err := a.do(method, path, body, out); err != nil || code != want {
		a.t.Fatalf("%s %s: %d %v, want %d", method, path, code, err, want)
	}
}

// TestSIGKILLDuringTransfersLosesNoAcknowledgedEntry SIGKILLs icnd while
// transfers between its local accounts flow: after a restart every chain
// verifies, mana is conserved, and every acknowledged transfer is on both
// chains.
func TestSIGKILLDuringTransfersLosesNoAcknowledgedEntry(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bins := build(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	noRegen := []string{"ICN_LEDGER_REGEN_PER_HOUR=0"} // conservation is then exact
	d := startDaemonEnv(t, bins.icnd, dataDir, noRegen)
	c := newAPI(t, d.waitReady(t, dataDir, 30*time.Second), dataDir)
	var list httpapi.AccountList
	for range 3 {
		c.must(201, "POST", "/api/v1/accounts", nil, nil)
	}
	c.must(200, "GET", "/api/v1/accounts", nil, &list)
	if len(list.Accounts) != 4 {
		t.Fatalf("accounts: %+v", list)
	}
	var dids []string
	var opened uint64
	for _, a := range list.Accounts {
		dids = append(dids, a.DID)
		opened += a.Balance
	}

	type transfer struct{ send, receive string }
	var mu sync.Mutex
	var acked []transfer
	killAt := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := 0; ; i++ {
				from, to := dids[(w+i)%4], dids[(w+i+1)%4]
				var r httpapi.TransferResult
				code, err := c.do("POST", "/api/v1/transfers", httpapi.TransferRequest{From: from, To: to, Amount: 1}, &r)
				if err != nil || code != 201 {
					return // the daemon is gone
				}
				if r.Receive == nil {
					t.Errorf("transfer %s -> %s between local accounts has no receive", from, to)
					return
				}
				mu.Lock()
				acked = append(acked, transfer{r.Send.CID, r.Receive.CID})
				if len(acked) >= 300 {
					once.Do(func() { close(killAt) })
				}
				mu.Unlock()
			}
		})
	}
	<-killAt
	d.kill(t)
	wg.Wait()

	d2 := startDaemonEnv(t, bins.icnd, dataDir, noRegen)
	c = newAPI(t, d2.waitReady(t, dataDir, 30*time.Second), dataDir)
	onChains := map[string]bool{}
	var total uint64
	for _, did := range dids {
		var v httpapi.VerifyReport
		c.must(200, "GET", "/api/v1/accounts/"+did+"/verify", nil, &v)
		if !v.Valid {
			t.Fatalf("%s does not verify after SIGKILL: %+v", did, v.Problems)
		}
		var a httpapi.Account
		c.must(200, "GET", "/api/v1/accounts/"+did, nil, &a)
		total += a.Balance
		for _, e := range c.entries(did) {
			onChains[e.CID] = true
		}
	}
	if total != opened {
		t.Fatalf("total mana %d after SIGKILL, %d opened", total, opened)
	}
	for _, tr := range acked {
		if !onChains[tr.send] || !onChains[tr.receive] {
			t.Fatalf("acknowledged transfer %s -> %s lost", tr.send, tr.receive)
		}
	}
	t.Logf("%d acknowledged transfers survived SIGKILL", len(acked))
	d2.signal(t, syscall.SIGTERM, 10*time.Second)
}

// waitConnected polls a daemon's peer table until peer is connected.
func (a api) waitConnected(peer string, within time.Duration) {
	a.t.Helper()
	deadline := time.Now().Add(within)
	for {
		var l httpapi.PeerList
		if code, err := a.do("GET", "/api/v1/peers", nil, &l); err == nil && code == 200 {
			for _, p := range l.Peers {
				if p.PeerID == peer && p.Connected {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("%s not connected to %s within %s", a.addr, peer, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestThreeDaemonsFederate runs three icnd (production profile, libp2p on
// 127.0.0.1): two bootstrap from the first; a block put on node 3 is
// fetched by node 1; node 2 restarts with its peer ID and reconnects by
// itself.
func TestThreeDaemonsFederate(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bins := build(t)
	dirs := []string{filepath.Join(t.TempDir(), "n1"), filepath.Join(t.TempDir(), "n2"), filepath.Join(t.TempDir(), "n3")}
	d1 := startDaemon(t, bins.icnd, dirs[0])
	c1 := newAPI(t, d1.waitReady(t, dirs[0], 30*time.Second), dirs[0])
	var n1 httpapi.NodeInfo
	c1.must(200, "GET", "/api/v1/node", nil, &n1)
	var bootstrap string
	for _, a := range n1.Addrs {
		if strings.HasPrefix(a, "/ip4/127.0.0.1/tcp/") {
			bootstrap = a + "/p2p/" + n1.PeerID
		}
	}
	if bootstrap == "" {
		t.Fatalf("node 1 has no TCP address on 127.0.0.1: %v", n1.Addrs)
	}
	start := func(dir string) (*daemon, api, httpapi.NodeInfo) {
		d := startDaemon(t, bins.icnd, dir, "--bootstrap", bootstrap)
		c := newAPI(t, d.waitReady(t, dir, 30*time.Second), dir)
		var n httpapi.NodeInfo
		c.must(200, "GET", "/api/v1/node", nil, &n)
		c.waitConnected(n1.PeerID, 15*time.Second)
		return d, c, n
	}
	d2, _, n2 := start(dirs[1])
	_, c3, _ := start(dirs[2])

	// A block put on node 3 is fetched by node 1.
	data := []byte("a block that only node 3 has")
	req, _ := http.NewRequest("POST", "http://"+c3.addr+"/api/v1/dag/blocks", bytes.NewReader(data))
	req.Header.Set("Authorization", c3.bearer)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var put httpapi.PutResult
	if err := json.NewDecoder(res.Body).Decode(&put); err != nil || res.StatusCode != 201 {
		t.Fatalf("put on node 3: %d %v", res.StatusCode, err)
	}
	res.Body.Close()
	req, _ = http.NewRequest("GET", "http://"+c1.addr+"/api/v1/dag/blocks/"+put.CID+"?fetch=true", nil)
	req.Header.Set("Authorization", c1.bearer)
	res, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !bytes.Equal(got, data) {
		t.Fatalf("node 1 fetching node 3's block: %d %q", res.StatusCode, got)
	}

	// Node 2 restarts: same peer ID, and node 1 sees it again without help.
	d2.signal(t, syscall.SIGTERM, 10*time.Second)
	_, _, again := start(dirs[1])
	if again.PeerID != n2.PeerID || again.DID != n2.DID {
		t.Fatalf("node 2 came back as %s (%s), was %s (%s)", again.PeerID, again.DID, n2.PeerID, n2.DID)
	}
	c1.waitConnected(n2.PeerID, 15*time.Second)
}
