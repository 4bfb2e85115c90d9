package executors

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/clock/clocktest"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/wasm"
	"github.com/intercooperative-network/icn-go/services/wasm/fuel"
	"github.com/intercooperative-network/icn-go/supervisors"
)

func TestAJobRunsAndItsReceiptVerifies(t *testing.T) {
	n := startNode(t, 2)
	mod := n.module(t, "stdin")
	input := []byte("hello, world")
	r, err := n.run(&messages.RunJob{JobID: "job-1", Module: mod, Input: input})
	if err != nil {
		t.Fatal(err)
	}
	in, _ := block.NewRaw(input)
	if r.JobID != "job-1" || r.Executor != string(n.id.DID()) || !r.Module.Equals(mod) || !r.Input.Equals(in.CID()) ||
		r.ExitCode != 0 || r.FuelUsed == 0 || r.CostTableVersion != fuel.CostTableVersion || r.PeakMemoryBytes == 0 ||
		!r.CID.Defined() || len(r.Sig) == 0 {
		t.Fatalf("receipt: %+v", r)
	}
	if out := n.block(t, r.Output).Data(); string(out) != "000000000000000c\n" {
		t.Fatalf("output %q", out)
	}
	if got := n.block(t, r.Input).Data(); !bytes.Equal(got, input) {
		t.Fatalf("stored input %q", got)
	}
	rb := n.block(t, r.CID)
	if err := VerifyReceipt(rb); err != nil {
		t.Fatal(err)
	}
	d, err := DecodeReceipt(rb)
	if err != nil || !d.Output.Equals(r.Output) || d.FuelUsed != r.FuelUsed || d.CostTableVersion != r.CostTableVersion || !d.Time.Equal(r.Time) {
		t.Fatalf("decoded %+v, %v; answered %+v", d, err, r)
	}

	// The same input by CID: the same output, and the same fuel (metering
	// is deterministic).
	r2, err := n.run(&messages.RunJob{JobID: "job-2", Module: mod, InputCID: n.put(t, input)})
	if err != nil || !r2.Output.Equals(r.Output) || !r2.Input.Equals(r.Input) || r2.FuelUsed != r.FuelUsed {
		t.Fatalf("by CID: %+v, %v", r2, err)
	}

	// A non-zero exit is a receipt: the job manager decides.
	r3, err := n.run(&messages.RunJob{JobID: "job-3", Module: n.module(t, "exit")})
	if err != nil || r3.ExitCode != 3 || string(n.block(t, r3.Output).Data()) != "0000000000001234\n" {
		t.Fatalf("exit 3: %+v, %v", r3, err)
	}
	if err := VerifyReceipt(n.block(t, r3.CID)); err != nil {
		t.Fatal(err)
	}
	if ok, ec := testutil.ToFloat64(n.metrics.jobs.WithLabelValues(resultOK)), testutil.ToFloat64(n.metrics.jobs.WithLabelValues(resultExitCode)); ok != 2 || ec != 1 {
		t.Fatalf("jobs ok %v, exit_code %v", ok, ec)
	}

	// Nothing in, nothing out: the input and output are the same empty block.
	r4, err := n.run(&messages.RunJob{JobID: "job-4", Module: n.module(t, "startexit")})
	if err != nil || !r4.Input.Equals(r4.Output) || len(n.block(t, r4.Output).Data()) != 0 {
		t.Fatalf("empty job: %+v, %v", r4, err)
	}
	var h dto.Metric
	if err := n.metrics.runs.Write(&h); err != nil || h.GetHistogram().GetSampleCount() != 4 {
		t.Fatalf("icn_wasm_run_duration_seconds: %v, %v", h.GetHistogram(), err)
	}
	if st := n.status(t, Name); st.Details["busy"] != "0" || st.Details["free"] != "2" {
		t.Fatalf("pool status %+v", st)
	}
}

