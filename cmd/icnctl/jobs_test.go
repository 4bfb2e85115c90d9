package main

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/intercooperative-network/icn-go/services/httpapi"
)

const (
	jobID     = "bafyreiaqecrjmsnn5e6c6opx6s4dzebmylr3gooz5e6db5l4ed7lp7on5i"
	cidModule = "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku"
	cidOutput = "bafkreiabcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrst"
)

// cannedJob is a job in state, with the history up to it.
func cannedJob(states ...string) httpapi.Job {
	j := httpapi.Job{JobID: jobID, Spec: httpapi.JobSpec{Module: cidModule, MaxMana: 100, BidWindowMS: 50, Verify: 1}}
	for _, s := range states {
		j.History = append(j.History, httpapi.JobTransition{State: s, Time: "2026-11-27T13:30:00.125Z"})
		j.State = s
	}
	switch j.State {
	case "completed", "failed", "cancelled":
		j.Settled = true
	}
	if len(states) > 4 {
		j.Executor, j.Price = didNode, 10
	}
	if j.State == "completed" {
		j.Receipt = &httpapi.JobReceipt{CID: cidHead, Executor: didNode, Module: cidModule, Input: cidPrev, Output: cidOutput,
			WallMS: 3, CPUMicros: 2400, FuelUsed: 1200, PeakMemoryBytes: 65536, Stderr: []byte("one\ntwo\n"), Time: "2026-11-27T13:30:00.125Z"}
		j.Bids = []httpapi.JobBid{{Executor: didNode, Price: 10, FuelPrice: 1, Time: "2026-11-27T13:30:00.100Z"}}
	}
	return j
}

var lifecycle = []string{"submitted", "escrowed", "announced", "bidding", "assigned", "running", "completed"}

func TestJobSubmitAndWait(t *testing.T) {
	n := newNode(t, false)
	// The node answers escrowed at submit; the polls then see running, then
	// completed.
	var polls atomic.Int32
	n.api.mux.HandleFunc("POST /api/v1/jobs", reply(http.StatusAccepted, cannedJob(lifecycle[:2]...)))
	n.api.mux.HandleFunc("GET /api/v1/jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		if polls.Add(1) == 1 {
			reply(http.StatusOK, cannedJob(lifecycle[:6]...))(w, r)
			return
		}
		reply(http.StatusOK, cannedJob(lifecycle...))(w, r)
	})
	module := filepath.Join(t.TempDir(), "m.wasm")
	writeFile(t, module, "\x00asm\x01\x00\x00\x00")
	input := filepath.Join(t.TempDir(), "in")
	writeFile(t, input, "hello")

	r := runCmd(t, n.flags("job", "submit", module, "--input", input, "--max-mana", "20", "--env", "K=V", "--arg", "x", "--timeout-ms", "500",
		"--verify", "2", "--min-reputation", "60", "--bid-window-ms", "250")...)
	if r.code != exitOK || r.stdout != jobID+"\n" || r.stderr != "" {
		t.Fatalf("submit: %+v", r)
	}
	reqs := n.api.requests()
	var sent httpapi.JobRequest
	if err := json.Unmarshal([]byte(reqs[len(reqs)-1].body), &sent); err != nil {
		t.Fatal(err)
	}
	if string(sent.ModuleWASM) != "\x00asm\x01\x00\x00\x00" || string(sent.Input) != "hello" || sent.MaxMana != 20 ||
		sent.Env["K"] != "V" || len(sent.Args) != 1 || sent.Limits.TimeoutMS != 500 || sent.Module != "" ||
		sent.Verify != 2 || sent.MinReputation != 60 || sent.BidWindowMS != 250 {
		t.Fatalf("sent %+v", sent)
	}

	a := testApp(nil)
	a.stdin = strings.NewReader("from stdin")
	r = runApp(t, a, n.flags("job", "submit", cidModule, "--input", "-", "--wait", "--poll", "1ms")...)
	want := jobID + "\n"
	for _, s := range lifecycle {
		want += "2026-11-27T13:30:00Z  " + s + "\n"
	}
	if r.code != exitOK || r.stdout != want || r.stderr != "" {
		t.Fatalf("submit --wait: exit %d\nstdout %q\n  want %q\nstderr %q", r.code, r.stdout, want, r.stderr)
	}
	reqs = n.api.requests() // POST, the stream (a 404 here), then two polls
	sent = httpapi.JobRequest{}
	if err := json.Unmarshal([]byte(reqs[len(reqs)-4].body), &sent); err != nil {
		t.Fatal(err)
	}
	if sent.Module != cidModule || sent.ModuleWASM != nil || string(sent.Input) != "from stdin" {
		t.Fatalf("sent %+v", sent)
	}
}

