package wiring

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/fx"

	"github.com/intercooperative-network/icn-go/actors/executors"
	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// liarPool is an executor pool that runs nothing: it answers every job
// with a receipt, properly signed by its node, for an output it made up.
type liarPool struct {
	id   *identity.Identity
	tree *supervisors.Tree
}

func (p *liarPool) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		p.tree = supervisors.TreeOf(c)
	case *messages.StatusRequest:
		c.Respond(&messages.SubsystemStatus{Name: executors.Name, Ready: true,
			Details: map[string]string{"workers": "1", "busy": "0", "free": "1"}})
	case *messages.RunJob:
		sender, sys, tree := c.Sender(), c.ActorSystem(), p.tree
		go func() { sys.Root.Send(sender, p.lie(tree, m)) }()
	}
}

func (p *liarPool) lie(tree *supervisors.Tree, m *messages.RunJob) any {
	out, err := block.NewRaw([]byte("not what the module wrote"))
	if err != nil {
		return err
	}
	in, err := block.NewRaw(m.Input)
	if err != nil {
		return err
	}
	b, r, err := executors.SignReceipt(p.id, messages.JobReceipt{JobID: m.JobID, Module: m.Module,
		Input: in.CID(), Output: out.CID(), FuelUsed: 1, WallMS: 1, Time: time.Now()})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := tree.Request(ctx, "dag", &messages.PutBlocks{Blocks: []block.Block{in, out, b}}); err != nil {
		return err
	}
	return r
}

// lyingExecutors replaces a node's executor pool with a liarPool.
func lyingExecutors() []fx.Option {
	return []fx.Option{fx.Decorate(fx.Annotate(
		func(_ *supervisors.Spec, id *identity.Identity) *supervisors.Spec {
			return &supervisors.Spec{Strategy: supervisors.OneForOne,
				Behavior: func(supervisors.Children) actor.Actor { return &liarPool{id: id} }}
		},
		fx.ParamTags(`name:"executors"`), fx.ResultTags(`name:"executors"`)))}
}

// reserved is the mana held in reservations on n's own account.
func reserved(t *testing.T, n *Node) uint64 {
	t.Helper()
	acc, err := supervisors.Ask[*messages.AccountInfo](t.Context(), n.Tree, "ledger", &messages.GetAccount{Account: did(n)})
	if err != nil {
		t.Fatal(err)
	}
	return acc.Reserved
}

func reputation(t *testing.T, on *Node, executor string) *messages.ReputationInfo {
	t.Helper()
	r, err := supervisors.Ask[*messages.ReputationInfo](t.Context(), on.Tree, "ledger", &messages.GetReputation{DID: executor})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// settlesOf are the settle entries of job (and its witness share) on n's chain.
func settlesOf(t *testing.T, n *Node, job string) map[string]uint64 {
	t.Helper()
	l, err := supervisors.Ask[*messages.EntryList](t.Context(), n.Tree, "ledger", &messages.ListEntries{Account: did(n)})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]uint64{}
	for _, e := range l.Entries {
		if e.Op == messages.OpSettle && strings.HasPrefix(e.Ref, job) {
			out[e.Counterparty] += e.Amount
		}
	}
	return out
}

// A verify-2 job runs on both executors of a three-node federation, whose
// receipts agree: it completes and both are paid from its two shares.
func TestVerifyTwoAgreeingExecutorsComplete(t *testing.T) {
	nodes := meshFederation(t)
	a := nodes[0]
	mod := putModule(t, a, "upper")
	s := askJobs[*messages.JobStatus](t, a, &messages.SubmitJob{Spec: messages.JobSpec{Module: mod, Input: []byte("two opinions"),
		Verify: 2, BidWindowMS: 2000}})
	done := waitJob(t, a, s.ID, 30*time.Second, finished)
	if done.State != messages.JobCompleted {
		t.Fatalf("state %s (%s)", done.State, done.Reason)
	}
	if len(done.Witnesses) != 1 || done.Witnesses[0].Role != messages.RoleWitness || done.Witnesses[0].Receipt == nil {
		t.Fatalf("witnesses %+v", done.Witnesses)
	}
	w := done.Witnesses[0]
	pair := []string{done.Executor, w.Executor}
	slices.Sort(pair)
	want := []string{did(nodes[1]), did(nodes[2])}
	slices.Sort(want)
	if !slices.Equal(pair, want) {
		t.Fatalf("executors %v, want %v", pair, want)
	}
	if !done.Receipt.Output.Equals(w.Receipt.Output) || done.Receipt.FuelUsed != w.Receipt.FuelUsed || done.Receipt.FuelUsed == 0 {
		t.Fatalf("receipts differ: %+v vs %+v", done.Receipt, w.Receipt)
	}
	if len(done.Outvoted) != 0 {
		t.Fatalf("outvoted %v", done.Outvoted)
	}
	paid := settlesOf(t, a, s.ID)
	if paid[done.Executor] != done.Cost || paid[w.Executor] != w.Cost || len(paid) != 2 || done.Cost != w.Cost {
		t.Fatalf("settles %v, want %s %d and %s %d", paid, done.Executor, done.Cost, w.Executor, w.Cost)
	}
	for _, e := range pair {
		if r := reputation(t, a, e); r.Successes != 1 || r.Failures != 0 {
			t.Fatalf("reputation of %s: %+v", e, r)
		}
	}
	if r := reserved(t, a); r != 0 {
		t.Fatalf("%d mana still reserved", r)
	}
}