// icn_wasm_compile_duration_seconds counts compilations, not runs: the
// same module run twice compiles once, another module once more.
func TestCompileDurationIsObservedOncePerCompilation(t *testing.T) {
	n := startNode(t, 2)
	compiles := func() uint64 {
		t.Helper()
		if c := testutil.CollectAndCount(n.metrics.compiles, "icn_wasm_compile_duration_seconds"); c != 1 {
			t.Fatalf("%d series", c)
		}
		var h dto.Metric
		if err := n.metrics.compiles.Write(&h); err != nil {
			t.Fatal(err)
		}
		return h.GetHistogram().GetSampleCount()
	}
	if got := compiles(); got != 0 {
		t.Fatalf("%d observations before any run", got)
	}
	// The lint promtool check metrics runs: name, unit, help.
	if problems, err := testutil.CollectAndLint(n.metrics.compiles); err != nil || len(problems) > 0 {
		t.Fatalf("lint: %v %v", problems, err)
	}
	mod := n.module(t, "stdin")
	for i, id := range []string{"first", "second"} {
		if _, err := n.run(&messages.RunJob{JobID: id, Module: mod, Input: []byte(id)}); err != nil {
			t.Fatal(err)
		}
		if got := compiles(); got != 1 {
			t.Fatalf("after run %d of one module: %d observations, want 1", i+1, got)
		}
	}
	if _, err := n.run(&messages.RunJob{JobID: "other", Module: n.module(t, "upper"), Input: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	if got := compiles(); got != 2 {
		t.Fatalf("after another module: %d observations, want 2", got)
	}
	var h dto.Metric
	if err := n.metrics.compiles.Write(&h); err != nil || h.GetHistogram().GetSampleSum() <= 0 {
		t.Fatalf("sum of the compile times: %v, %v", h.GetHistogram().GetSampleSum(), err)
	}
	// Runs stay counted per run.
	if err := n.metrics.runs.Write(&h); err != nil || h.GetHistogram().GetSampleCount() != 3 {
		t.Fatalf("icn_wasm_run_duration_seconds: %v, %v", h.GetHistogram(), err)
	}
}

func TestTheOutputIsStdoutAndTheReceiptKeepsTheLogsTail(t *testing.T) {
	n := startNode(t, 1)
	input := bytes.Repeat([]byte("abc-xyz "), 1280) // 10 KiB, 3 reads
	r, err := n.run(&messages.RunJob{JobID: "upper", Module: n.module(t, "upper"), Input: input,
		Args: []string{"-v"}, Env: map[string]string{"LANG": "C"}})
	if err != nil {
		t.Fatal(err)
	}
	if out := n.block(t, r.Output).Data(); !bytes.Equal(out, bytes.ToUpper(input)) {
		t.Fatalf("output of %d bytes: %.40q...", len(out), out)
	}
	if !bytes.Equal(r.Stderr, input[len(input)-messages.MaxReceiptStderr:]) {
		t.Fatalf("stderr tail of %d bytes", len(r.Stderr))
	}
	if err := VerifyReceipt(n.block(t, r.CID)); err != nil {
		t.Fatal(err)
	}
}

func TestFailuresHaveTheirReasons(t *testing.T) {
	n := startNode(t, 2)
	missing, _ := block.NewRaw([]byte("a module nobody has"))
	for _, tc := range []struct {
		name   string
		job    messages.RunJob
		reason string
	}{
		{"timeout", messages.RunJob{Module: n.module(t, "infinite"), Limits: messages.JobLimits{TimeoutMS: 50, Fuel: fuel.MaxFuel}}, messages.ReasonTimeout},
		{"fuel", messages.RunJob{Module: n.module(t, "infinite"), Limits: messages.JobLimits{Fuel: 1_000_000}}, messages.ReasonFuel},
		{"memory", messages.RunJob{Module: n.module(t, "grow"), Limits: messages.JobLimits{MemoryMB: 1}}, messages.ReasonMemory},
		{"invalid module", messages.RunJob{Module: n.put(t, []byte("not wasm at all"))}, messages.ReasonInvalidModule},
		{"missing module", messages.RunJob{Module: missing.CID()}, messages.ReasonInvalidModule},
		{"forbidden import", messages.RunJob{Module: n.module(t, "forbidden")}, messages.ReasonForbiddenImport},
		{"output too large", messages.RunJob{Module: n.module(t, "output"), Limits: messages.JobLimits{MaxOutputBytes: 4096}}, messages.ReasonOutputTooLarge},
		{"trap", messages.RunJob{Module: n.module(t, "trap")}, messages.ReasonExitCode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			job := tc.job
			job.JobID = tc.name
			r, err := n.run(&job)
			if err == nil {
				t.Fatalf("a receipt: %+v", r)
			}
			if got := failure(t, err); got != tc.reason {
				t.Fatalf("reason %q (%v), want %q", got, err, tc.reason)
			}
			if got := testutil.ToFloat64(n.metrics.jobs.WithLabelValues(tc.reason)); got < 1 {
				t.Fatalf("icn_jobs_executed_total{result=%q} = %v", tc.reason, got)
			}
		})
	}
	// Malformed requests are refused before any worker is taken.
	mod := n.module(t, "stdin")
	for _, job := range []*messages.RunJob{
		{Module: mod},
		{JobID: "j"},
		{JobID: "j", Module: mod, Input: make([]byte, messages.MaxJobInput+1)},
		{JobID: "j", Module: mod, Input: []byte("x"), InputCID: mod},
		{JobID: "j", Module: mod, InputCID: missingInput(t)},
	} {
		if _, err := n.run(job); !errors.Is(err, messages.ErrInvalidJob) {
			t.Fatalf("%+v: %v", job, err)
		}
	}
	if st := n.status(t, Name); st.Details["busy"] != "0" {
		t.Fatalf("pool status %+v", st)
	}
}

// missingInput is the CID of an input no node has.
func missingInput(t *testing.T) cid.Cid {
	t.Helper()
	b, err := block.NewRaw([]byte("an input nobody has"))
	if err != nil {
		t.Fatal(err)
	}
	return b.CID()
}

// long is a job that runs until it is stopped (a minute at most).
func long(n *node, t *testing.T, id string) *messages.RunJob {
	return &messages.RunJob{JobID: id, Module: n.module(t, "infinite"), Limits: messages.JobLimits{TimeoutMS: 60_000, Fuel: fuel.MaxFuel}}
}

// waitRunning waits until the worker runs a job.
func waitRunning(t *testing.T, n *node, worker string) {
	t.Helper()
	waitFor(t, worker+" running", func() bool {
		st, err := supervisors.Ask[*messages.SubsystemStatus](context.Background(), n.tree, worker, &messages.StatusRequest{})
		return err == nil && st.Details["state"] == "running"
	})
}

func TestAllWorkersBusyIsNoCapacity(t *testing.T) {
	n := startNode(t, 1)
	call := n.begin(t, long(n, t, "long"))
	waitRunning(t, n, "worker-0")
	if st := n.status(t, Name); st.Details["busy"] != "1" || st.Details["free"] != "0" {
		t.Fatalf("pool status %+v", st)
	}
	if got := testutil.ToFloat64(n.metrics.busy); got != 1 {
		t.Fatalf("busy gauge %v", got)
	}
	if _, err := n.run(&messages.RunJob{JobID: "more", Module: n.module(t, "stdin")}); !errors.Is(err, messages.ErrNoCapacity) {
		t.Fatalf("second job: %v", err)
	}
	// End the long job.
	if err := n.tree.Kill(context.Background(), "worker-0", supervisors.KillStop); err != nil {
		t.Fatal(err)
	}
	if _, err := call.Wait(context.Background()); failure(t, err) != messages.ReasonExecutorLost {
		t.Fatalf("long job: %v", err)
	}
	if got := testutil.ToFloat64(n.metrics.busy); got != 0 {
		t.Fatalf("busy gauge %v", got)
	}
}

func TestAKilledWorkerLosesItsJobAndServesTheNext(t *testing.T) {
	n := startNode(t, 1)
	echo := n.module(t, "stdin")
	for _, mode := range []supervisors.KillMode{supervisors.KillPanic, supervisors.KillStop, supervisors.KillPoison} {
		t.Run(mode.String(), func(t *testing.T) {
			call := n.begin(t, long(n, t, "long-"+mode.String()))
			waitRunning(t, n, "worker-0")
			if err := n.tree.Kill(context.Background(), "worker-0", mode); err != nil {
				t.Fatal(err)
			}
			_, err := call.Wait(context.Background())
			if got := failure(t, err); got != messages.ReasonExecutorLost {
				t.Fatalf("reason %q: %v", got, err)
			}
			// The next job runs (once the worker is back: until then the
			// pool has no free worker).
			var r *messages.JobReceipt
			waitFor(t, "the next job", func() bool {
				r, err = n.run(&messages.RunJob{JobID: "next-" + mode.String(), Module: echo, Input: []byte("abc")})
				if errors.Is(err, messages.ErrNoCapacity) {
					return false
				}
				if err != nil {
					t.Fatal(err)
				}
				return true
			})
			if string(n.block(t, r.Output).Data()) != "0000000000000003\n" {
				t.Fatalf("next job's output")
			}
		})
	}
	if got := testutil.ToFloat64(n.metrics.jobs.WithLabelValues(messages.ReasonExecutorLost)); got != 3 {
		t.Fatalf("executor_lost count %v", got)
	}
}

func TestAJobWhoseWorkerNeverReportsIsLost(t *testing.T) {
	clk := clocktest.New(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC))
	n := startNodeWith(t, 1, clk)
	job := long(n, t, "long")
	call := n.begin(t, job)
	waitRunning(t, n, "worker-0")
	// The worker still runs, but the pool's bound for the job has passed.
	clk.Advance(bound(job))
	if _, err := call.Wait(context.Background()); failure(t, err) != messages.ReasonExecutorLost {
		t.Fatalf("overdue job: %v", err)
	}
	// The pool took the worker back; the worker, still busy, refuses a
	// second job rather than run two.
	if _, err := n.run(&messages.RunJob{JobID: "next", Module: n.module(t, "stdin")}); !errors.Is(err, messages.ErrNoCapacity) {
		t.Fatalf("a job for the busy worker: %v", err)
	}
	if err := n.tree.Kill(context.Background(), "worker-0", supervisors.KillStop); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the worker idle", func() bool {
		st, err := supervisors.Ask[*messages.SubsystemStatus](context.Background(), n.tree, "worker-0", &messages.StatusRequest{})
		return err == nil && st.Details["state"] == "idle"
	})
}

