// Package deploy_test checks the deployment files against a real node: the
// Prometheus configuration and alert rules pass promtool, and every metric
// they name is exported by a running node.
package deploy_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/intercooperative-network/icn-go/wiring"
)

func promtool(t *testing.T, stdin []byte, args ...string) string {
	t.Helper()
	if _, err := exec.LookPath("promtool"); err != nil {
		t.Fatal("promtool is not installed: run `make test-deps` (Debian package prometheus)")
	}
	cmd := exec.Command("promtool", args...)
	cmd.Stdin = bytes.NewReader(stdin)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestPrometheusFiles(t *testing.T) {
	promtool(t, nil, "check", "config", "prometheus/prometheus.yml")
	promtool(t, nil, "check", "rules", "prometheus/alerts.yml")
	promtool(t, nil, "test", "rules", "prometheus/alerts_test.yml")
}

// scrape starts a test-profile node and returns its /metrics text.
func scrape(t *testing.T) []byte {
	t.Helper()
	cfg, err := wiring.Default(wiring.ProfileTest)
	if err != nil {
		t.Fatal(err)
	}
	cfg.DataDir = t.TempDir()
	n, err := wiring.New(cfg, wiring.Options{Version: "test", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := n.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	}()
	// One request so the HTTP metrics have a series.
	res, err := http.Get("http://" + n.Server.Addr("api") + "/health")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	res, err = http.Get("http://" + n.Server.Addr("api") + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("metrics: %d %v", res.StatusCode, err)
	}
	return body
}

func TestNodeMetricsPassPromtoolAndFeedTheAlerts(t *testing.T) {
	body := scrape(t)
	// promtool check metrics lints names, units and help text.
	if out := promtool(t, body, "check", "metrics"); strings.TrimSpace(out) != "" {
		t.Errorf("promtool check metrics:\n%s", out)
	}
	rules, err := os.ReadFile("prometheus/alerts.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range regexp.MustCompile(`\bicn_[a-z_]+`).FindAllString(string(rules), -1) {
		if !regexp.MustCompile(`(?m)^` + name + `[{ ]`).Match(body) {
			t.Errorf("alerts.yml uses %s, which the node does not export", name)
		}
	}
}