func TestJobSubmitRefusals(t *testing.T) {
	n := newNode(t, false)
	n.api.mux.HandleFunc("POST /api/v1/jobs", ledgerRefusal(http.StatusConflict, httpapi.CodeInsufficientMana,
		"insufficient mana: "+didNode+" has 50 available, needs 100", nil))
	module := filepath.Join(t.TempDir(), "m.wasm")
	writeFile(t, module, "\x00asm")
	r := runCmd(t, n.flags("job", "submit", module)...)
	if r.code != exitError || !strings.Contains(r.stderr, "(insufficient_mana)") || !strings.Contains(r.stderr, "lower --max-mana") {
		t.Fatalf("insufficient mana: %+v", r)
	}
	before := len(n.api.requests())
	for _, args := range [][]string{
		{"job", "submit", "no-such-file-nor-cid"},
		{"job", "submit", module, "--input", "x", "--input-cid", cidOutput},
		{"job", "submit", module, "--env", "NOEQUALS"},
		{"job", "submit", module, "--verify", "3"},
		{"job", "submit", module, "--min-reputation", "101"},
		{"job", "list", "--limit", "5000"},
	} {
		if r := runCmd(t, n.flags(args...)...); r.code != exitUsage {
			t.Errorf("%v: exit %d, want usage: %s", args, r.code, r.stderr)
		}
	}
	if len(n.api.requests()) != before {
		t.Fatalf("a refused command sent a request")
	}
}

func TestJobWaitFailed(t *testing.T) {
	n := newNode(t, false)
	failed := cannedJob("submitted", "escrowed", "announced", "bidding", "assigned", "running", "failed")
	failed.Reason = "timeout: the job ran for more than 500ms"
	n.api.mux.HandleFunc("POST /api/v1/jobs", reply(http.StatusAccepted, cannedJob("submitted", "escrowed")))
	n.api.mux.HandleFunc("GET /api/v1/jobs/{id}", reply(http.StatusOK, failed))
	r := runCmd(t, n.flags("job", "submit", cidModule, "--wait", "--poll", "1ms")...)
	if r.code != exitError || !strings.Contains(r.stdout, "  failed\n") ||
		r.stderr != "icnctl: job "+jobID+" failed: timeout: the job ran for more than 500ms\n" {
		t.Fatalf("%+v", r)
	}
}

func TestJobReads(t *testing.T) {
	n := newNode(t, false)
	mux := n.api.mux
	done := cannedJob(lifecycle...)
	mux.HandleFunc("GET /api/v1/jobs/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != jobID {
			failure(http.StatusNotFound, httpapi.CodeUnknownJob, "jobs: unknown job: "+r.PathValue("id"), "")(w, r)
			return
		}
		reply(http.StatusOK, done)(w, r)
	})
	mux.HandleFunc("GET /api/v1/jobs", reply(http.StatusOK, httpapi.JobList{Jobs: []httpapi.Job{done}, Next: jobID}))
	mux.HandleFunc("GET /api/v1/jobs/{id}/output", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/octet-stream")
		_, _ = w.Write([]byte("HELLO"))
	})
	mux.HandleFunc("POST /api/v1/jobs/{id}/cancel", failure(http.StatusConflict, httpapi.CodeJobFinished, "jobs: job already finished: "+jobID+" is completed", ""))

	r := runCmd(t, n.flags("job", "get", jobID)...)
	for _, want := range []string{"Job        " + jobID, "State      completed", "Executor   " + didNode, "Escrow     released",
		"Output     " + cidOutput, "Run        3 ms, 2.4 ms CPU, 1200 fuel, 64.0 KiB peak memory", "Bids",
		"  2026-11-27T13:30:00Z  " + didNode + "  price 10 + 1 per 10^9 fuel", "Log        one", "           two", "History    2026-11-27T13:30:00Z  submitted",
		"           2026-11-27T13:30:00Z  completed"} {
		if !strings.Contains(r.stdout, want+"\n") {
			t.Errorf("get: no line %q in\n%s", want, r.stdout)
		}
	}
	r = runCmd(t, n.flags("job", "get", "nope")...)
	if r.code != exitError || r.stderr != "icnctl: jobs: unknown job: nope (unknown_job)\n  icnctl job list lists the jobs this node knows.\n" {
		t.Fatalf("get unknown: %+v", r)
	}
	r = runCmd(t, n.flags("job", "list", "--state", "completed", "--limit", "1")...)
	if r.code != exitOK || !strings.HasPrefix(r.stdout, "JOB") || !strings.Contains(r.stdout, jobID+"  completed") ||
		!strings.HasSuffix(r.stdout, "more: icnctl job list --after "+jobID+"\n") {
		t.Fatalf("list: %+v", r)
	}
	if reqs := n.api.requests(); reqs[len(reqs)-1].uri != "/api/v1/jobs?limit=1&state=completed" {
		t.Fatalf("list asked %s", reqs[len(reqs)-1].uri)
	}
	r = runCmd(t, n.flags("job", "output", jobID)...)
	if r.code != exitOK || r.stdout != "HELLO" {
		t.Fatalf("output: %+v", r)
	}
	r = runCmd(t, n.flags("job", "cancel", jobID)...)
	if r.code != exitError || !strings.Contains(r.stderr, "(job_finished)") {
		t.Fatalf("cancel: %+v", r)
	}
	r = runCmd(t, n.flags("-o", "json", "job", "get", jobID)...)
	var got httpapi.Job
	if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.JobID != jobID || got.State != "completed" {
		t.Fatalf("-o json: %v %+v", err, r)
	}
}