func TestLimitsConvert(t *testing.T) {
	l := limits(messages.JobLimits{MemoryMB: 2, TimeoutMS: 1500, MaxOutputBytes: 10, Fuel: 7})
	if l.MemoryPages != 32 || l.Timeout != 1500*time.Millisecond || l.MaxOutputBytes != 10 || l.Fuel != 7 {
		t.Fatalf("%+v", l)
	}
	if l := limits(messages.JobLimits{MemoryMB: 1 << 31, TimeoutMS: 1 << 63}); l.MemoryPages != 65536 || l.Timeout != maxTimeout {
		t.Fatalf("huge: %+v", l)
	}
	if l := limits(messages.JobLimits{}); l != (wasm.Limits{}) {
		t.Fatalf("zero: %+v", l)
	}
}

func TestAStoppedPoolAnswersItsJobs(t *testing.T) {
	n := startNode(t, 2)
	call := n.begin(t, long(n, t, "long"))
	waitRunning(t, n, "worker-0")
	if err := n.tree.Kill(context.Background(), Name, supervisors.KillPanic); err != nil {
		t.Fatal(err)
	}
	if _, err := call.Wait(context.Background()); failure(t, err) != messages.ReasonExecutorLost {
		t.Fatalf("job in flight: %v", err)
	}
	waitFor(t, "the pool back", func() bool {
		r, err := n.run(&messages.RunJob{JobID: "after", Module: n.module(t, "stdin")})
		return err == nil && r.ExitCode == 0
	})
}

