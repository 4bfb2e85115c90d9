package wiring

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/fx"
	"go.uber.org/goleak"

	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/httpapi"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/identity/keystore"
	"github.com/intercooperative-network/icn-go/services/network/libp2pnet"
	"github.com/intercooperative-network/icn-go/services/runtest"
	"github.com/intercooperative-network/icn-go/services/store/badgerstore"
	"github.com/intercooperative-network/icn-go/services/wasm"
	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
	"github.com/intercooperative-network/icn-go/supervisors"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// protoactor's dead-letter log throttle lives one second after a dead letter.
		goleak.IgnoreAnyFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
		// libp2p/quic-go and badger keep a few process-wide workers.
		goleak.IgnoreAnyFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		goleak.IgnoreTopFunction("github.com/libp2p/go-libp2p/p2p/transport/quicreuse.(*reuse).gc"),
		goleak.IgnoreAnyFunction("github.com/golang/glog.(*fileSink).flushDaemon"),
		goleak.IgnoreAnyFunction("go.opencensus.io/stats/view.(*worker).start"),
	)
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testConfig is a profile's defaults bound to loopback and a temp data dir.
func testConfig(t *testing.T, profile string) Config {
	t.Helper()
	c, err := Default(profile)
	if err != nil {
		t.Fatal(err)
	}
	c.DataDir = t.TempDir()
	c.APIAddr, c.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
	c.P2P.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	c.P2P.MDNS = false
	c.Workers = 2
	return c
}