// stateFrames are the event stream frames of states, the last with reason.
func stateFrames(t *testing.T, reason string, states ...string) []string {
	t.Helper()
	var out []string
	for i, s := range states {
		ev := httpapi.JobEvent{State: s, Time: "2026-11-27T13:30:00.125Z"}
		if i == len(states)-1 {
			ev.Reason = reason
		}
		b, err := json.Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, "event: state\ndata: "+string(b)+"\n\n")
	}
	return out
}

func TestJobWatch(t *testing.T) {
	n := newNode(t, false)
	want := ""
	for _, s := range lifecycle {
		want += "2026-11-27T13:30:00Z  " + s + "\n"
	}
	// The first stream drops after three states (and a comment), the
	// second replays them and goes on: each state is printed once.
	var opened atomic.Int32
	n.api.mux.HandleFunc("GET /api/v1/jobs/{id}/events", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != jobID {
			failure(http.StatusNotFound, httpapi.CodeUnknownJob, "jobs: unknown job: "+r.PathValue("id"), "")(w, r)
			return
		}
		if opened.Add(1) == 1 {
			n.api.sse(true, append([]string{": icn job\n\n"}, stateFrames(t, "", lifecycle[:3]...)...)...)(w, r)
			return
		}
		n.api.sse(true, stateFrames(t, "", lifecycle...)...)(w, r)
	})
	r := runCmd(t, n.flags("job", "watch", jobID)...)
	if r.code != exitOK || r.stdout != want || r.stderr != "" || opened.Load() != 2 {
		t.Fatalf("watch: exit %d, %d streams\nstdout %q\n  want %q\nstderr %q", r.code, opened.Load(), r.stdout, want, r.stderr)
	}
	r = runCmd(t, n.flags("job", "watch", "nope")...)
	if r.code != exitError || !strings.Contains(r.stderr, "(unknown_job)") {
		t.Fatalf("watch unknown: %+v", r)
	}

	// submit --wait follows the stream too; a failed job exits 1 with its
	// reason.
	n.api.mux.HandleFunc("POST /api/v1/jobs", reply(http.StatusAccepted, cannedJob(lifecycle[:2]...)))
	failed := append(append([]string{}, lifecycle[:6]...), "failed")
	opened.Store(1)
	n.api.mux.HandleFunc("GET /api/v1/jobs/"+jobID+"/events", n.api.sse(true, stateFrames(t, "fuel: the job used its 1000 fuel", failed...)...))
	r = runCmd(t, n.flags("job", "submit", cidModule, "--wait")...)
	if r.code != exitError || !strings.HasSuffix(r.stdout, "  running\n2026-11-27T13:30:00Z  failed\n") ||
		r.stderr != "icnctl: job "+jobID+" failed: fuel: the job used its 1000 fuel\n" {
		t.Fatalf("submit --wait, failed: %+v", r)
	}
	for _, req := range n.api.requests() {
		if req.uri == jobsPath+"/"+jobID {
			t.Fatalf("submit --wait polled although the node streams: %s", req.uri)
		}
	}
}
