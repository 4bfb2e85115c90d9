package main

import (
	"encoding/binary"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/httpapi"
	"github.com/intercooperative-network/icn-go/services/wasm/fuel"
	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
)

// TestIcnctlJobsAgainstADaemon drives every icnctl job command against a
// real icnd (one node, which bids on its own jobs): submit a .wasm file
// with --wait, get, list, output, and cancel of a long job.
func TestIcnctlJobsAgainstADaemon(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bins := build(t)
	dataDir := filepath.Join(t.TempDir(), "data")
	d := startDaemon(t, bins.icnd, dataDir)
	c := newAPI(t, d.waitReady(t, dataDir, 30*time.Second), dataDir)
	dir := t.TempDir()
	file := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	module := file("upper.wasm", wasmtest.WAT(t, "upper"))
	input := file("in.txt", []byte("hello, cooperative"))
	jsonOut := func(v any, args ...string) {
		t.Helper()
		if err := json.Unmarshal(icnctl(t, bins.icnctl, dataDir, append(args, "-o", "json")...), v); err != nil {
			t.Fatalf("icnctl %s -o json: %v", strings.Join(args, " "), err)
		}
	}

	// submit --wait prints the states and exits 0 once completed.
	states := strings.Fields(string(icnctl(t, bins.icnctl, dataDir, "job", "submit", module, "--input", input, "--wait")))
	if !slices.Contains(states, messages.JobCompleted) {
		t.Fatalf("submit --wait printed %q, want it to reach completed", states)
	}
	var l httpapi.JobList
	jsonOut(&l, "job", "list")
	if len(l.Jobs) != 1 {
		t.Fatalf("job list: %+v", l)
	}
	id := l.Jobs[0].JobID
	var j httpapi.Job
	jsonOut(&j, "job", "get", id)
	if j.State != messages.JobCompleted || j.Receipt == nil || j.Executor == "" || j.Receipt.CostTableVersion != fuel.CostTableVersion ||
		len(j.Bids) == 0 || j.Bids[0].Executor != j.Executor {
		t.Fatalf("job get: %+v", j)
	}
	if out := string(icnctl(t, bins.icnctl, dataDir, "job", "output", id)); out != "HELLO, COOPERATIVE" {
		t.Fatalf("job output %q", out)
	}
	if got := string(icnctl(t, bins.icnctl, dataDir, "job", "get", id)); !strings.Contains(got, messages.JobCompleted) {
		t.Fatalf("job get (text) does not say completed:\n%s", got)
	}

	// A long job, cancelled while it runs: the escrow comes back. (Its
	// worst case, price 10 + 400 × 10^9 fuel at 1 mana per 10^9, fits
	// --max-mana, or the node would not bid.)
	var info httpapi.NodeInfo
	c.must(200, "GET", "/api/v1/node", nil, &info)
	before := c.account(info.DID)
	loop := file("loop.wasm", wasmtest.WAT(t, "loop"))
	n := file("n", binary.LittleEndian.AppendUint64(nil, 20_000_000_000)) // far longer than the test
	long := strings.TrimSpace(string(icnctl(t, bins.icnctl, dataDir, "job", "submit", loop, "--input", n,
		"--fuel", "400000000000", "--max-mana", "500", "--timeout-ms", "120000")))
	c.waitJob(long, 20*time.Second, func(j httpapi.Job) bool { return j.State == messages.JobRunning })
	if got := string(icnctl(t, bins.icnctl, dataDir, "job", "cancel", long)); !strings.Contains(got, "cancelled "+long) {
		t.Fatalf("job cancel printed %q", got)
	}
	cancelled := c.waitJob(long, 20*time.Second, jobFinished)
	if cancelled.State != messages.JobCancelled {
		t.Fatalf("cancelled job: %s %s", cancelled.State, cancelled.Reason)
	}
	if after := c.account(info.DID); after.Reserved != 0 || after.Available < before.Available {
		t.Fatalf("account after the cancel %+v, before it %+v", after, before)
	}
}
