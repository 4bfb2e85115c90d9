package jobs

import (
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// specBlock is the block a job of spec is stored as; its CID is the job id.
func specBlock(t *testing.T, spec messages.JobSpec) block.Block {
	t.Helper()
	spec, err := normalize(spec)
	if err != nil {
		t.Fatal(err)
	}
	b, err := encodeSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// idOf is the id a job of spec gets.
func idOf(t *testing.T, spec messages.JobSpec) string { return specBlock(t, spec).CID().String() }

// panics is a testPanic hook that panics where it is told, for the jobs
// it is told, a number of times (-1: every time).
type panics struct {
	mu    sync.Mutex
	where string
	left  map[string]int // by job id
}

func newPanics(where string) *panics { return &panics{where: where, left: map[string]int{}} }

func (p *panics) arm(job string, times int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.left[job] = times
}

func (p *panics) hook(where, job string) {
	p.mu.Lock()
	n := p.left[job]
	if where != p.where || n == 0 {
		p.mu.Unlock()
		return
	}
	p.left[job] = n - 1
	p.mu.Unlock()
	panic("injected panic in " + where + " of " + job)
}

// A job's driver that panics is restarted from the job's record, and the
// node goes on: a job that panics once completes; one that panics every
// time fails panicked after maxPanics, its escrow released, and later jobs
// still run.
func TestDriverPanicIsContained(t *testing.T) {
	p := newPanics(messages.JobRunning)
	n := startNodeDeps(t, 1, Config{}, 500, nil, func(d *Deps) { d.testPanic = p.hook })
	before := n.account(t).Available
	mod := n.module(t, "upper")

	once := messages.JobSpec{Module: mod, Input: []byte("panics once")}
	p.arm(idOf(t, once), 1)
	s, err := n.submit(t, once)
	if err != nil {
		t.Fatal(err)
	}
	done := n.wait(t, s.ID)
	if done.State != messages.JobCompleted || string(n.block(t, done.Receipt.Output)) != "PANICS ONCE" {
		t.Fatalf("state %s (%s), want completed", done.State, done.Reason)
	}
	if c := strings.Count(strings.Join(states(done), ","), messages.JobCompleted); c != 1 {
		t.Fatalf("history %v", states(done))
	}
	if got := testutil.ToFloat64(n.metrics.panics); got != 1 {
		t.Fatalf("icn_jobs_panics_total = %v, want 1", got)
	}

	poison := messages.JobSpec{Module: mod, Input: []byte("panics every time")}
	p.arm(idOf(t, poison), -1)
	s, err = n.submit(t, poison)
	if err != nil {
		t.Fatal(err)
	}
	done = n.wait(t, s.ID)
	if done.State != messages.JobFailed || !strings.HasPrefix(done.Reason, messages.ReasonPanicked+": ") || done.Receipt != nil {
		t.Fatalf("state %s (%s), want failed %s", done.State, done.Reason, messages.ReasonPanicked)
	}
	if got := testutil.ToFloat64(n.metrics.panics); got != 1+maxPanics {
		t.Fatalf("icn_jobs_panics_total = %v, want %d", got, 1+maxPanics)
	}
	if got := testutil.ToFloat64(n.metrics.failed.WithLabelValues(messages.ReasonPanicked)); got != 1 {
		t.Fatalf("icn_jobs_failed_total{reason=%q} = %v, want 1", messages.ReasonPanicked, got)
	}
	if e := n.entries(t, s.ID); e[messages.OpReserve] != 1 || e[messages.OpRelease] != 1 {
		t.Fatalf("ledger entries for the poison job: %v", e)
	}

	after, err := n.submit(t, messages.JobSpec{Module: mod, Input: []byte("after")})
	if err != nil {
		t.Fatal(err)
	}
	if done := n.wait(t, after.ID); done.State != messages.JobCompleted {
		t.Fatalf("a job after the poison one: state %s (%s)", done.State, done.Reason)
	}
	if a := n.account(t); a.Available != before || a.Reserved != 0 {
		t.Fatalf("available %d reserved %d, want %d and 0", a.Available, a.Reserved, before)
	}
}

// assign asks n, as another node would, to run the job id it holds the
// spec of, until the answer is not pending.
func (n *node) assign(t *testing.T, id string) (*messages.JobAssignReply, error) {
	t.Helper()
	body, err := json.Marshal(messages.JobAssignment{JobID: id, Spec: id, Executor: n.id.DID().String()})
	if err != nil {
		t.Fatal(err)
	}
	for {
		ans, err := retry[*messages.PeerResponse](t, n, Name, &messages.PeerRequestIn{Type: messages.WireJobAssign,
			From: "did:key:z6MkSubmitter", Peer: "12D3KooWSubmitter", Body: body})
		if err != nil {
			return nil, err
		}
		var rep messages.JobAssignReply
		if err := json.Unmarshal(ans.Body, &rep); err != nil {
			t.Fatal(err)
		}
		if !rep.Pending {
			return &rep, nil
		}
	}
}

// putSpec stores a job's spec on n, as its submitter's node would hold it,
// and returns the job id.
func (n *node) putSpec(t *testing.T, spec messages.JobSpec) string {
	t.Helper()
	b := specBlock(t, spec)
	if _, err := retry[*messages.PutBlocksReply](t, n, dagName, &messages.PutBlocks{Blocks: []block.Block{b}}); err != nil {
		t.Fatal(err)
	}
	return b.CID().String()
}

// An assigned run that panics is answered as an error (the submitter
// assigns the job elsewhere), and the node runs the next assignment.
func TestAssignedRunPanicIsAnsweredAsAnError(t *testing.T) {
	p := newPanics("run")
	n := startNodeDeps(t, 1, Config{}, 500, nil, func(d *Deps) { d.testPanic = p.hook })
	id := n.putSpec(t, messages.JobSpec{Module: n.module(t, "upper"), Input: []byte("assigned")})
	p.arm(id, 1)
	if rep, err := n.assign(t, id); err == nil || !strings.Contains(err.Error(), "panicked") {
		t.Fatalf("answer %+v, %v; want an error saying the run panicked", rep, err)
	}
	if got := testutil.ToFloat64(n.metrics.panics); got != 1 {
		t.Fatalf("icn_jobs_panics_total = %v, want 1", got)
	}
	// Asked again, it runs the job.
	rep, err := n.assign(t, id)
	if err != nil || rep.Receipt == "" {
		t.Fatalf("second assignment: %+v, %v", rep, err)
	}
	if _, err := supervisors.Ask[*messages.SubsystemStatus](ctx(t), n.tree, Name, &messages.StatusRequest{}); err != nil {
		t.Fatalf("the manager after the panic: %v", err)
	}
}
