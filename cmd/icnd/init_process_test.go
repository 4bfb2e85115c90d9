package main

import (
	"bufio"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/intercooperative-network/icn-go/services/httpapi"
	"github.com/intercooperative-network/icn-go/services/identity/keystore"
)

// icnd runs a short icnd command (not run) and returns its stdout.
func icnd(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Env = cleanEnv()
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("icnd %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr)
	}
	return string(out)
}

// initReport reads the "name   value" lines icnd init prints.
func initReport(t *testing.T, out string) map[string]string {
	t.Helper()
	report := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		line := sc.Text()
		for _, key := range []string{"DID", "peer ID", "key", "tokens"} {
			if v, ok := strings.CutPrefix(line, key+" "); ok {
				report[key] = strings.TrimSpace(v)
			}
		}
	}
	if report["DID"] == "" || report["peer ID"] == "" {
		t.Fatalf("icnd init printed no DID or peer ID:\n%s", out)
	}
	return report
}

// TestInitCreatesTheIdentityRunUses: icnd init creates the key and the
// tokens (0600) and prints the DID and peer ID that icnd run then reports;
// a second init keeps them.
func TestInitCreatesTheIdentityRunUses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bins := build(t)
	dataDir := filepath.Join(t.TempDir(), "data")

	first := initReport(t, icnd(t, bins.icnd, "init", "--data-dir", dataDir))
	if !strings.HasPrefix(first["DID"], "did:key:z6Mk") || !strings.HasPrefix(first["peer ID"], "12D3KooW") {
		t.Fatalf("init: %v", first)
	}
	if first["key"] != keystore.Path(dataDir) {
		t.Errorf("init says the key is at %q, want %q", first["key"], keystore.Path(dataDir))
	}
	for _, f := range []string{keystore.Path(dataDir), filepath.Join(dataDir, httpapi.APITokenFile), filepath.Join(dataDir, httpapi.AdminTokenFile)} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatalf("init did not create %s: %v", f, err)
		}
		if perm := fi.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %o, want 600", f, perm)
		}
	}
	if again := initReport(t, icnd(t, bins.icnd, "init", "--data-dir", dataDir)); again["DID"] != first["DID"] || again["peer ID"] != first["peer ID"] {
		t.Fatalf("a second init changed the identity: %v -> %v", first, again)
	}

	began := time.Now()
	d := startDaemon(t, bins.icnd, dataDir)
	addr := d.waitReady(t, dataDir, 30*time.Second)
	var node httpapi.NodeInfo
	newAPI(t, addr, dataDir).must(http.StatusOK, http.MethodGet, "/api/v1/node", nil, &node)
	if node.DID != first["DID"] || node.PeerID != first["peer ID"] {
		t.Errorf("icnd run reports %s / %s, init printed %s / %s", node.DID, node.PeerID, first["DID"], first["peer ID"])
	}
	if node.StartedAt.Before(began.Add(-time.Second)) || node.StartedAt.After(time.Now()) {
		t.Errorf("started_at %s, want between %s and now", node.StartedAt, began)
	}

	// The daemon's own /metrics carries the Go and process collectors.
	res, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("/metrics: %d %v", res.StatusCode, err)
	}
	for _, series := range []string{"\ngo_goroutines ", "\nprocess_start_time_seconds ", "\nicn_deadletters_total "} {
		if !strings.Contains(string(body), series) {
			t.Errorf("/metrics lacks %q", strings.TrimSpace(series))
		}
	}
	d.signal(t, syscall.SIGTERM, 10*time.Second)
}

func TestVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bins := build(t)
	out := icnd(t, bins.icnd, "version")
	want := "icnd proc-test (" + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH + ")\n"
	if out != want {
		t.Fatalf("icnd version printed %q, want %q", out, want)
	}
}