func TestATamperedReceiptFails(t *testing.T) {
	n := startNode(t, 1)
	r, err := n.run(&messages.RunJob{JobID: "job", Module: n.module(t, "stdin"), Input: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	good := n.block(t, r.CID)
	rec, err := decodeReceipt(good)
	if err != nil {
		t.Fatal(err)
	}
	other, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	changed := func(f func(*receipt)) block.Block {
		c := rec
		f(&c)
		b, err := block.Encode(c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	resigned := func(f func(*receipt)) block.Block {
		c := rec
		f(&c)
		b, err := c.sign(other)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	out, _ := block.NewRaw([]byte("another output"))
	for name, b := range map[string]block.Block{
		"output":                changed(func(c *receipt) { c.Output = block.LinkTo(out.CID()) }),
		"exit code":             changed(func(c *receipt) { c.ExitCode = 1 }),
		"fuel":                  changed(func(c *receipt) { c.FuelUsed++ }),
		"cost table":            changed(func(c *receipt) { c.CostTable++ }),
		"cost table dropped":    changed(func(c *receipt) { c.CostTable = 0 }),
		"job":                   changed(func(c *receipt) { c.Job = "another" }),
		"unsigned":              changed(func(c *receipt) { c.Sig = nil }),
		"executor":              changed(func(c *receipt) { c.Executor = string(other.DID()) }),
		"signed by another key": resigned(func(*receipt) {}),
		"no job":                resigned(func(c *receipt) { c.Executor, c.Job = string(other.DID()), "" }),
		"a raw block":           out,
	} {
		if err := VerifyReceipt(b); !errors.Is(err, ErrInvalidReceipt) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// A receipt signed before receipts recorded their cost table, one
// without the cost_table_version key, still decodes canonically (version
// 0) and verifies: the field is omitted when zero, so its bytes, CID and
// signature are what they were.
func TestAReceiptWithoutCostTableStillVerifies(t *testing.T) {
	id, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	link := func(s string) block.Link {
		b, err := block.NewRaw([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return block.LinkTo(b.CID())
	}
	// The receipt as it was stored before cost_table_version existed.
	type oldReceipt struct {
		Job             string     `cbor:"job"`
		Executor        string     `cbor:"executor"`
		Module          block.Link `cbor:"module"`
		Input           block.Link `cbor:"input"`
		Output          block.Link `cbor:"output"`
		ExitCode        uint32     `cbor:"exit_code"`
		FuelUsed        uint64     `cbor:"fuel_used"`
		WallMS          uint64     `cbor:"wall_ms"`
		PeakMemoryBytes uint64     `cbor:"peak_memory_bytes"`
		Stderr          []byte     `cbor:"stderr,omitempty"`
		Time            int64      `cbor:"time"`
		Sig             []byte     `cbor:"sig,omitempty"`
	}
	old := oldReceipt{Job: "job", Executor: string(id.DID()), Module: link("m"), Input: link("i"), Output: link("o"),
		FuelUsed: 1234, WallMS: 5, PeakMemoryBytes: 65536, Time: 1_700_000_000_000}
	unsigned, err := block.Encode(old)
	if err != nil {
		t.Fatal(err)
	}
	old.Sig = id.Sign(append([]byte(receiptDomain), unsigned.Data()...))
	b, err := block.Encode(old)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyReceipt(b); err != nil {
		t.Fatalf("an old receipt no longer verifies: %v", err)
	}
	r, err := DecodeReceipt(b)
	if err != nil || r.CostTableVersion != 0 || r.FuelUsed != 1234 || !r.CID.Equals(b.CID()) {
		t.Fatalf("decoded %+v, %v", r, err)
	}

	// Signed today, the same receipt carries its version, and so another
	// CID.
	nb, nr, err := SignReceipt(id, messages.JobReceipt{JobID: "job", Module: old.Module.Cid, Input: old.Input.Cid,
		Output: old.Output.Cid, FuelUsed: 1234, CostTableVersion: fuel.CostTableVersion, WallMS: 5, PeakMemoryBytes: 65536,
		Time: time.UnixMilli(old.Time)})
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyReceipt(nb); err != nil || nr.CostTableVersion != fuel.CostTableVersion || nb.CID().Equals(b.CID()) {
		t.Fatalf("new receipt %+v (%s), %v", nr, nb.CID(), err)
	}
}

// A cancelled job's run stops at once: its sender hears cancelled, the
// worker is free again, and a cancel of a job not running says so.
func TestACancelledRunStops(t *testing.T) {
	n := startNode(t, 1)
	job := long(n, t, "long")
	call := n.begin(t, job)
	waitRunning(t, n, "worker-0")
	r, err := supervisors.Ask[*messages.CancelRunReply](t.Context(), n.tree, Name, &messages.CancelRun{JobID: job.JobID})
	if err != nil || !r.Cancelled {
		t.Fatalf("cancel: %+v, %v", r, err)
	}
	if _, err := call.Wait(context.Background()); failure(t, err) != messages.ReasonCancelled {
		t.Fatalf("cancelled job: %v", err)
	}
	waitFor(t, "the worker free", func() bool { return n.status(t, Name).Details["free"] == "1" })
	if got := testutil.ToFloat64(n.metrics.jobs.WithLabelValues(messages.ReasonCancelled)); got != 1 {
		t.Fatalf("cancelled count %v", got)
	}
	if r, err := supervisors.Ask[*messages.CancelRunReply](t.Context(), n.tree, Name, &messages.CancelRun{JobID: "not-running"}); err != nil || r.Cancelled {
		t.Fatalf("cancel of nothing: %+v, %v", r, err)
	}
}
