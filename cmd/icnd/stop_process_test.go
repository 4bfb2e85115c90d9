package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/intercooperative-network/icn-go/services/httpapi"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// logLine is the part of a JSON log record the stop order is read from.
type logLine struct {
	Level     string `json:"level"`
	Msg       string `json:"msg"`
	Component string `json:"component"`
	Actor     string `json:"actor"`
	Event     string `json:"event"`
	Reason    string `json:"reason"`
}

// logLines parses JSON log output, one record a line.
func logLines(t *testing.T, out []byte) []logLine {
	t.Helper()
	var lines []logLine
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var l logLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("a log line that is not JSON: %v\n%s", err, sc.Bytes())
		}
		lines = append(lines, l)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// shutdownOrder is the order in which a supervisor stops the tree under
// root: its children one by one in reverse spec order, each (with its whole
// subtree) gone before the next begins. A stopped line is logged once the
// child has stopped, so a supervisor's line follows those of its children.
func shutdownOrder(root supervisors.Node) []string {
	var paths []string
	for _, ch := range slices.Backward(root.Children) {
		paths = append(paths, shutdownOrder(ch)...)
		paths = append(paths, ch.Path)
	}
	return paths
}

// TestSIGTERMStopsTheTreeInOrderAndClosesTheStoreLast runs icnd at info
// level with JSON logs, reads its live tree, sends SIGTERM, and checks the
// shutdown in its log: one stopped line per actor in the order the tree
// prescribes, all of them before the tree reports stopped and the process
// its end; then that the store was closed cleanly (nothing for badger to
// replay) and reopens at once.
func TestSIGTERMStopsTheTreeInOrderAndClosesTheStoreLast(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bins := build(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	d := startDaemon(t, bins.icnd, dataDir, "--log-level", "info", "--log-format", "json")
	d.waitReady(t, dataDir, 30*time.Second)

	adminAddr, err := os.ReadFile(httpapi.AddrFile(dataDir, "admin"))
	if err != nil {
		t.Fatal(err)
	}
	adminToken, err := os.ReadFile(filepath.Join(dataDir, httpapi.AdminTokenFile))
	if err != nil {
		t.Fatal(err)
	}
	admin := api{t, strings.TrimSpace(string(adminAddr)), "Bearer " + strings.TrimSpace(string(adminToken))}
	var tree supervisors.Node
	admin.must(200, "GET", "/admin/actors", nil, &tree)
	want := shutdownOrder(tree)
	if !slices.Contains(want, "/icn/executors/worker-1") || !slices.Contains(want, "/icn/dag") {
		t.Fatalf("the live tree lacks the workers or the dag: %v", want)
	}

	d.signal(t, syscall.SIGTERM, 10*time.Second)
	lines := logLines(t, d.stderr.Bytes())
	var (
		got                   []string
		stopping, treeStopped = -1, -1
	)
	for i, l := range lines {
		switch {
		case l.Msg == "stopping" && l.Component == "":
			stopping = i
		case l.Msg == "supervision" && l.Event == string(supervisors.EventStopped):
			if stopping < 0 || treeStopped >= 0 {
				t.Errorf("a stopped line outside the shutdown: %+v", l)
			}
			if l.Level != "INFO" || l.Reason != "shutdown" {
				t.Errorf("stopped line: %+v, want level INFO, reason shutdown", l)
			}
			got = append(got, l.Actor)
		case l.Msg == "supervision tree stopped":
			treeStopped = i
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("stopped lines in the order\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	// icnd logs its last line once the node's stop hooks have all run, the
	// store's (the last) included.
	if treeStopped < 0 || len(lines) == 0 || lines[len(lines)-1].Msg != "stopped" || lines[len(lines)-1].Component != "" {
		t.Fatalf("the tree's stop and the process's end are not logged last:\n%s", d.stderr)
	}
	for _, l := range lines {
		if l.Level == "WARN" || l.Level == "ERROR" {
			t.Errorf("%s line in a clean start and stop: %+v", l.Level, l)
		}
	}

	// Closed, badger leaves neither its directory lock nor a memtable to
	// replay.
	storeDir := filepath.Join(dataDir, "store")
	if _, err := os.Stat(filepath.Join(storeDir, "LOCK")); !os.IsNotExist(err) {
		t.Errorf("the store's LOCK is left after a clean stop: %v", err)
	}
	if mem, err := filepath.Glob(filepath.Join(storeDir, "*.mem")); err != nil || len(mem) != 0 {
		t.Errorf("memtables left to replay after a clean stop: %v %v", mem, err)
	}

	// The same data dir opens at once and without complaint.
	began := time.Now()
	d2 := startDaemon(t, bins.icnd, dataDir, "--log-level", "info", "--log-format", "json")
	d2.waitReady(t, dataDir, 10*time.Second)
	took := time.Since(began)
	d2.signal(t, syscall.SIGTERM, 10*time.Second)
	for _, l := range logLines(t, d2.stderr.Bytes()) {
		if l.Level == "WARN" || l.Level == "ERROR" {
			t.Errorf("%s line on a restart after a clean stop: %+v", l.Level, l)
		}
	}
	t.Logf("restart to ready: %s", took)
}
