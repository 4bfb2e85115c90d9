package jobs

import (
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/supervisors"
)

func TestExitCodeFailsWithReceipt(t *testing.T) {
	n := startNode(t, 1, Config{})
	s, err := n.submit(t, messages.JobSpec{Module: n.module(t, "exit")})
	if err != nil {
		t.Fatal(err)
	}
	done := n.wait(t, s.ID)
	if done.State != messages.JobFailed || done.Reason != messages.ReasonExitCode+": 3" || done.Receipt == nil {
		t.Fatalf("state %s reason %q receipt %v", done.State, done.Reason, done.Receipt)
	}
	if len(n.block(t, done.Receipt.Output)) == 0 {
		t.Fatal("no output kept for a job that exited 3")
	}
	// The executor did its work: a verified receipt counts for it.
	r, err := retry[*messages.ReputationInfo](t, n, "ledger", &messages.GetReputation{DID: n.id.DID().String()})
	if err != nil || r.Jobs != 1 || r.Successes != 1 {
		t.Fatalf("reputation %+v, %v", r, err)
	}
}

// seed records a job as an earlier incarnation would have left it: its
// spec, and a record in state (reserving its mana first when reserve is
// set), then restarts the manager so that it loads it.
func (n *node) seed(t *testing.T, spec messages.JobSpec, state string, reserve bool) string {
	t.Helper()
	spec, err := normalize(spec)
	if err != nil {
		t.Fatal(err)
	}
	sb, err := encodeSpec(spec)
	if err != nil {
		t.Fatal(err)
	}
	id := sb.CID().String()
	if reserve {
		if _, err := retry[*messages.EntryReply](t, n, "ledger", &messages.Reserve{Account: n.id.DID().String(), Ref: id, Amount: spec.MaxMana}); err != nil {
			t.Fatal(err)
		}
	}
	rec := record{Spec: block.LinkTo(sb.CID())}
	for _, s := range []string{messages.JobSubmitted, messages.JobEscrowed, messages.JobAnnounced, messages.JobBidding, messages.JobAssigned, messages.JobRunning} {
		rec = rec.to(s, time.Now())
		if s == messages.JobAssigned {
			rec.Executor, rec.Price = n.id.DID().String(), 10
		}
		if s == state {
			break
		}
	}
	if messages.JobFinal(state) {
		rec = rec.to(state, time.Now())
	}
	rb, err := block.Encode(rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.tree.Request(ctx(t), "dag", &messages.PutBlocks{Blocks: []block.Block{sb, rb},
		Refs: []messages.RefUpdate{{Name: jobRef(id), Old: cid.Undef, New: rb.CID()}}}); err != nil {
		t.Fatal(err)
	}
	if err := n.tree.Kill(ctx(t), Name, supervisors.KillStop); err != nil {
		t.Fatal(err)
	}
	return id
}

// A manager that stopped between its reserve and recording escrowed finds
// the reservation open: the job goes on, escrowed once, released once.
func TestResumeAfterReserveBeforeEscrowed(t *testing.T) {
	n := startNode(t, 1, Config{})
	before := n.account(t).Available
	id := n.seed(t, messages.JobSpec{Module: n.module(t, "upper"), Input: []byte("resumed")}, messages.JobSubmitted, true)
	done := n.wait(t, id)
	if done.State != messages.JobCompleted || string(n.block(t, done.Receipt.Output)) != "RESUMED" {
		t.Fatalf("state %s (%s)", done.State, done.Reason)
	}
	if e := n.entries(t, id); e[messages.OpReserve] != 1 || e[messages.OpRelease] != 1 {
		t.Fatalf("ledger entries for the job: %v", e)
	}
	if a := n.account(t); a.Available != before || a.Reserved != 0 {
		t.Fatalf("available %d reserved %d, want %d and 0", a.Available, a.Reserved, before)
	}
}

// A job recorded final whose escrow was not yet released is settled on
// restart, and not run.
func TestResumeSettlesAFinishedJob(t *testing.T) {
	n := startNode(t, 1, Config{})
	before := n.account(t).Available
	id := n.seed(t, messages.JobSpec{Module: n.module(t, "upper")}, messages.JobCancelled, true)
	done := n.wait(t, id)
	if done.State != messages.JobCancelled || done.Receipt != nil {
		t.Fatalf("job %+v", done)
	}
	if e := n.entries(t, id); e[messages.OpReserve] != 1 || e[messages.OpRelease] != 1 {
		t.Fatalf("ledger entries for the job: %v", e)
	}
	if a := n.account(t); a.Available != before || a.Reserved != 0 {
		t.Fatalf("available %d reserved %d, want %d and 0", a.Available, a.Reserved, before)
	}
}

// A job recorded assigned runs on restart; one recorded running but whose
// escrow is gone (released by hand meanwhile) still completes, and its
// release finds nothing to release.
func TestResumeFromAssigned(t *testing.T) {
	n := startNode(t, 1, Config{})
	id := n.seed(t, messages.JobSpec{Module: n.module(t, "upper"), Input: []byte("a")}, messages.JobAssigned, true)
	if done := n.wait(t, id); done.State != messages.JobCompleted || !strings.HasSuffix(strings.Join(states(done), ","), "assigned,running,completed") {
		t.Fatalf("job %+v", done)
	}
	id = n.seed(t, messages.JobSpec{Module: n.module(t, "upper"), Input: []byte("b")}, messages.JobRunning, false)
	if done := n.wait(t, id); done.State != messages.JobCompleted {
		t.Fatalf("job %+v", done)
	}
	if e := n.entries(t, id); len(e) != 0 {
		t.Fatalf("ledger entries for a job without escrow: %v", e)
	}
}