// An executor that lies about its output (the cheapest bidder, so it is
// chosen first) disagrees with its honest witness; the tiebreaker agrees
// with the witness. The job fails verification_mismatch, the liar is
// outvoted, unpaid and loses reputation; the honest two are paid.
func TestVerifyTwoOutvotesALiar(t *testing.T) {
	nodes := federationExtra(t, 4, func(i int, c *Config) {
		switch i {
		case 0:
			c.Workers = 0
		case 3:
			c.Jobs.Price = 1
		}
	}, func(i int) []fx.Option {
		if i == 3 {
			return lyingExecutors()
		}
		return nil
	})
	a, liar := nodes[0], did(nodes[3])
	mod := putModule(t, a, "upper")
	before := reputation(t, a, liar)
	s := askJobs[*messages.JobStatus](t, a, &messages.SubmitJob{Spec: messages.JobSpec{Module: mod, Input: []byte("the truth"),
		Verify: 2, BidWindowMS: 5000}})
	done := waitJob(t, a, s.ID, 30*time.Second, finished)
	if done.State != messages.JobFailed || !strings.HasPrefix(done.Reason, messages.ReasonVerificationMismatch) {
		t.Fatalf("state %s (%s), want failed %s; executor %s, witnesses %+v, bids %+v, the liar %s",
			done.State, done.Reason, messages.ReasonVerificationMismatch, done.Executor, done.Witnesses, done.Bids, liar)
	}
	if done.Executor != liar {
		t.Fatalf("the cheapest bidder %s was not chosen first: %s", liar, done.Executor)
	}
	if !slices.Equal(done.Outvoted, []string{liar}) {
		t.Fatalf("outvoted %v, want the liar %s (reason %s)", done.Outvoted, liar, done.Reason)
	}
	if len(done.Witnesses) != 2 {
		t.Fatalf("witnesses %+v, want a witness and a tiebreaker", done.Witnesses)
	}
	honest := []string{did(nodes[1]), did(nodes[2])}
	paid := settlesOf(t, a, s.ID)
	if _, ok := paid[liar]; ok || len(paid) != 2 {
		t.Fatalf("settles %v: the liar was paid or an honest executor was not", paid)
	}
	for _, w := range done.Witnesses {
		if w.Receipt == nil || !slices.Contains(honest, w.Executor) || paid[w.Executor] != w.Cost {
			t.Fatalf("%s %s: receipt %v, paid %d of %d", w.Role, w.Executor, w.Receipt, paid[w.Executor], w.Cost)
		}
		if r := reputation(t, a, w.Executor); r.Successes != 1 || r.Failures != 0 {
			t.Fatalf("reputation of honest %s: %+v", w.Executor, r)
		}
	}
	after := reputation(t, a, liar)
	if after.Failures != before.Failures+1 || after.Score >= before.Score {
		t.Fatalf("the liar's reputation went from %+v to %+v", before, after)
	}
	if r := reserved(t, a); r != 0 {
		t.Fatalf("%d mana still reserved", r)
	}
}

// min_reputation refuses the bids of executors below it: on a new
// federation every executor has the unknown 50, so a job asking for more
// finds none and fails no_bids; one asking for 50 runs.
func TestMinReputationRefusesBids(t *testing.T) {
	nodes := federationWith(t, 2, func(i int, c *Config) {
		c.Jobs.AssignTimeout = 300 * time.Millisecond
		if i == 0 {
			c.Workers = 0
		}
	})
	a := nodes[0]
	mod := putModule(t, a, "upper")
	s := askJobs[*messages.JobStatus](t, a, &messages.SubmitJob{Spec: messages.JobSpec{Module: mod, Input: []byte("picky"), MinReputation: 51}})
	done := waitJob(t, a, s.ID, 30*time.Second, finished)
	if done.State != messages.JobFailed || !strings.HasPrefix(done.Reason, messages.ReasonNoBids) || !strings.Contains(done.Reason, "reputation 51") {
		t.Fatalf("state %s (%s), want failed no_bids naming the reputation", done.State, done.Reason)
	}
	s = askJobs[*messages.JobStatus](t, a, &messages.SubmitJob{Spec: messages.JobSpec{Module: mod, Input: []byte("fair"), MinReputation: 50}})
	if done = waitJob(t, a, s.ID, 30*time.Second, finished); done.State != messages.JobCompleted || done.Executor != did(nodes[1]) {
		t.Fatalf("state %s (%s) on %s", done.State, done.Reason, done.Executor)
	}
}
