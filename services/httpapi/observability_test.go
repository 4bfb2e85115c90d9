package httpapi

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/services/metrics"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// TestMetricsOverTheWireHaveGoAndProcessSeries serves the node's registry
// (services/metrics) from a listening server, as the daemon does.
func TestMetricsOverTheWireHaveGoAndProcessSeries(t *testing.T) {
	f := newFixture(t)
	reg := metrics.NewRegistry("test")
	srv, err := New(Config{APIAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0", DataDir: t.TempDir(), Version: "test"}, Deps{
		Tree: f.tree, Node: func() NodeInfo { return NodeInfo{} },
		// The fixture's tree registered its metrics on the fixture's registry.
		Gatherer: prometheus.Gatherers{reg, f.reg}, Registerer: reg,
		Logger: slog.New(slog.DiscardHandler), APIToken: []byte(apiToken), AdminToken: []byte(adminToken),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })

	res, err := http.Get("http://" + srv.Addr("api") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %v", res.StatusCode, err)
	}
	for _, series := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_start_time_seconds",
		"process_resident_memory_bytes", "icn_build_info", "icn_actor_restarts_total"} {
		if !strings.Contains(string(body), "\n"+series) {
			t.Errorf("/metrics lacks %s", series)
		}
	}
}

// TestAKillNamesItsRequestInTheEventsItCauses: the correlation id of an
// admin kill reaches the supervision events (and so the log lines) it causes.
func TestAKillNamesItsRequestInTheEventsItCauses(t *testing.T) {
	f := newFixture(t)
	events, _ := f.tree.Watch(t.Context(), 256)
	rec := f.do(t, f.srv.Admin(), call{method: "POST", path: "/admin/actors/kill", token: adminToken,
		body: `{"path":"/icn/governance","mode":"panic"}`, contentType: "application/json",
		header: map[string]string{RequestIDHeader: "kill-77"}})
	if rec.Code != http.StatusAccepted {
		t.Fatalf("kill: %d %s", rec.Code, rec.Body)
	}
	seen := map[supervisors.EventType]string{} // event -> its request id
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev := <-events:
			if ev.Path == "/icn/governance" {
				seen[ev.Type] = ev.RequestID
			}
		case <-timeout:
			t.Fatalf("governance did not restart; events seen: %v", seen)
		}
		if _, ok := seen[supervisors.EventRestarted]; ok {
			break
		}
	}
	for _, typ := range []supervisors.EventType{supervisors.EventKilled, supervisors.EventFailed, supervisors.EventRestarted} {
		if got := seen[typ]; got != "kill-77" {
			t.Errorf("%s event: request id %q, want kill-77", typ, got)
		}
	}
}