func TestEveryProfileGraphIsComplete(t *testing.T) {
	for _, p := range Profiles() {
		t.Run(p, func(t *testing.T) {
			if err := Validate(testConfig(t, p), Options{Logger: discard(), Version: "test"}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestProductionGraphHasNoStub(t *testing.T) {
	cfg := testConfig(t, ProfileProduction)
	// What the actors are given, taken from the graph itself: a component's
	// Stub flag is only what it says of itself.
	var (
		clk     clock.Clock
		supClk  supervisors.Clock
		keyring identity.Keyring
		engine  *wasm.Engine
	)
	n, err := New(cfg, Options{Logger: discard(), Version: "test", Extra: []fx.Option{fx.Populate(&clk, &supClk, &keyring, &engine)}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range n.Components() {
		if c.Stub {
			t.Errorf("production runs stub %s=%s", c.Role, c.Impl)
		}
	}
	if _, ok := n.Store.(*badgerstore.Store); !ok {
		t.Errorf("store is %T", n.Store)
	}
	if _, ok := n.Network.(*libp2pnet.Network); !ok {
		t.Errorf("network is %T", n.Network)
	}
	for name, c := range map[string]any{"clock": clk, "supervision clock": supClk} {
		if _, ok := c.(clock.Real); !ok {
			t.Errorf("%s is %T, want the wall clock", name, c)
		}
	}

	// The identity and the keyring are the disk keystore's: the key file
	// holds the node's DID, and the keyring is of the type the keystore
	// opens (the memory keyring is another), holding the node's account.
	onDisk, err := keystore.Open(cfg.DataDir)
	if err != nil {
		t.Errorf("identity did not come from the disk keystore: %v", err)
	} else if onDisk.DID() != n.Identity.DID() {
		t.Errorf("the node's DID %s is not the key file's %s", n.Identity.DID(), onDisk.DID())
	}
	disk, err := keystore.OpenKeyring(t.TempDir(), n.Identity)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := reflect.TypeOf(keyring), reflect.TypeOf(disk); got != want {
		t.Errorf("keyring is %v, want the disk keystore's %v", got, want)
	}
	if !keyring.Has(n.Identity.DID()) {
		t.Errorf("the keyring lacks the node's account %s", n.Identity.DID())
	}

	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := n.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
	}()
	// The engine the graph gives the executors is the node's, and runs real
	// WebAssembly with metered fuel.
	if engine == nil || engine != n.WASM {
		t.Fatalf("wasm engine %p, the node's %p", engine, n.WASM)
	}
	res, err := engine.Run(t.Context(), wasm.Job{Module: wasmtest.WAT(t, "upper"), Stdin: []byte("no stub")})
	if err != nil || string(res.Stdout) != "NO STUB" || res.FuelUsed == 0 {
		t.Fatalf("upper.wasm on the node's engine: %q, fuel %d, %v", res.Stdout, res.FuelUsed, err)
	}
}

func TestProductionRefusesAStubOverride(t *testing.T) {
	for _, stub := range []Component{MemoryStore, EphemeralIdentity, MockNetwork} {
		_, err := New(testConfig(t, ProfileProduction), Options{Logger: discard(), Overrides: []Component{stub}})
		if !errors.Is(err, ErrStubInProduction) {
			t.Errorf("production with %s=%s: %v", stub.Role, stub.Impl, err)
		}
	}
	// dev may use one (e.g. a memory store for a throwaway node).
	if err := Validate(testConfig(t, ProfileDev), Options{Logger: discard(), Overrides: []Component{MemoryStore}}); err != nil {
		t.Fatalf("dev with a memory store: %v", err)
	}
	if _, err := New(testConfig(t, ProfileDev), Options{Logger: discard(), Overrides: []Component{{Role: "wasm"}}}); err == nil {
		t.Fatal("an override of an unknown role was accepted")
	}
}

// client talks to a running node over its real listeners.
type client struct {
	t          *testing.T
	api, admin string
	apiTok     string
	adminTok   string
}

func newClient(t *testing.T, n *Node) *client {
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(n.Config.DataDir, name))
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	return &client{t: t, api: "http://" + n.Server.Addr("api"), admin: "http://" + n.Server.Addr("admin"),
		apiTok: read(httpapi.APITokenFile), adminTok: read(httpapi.AdminTokenFile)}
}

func (c *client) do(method, url, token, body string) (int, http.Header, []byte, error) {
	req, err := http.NewRequestWithContext(c.t.Context(), method, url, strings.NewReader(body))
	if err != nil {
		return 0, nil, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, b, err
}

func startTestNode(t *testing.T) *Node {
	t.Helper()
	n, err := New(testConfig(t, ProfileTest), Options{Logger: discard(), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return runtest.Start(t, n)
}

var subsystemNames = []string{"dag", "ledger", "peers", "jobs", "executors", "governance"}

// TestKillStormThroughTheAdminAPI kills each subsystem 100 times in each
// mode while status requests flow: the node stays up, every subsystem comes
// back, and the counters match the kills.
func TestKillStormThroughTheAdminAPI(t *testing.T) {
	kills := 100
	if testing.Short() {
		kills = 10
	}
	n := startTestNode(t)
	c := newClient(t, n)

	// Traffic: status requests to every subsystem until the storm is over.
	stop := make(chan struct{})
	traffic := make(chan error, 1)
	var served, refused int
	go func() {
		defer close(traffic)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			name := subsystemNames[i%len(subsystemNames)]
			status, h, body, err := c.do("GET", c.api+"/api/v1/subsystems/"+name, c.apiTok, "")
			if err != nil {
				traffic <- fmt.Errorf("request during the storm: %w", err)
				return
			}
			switch status {
			case 200:
				served++
			case 503:
				var eb httpapi.ErrorBody
				if json.Unmarshal(body, &eb) != nil || eb.Code != httpapi.CodeUnavailable || h.Get("Retry-After") == "" {
					traffic <- fmt.Errorf("a 503 without the unavailable shape: %s %v", body, h)
					return
				}
				refused++
			default:
				traffic <- fmt.Errorf("GET %s during the storm: %d %s", name, status, body)
				return
			}
		}
	}()

	type counts struct{ kills, failures uint64 }
	want := map[string]*counts{}
	errs := make(chan error, len(subsystemNames))
	for _, name := range subsystemNames {
		want[name] = &counts{}
		go func() {
			errs <- func() error {
				path := "/icn/" + name
				for _, mode := range []string{"panic", "stop", "poison"} {
					for range kills {
						before, err := n.Tree.Actor(path)
						if err != nil {
							return err
						}
						// Kill it once it runs; a 409 means it is still coming back.
						for {
							status, _, body, err := c.do("POST", c.admin+"/admin/actors/kill", c.adminTok, fmt.Sprintf(`{"path":%q,"mode":%q}`, path, mode))
							if err != nil {
								return err
							}
							if status == 202 {
								break
							}
							if status != 409 {
								return fmt.Errorf("kill %s %s: %d %s", path, mode, status, body)
							}
							if err := waitUntil(5*time.Second, func() bool {
								a, _ := n.Tree.Actor(path)
								return a.Status == "running"
							}); err != nil {
								return fmt.Errorf("%s never ran again: %w", path, err)
							}
						}
						want[name].kills++
						if mode != "poison" {
							want[name].failures++
						}
						if err := waitUntil(10*time.Second, func() bool {
							a, _ := n.Tree.Actor(path)
							return a.Restarts > before.Restarts
						}); err != nil {
							return fmt.Errorf("%s did not come back after a %s kill: %w", path, mode, err)
						}
					}
				}
				return nil
			}()
		}()
	}
	for range subsystemNames {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(stop)
	for err := range traffic {
		t.Fatal(err)
	}
	if served == 0 {
		t.Fatal("no request was served during the storm")
	}
	t.Logf("during the storm: %d requests served, %d refused with 503", served, refused)

	// Every subsystem comes back to running with a closed breaker.
	if err := waitUntil(10*time.Second, func() bool {
		for _, a := range n.Tree.Snapshot().Children {
			if a.Status != "running" || a.Breaker != "closed" {
				return false
			}
		}
		return true
	}); err != nil {
		t.Fatalf("not every subsystem recovered: %+v", n.Tree.Snapshot())
	}
	for _, name := range subsystemNames {
		a, err := n.Tree.Actor("/icn/" + name)
		if err != nil {
			t.Fatal(err)
		}
		w := want[name]
		if a.Restarts != w.kills || a.Failures != w.failures {
			t.Errorf("%s: restarts %d failures %d, want %d and %d", name, a.Restarts, a.Failures, w.kills, w.failures)
		}
		if got := restartsCounter(t, n, "/icn/"+name); uint64(got) != w.kills {
			t.Errorf("icn_actor_restarts_total{actor=/icn/%s} = %v, want %d", name, got, w.kills)
		}
	}
	status, _, body, err := c.do("GET", c.api+"/health", "", "")
	if err != nil || status != 200 || !strings.Contains(string(body), `"status": "ok"`) {
		t.Fatalf("health after the storm: %d %s %v", status, body, err)
	}
}

func waitUntil(d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return errors.New("timed out")
		}
		time.Sleep(time.Millisecond)
	}
	return nil
}

// restartsCounter reads icn_actor_restarts_total for one actor from the
// node's registry.
func restartsCounter(t *testing.T, n *Node, actor string) float64 {
	t.Helper()
	mfs, err := n.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "icn_actor_restarts_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "actor" && l.GetValue() == actor {
					return m.GetCounter().GetValue()
				}
			}
		}
	}
	return 0
}
