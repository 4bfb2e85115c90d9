package jobs

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/supervisors"
)

func TestJobCompletes(t *testing.T) {
	n := startNode(t, 2, Config{})
	before := n.account(t).Available
	mod := n.module(t, "upper")
	s, err := n.submit(t, messages.JobSpec{Module: mod, Input: []byte("hello, mesh")})
	if err != nil {
		t.Fatal(err)
	}
	if s.State == messages.JobSubmitted || s.State == "" {
		t.Fatalf("submit answered state %q, want escrowed or later", s.State)
	}
	done := n.wait(t, s.ID)
	if done.State != messages.JobCompleted {
		t.Fatalf("state %s (%s), want completed", done.State, done.Reason)
	}
	want := []string{"submitted", "escrowed", "announced", "bidding", "assigned", "running", "completed"}
	if got := states(done); !slices.Equal(got, want) {
		t.Fatalf("history %v, want %v", got, want)
	}
	if done.Executor != n.id.DID().String() || done.Receipt == nil || done.Receipt.JobID != s.ID {
		t.Fatalf("executor %s receipt %+v", done.Executor, done.Receipt)
	}
	if got := string(n.block(t, done.Receipt.Output)); got != "HELLO, MESH" {
		t.Fatalf("output %q", got)
	}
	if done.Spec.MaxMana != messages.DefaultMaxMana {
		t.Fatalf("max mana %d, want the default", done.Spec.MaxMana)
	}
	a := n.account(t)
	if a.Available != before || a.Reserved != 0 {
		t.Fatalf("available %d reserved %d, want %d and 0", a.Available, a.Reserved, before)
	}
	if e := n.entries(t, s.ID); e[messages.OpReserve] != 1 || e[messages.OpRelease] != 1 || e[messages.OpSettle] != 0 {
		t.Fatalf("ledger entries for the job: %v", e)
	}
	// The same spec is the same job.
	again, err := n.submit(t, messages.JobSpec{Module: mod, Input: []byte("hello, mesh")})
	if err != nil || again.ID != s.ID || again.State != messages.JobCompleted {
		t.Fatalf("resubmission: %+v, %v", again, err)
	}
	l, err := retry[*messages.JobList](t, n, Name, &messages.ListJobs{State: messages.JobCompleted})
	if err != nil || len(l.Jobs) != 1 || l.Jobs[0].ID != s.ID {
		t.Fatalf("list: %+v, %v", l, err)
	}
	// Counted once, and no longer active.
	if sub, comp := testutil.ToFloat64(n.metrics.submitted), testutil.ToFloat64(n.metrics.completed); sub != 1 || comp != 1 {
		t.Fatalf("icn_jobs_submitted_total %v, icn_jobs_completed_total %v, want 1 and 1", sub, comp)
	}
	for _, st := range activeStates() {
		if v := testutil.ToFloat64(n.metrics.active.WithLabelValues(st)); v != 0 {
			t.Fatalf("icn_jobs_active{state=%q} = %v after the job completed", st, v)
		}
	}
	if c := testutil.CollectAndCount(n.metrics.phase); c != len(activeStates()) {
		t.Fatalf("phase series %d", c)
	}
}

func TestInfiniteLoopFails(t *testing.T) {
	n := startNode(t, 1, Config{})
	before := n.account(t).Available
	s, err := n.submit(t, messages.JobSpec{Module: n.module(t, "infinite"), Limits: messages.JobLimits{TimeoutMS: 200}})
	if err != nil {
		t.Fatal(err)
	}
	done := n.wait(t, s.ID)
	if done.State != messages.JobFailed ||
		!strings.HasPrefix(done.Reason, messages.ReasonTimeout) && !strings.HasPrefix(done.Reason, messages.ReasonFuel) {
		t.Fatalf("state %s reason %q, want failed timeout", done.State, done.Reason)
	}
	if a := n.account(t); a.Available != before || a.Reserved != 0 {
		t.Fatalf("available %d reserved %d, want %d and 0", a.Available, a.Reserved, before)
	}
	failed := testutil.ToFloat64(n.metrics.failed.WithLabelValues(messages.ReasonTimeout)) +
		testutil.ToFloat64(n.metrics.failed.WithLabelValues(messages.ReasonFuel))
	if failed != 1 {
		t.Fatalf("icn_jobs_failed_total{reason=timeout|fuel} = %v, want 1", failed)
	}
}

func TestInsufficientManaRefused(t *testing.T) {
	n := startNode(t, 1, Config{})
	before := n.account(t)
	_, err := n.submit(t, messages.JobSpec{Module: n.module(t, "upper"), MaxMana: before.Available + 1})
	if !errors.Is(err, messages.ErrInsufficientMana) {
		t.Fatalf("err %v, want insufficient mana", err)
	}
	l, err := retry[*messages.JobList](t, n, Name, &messages.ListJobs{})
	if err != nil || len(l.Jobs) != 0 {
		t.Fatalf("jobs after a refusal: %+v, %v", l, err)
	}
	refs, err := retry[*messages.ListRefsReply](t, n, "dag", &messages.ListRefs{Prefix: refPrefix})
	if err != nil || len(refs.Refs) != 0 {
		t.Fatalf("refs after a refusal: %+v, %v", refs, err)
	}
	if a := n.account(t); a.Available != before.Available || a.Reserved != 0 {
		t.Fatalf("account %+v, was %+v", a, before)
	}
}

func TestInvalidSpec(t *testing.T) {
	n := startNode(t, 1, Config{})
	mod := n.module(t, "upper")
	nothing, err := block.NewRaw([]byte("a block this node never stored"))
	if err != nil {
		t.Fatal(err)
	}
	missing := nothing.CID()
	for _, spec := range []messages.JobSpec{
		{},
		{Module: mod, Verify: 3},
		{Module: mod, Verify: -1},
		{Module: mod, Verify: 2, MaxMana: 1}, // two executors cannot share 1 mana
		{Module: mod, MinReputation: 101},
		{Module: mod, Input: []byte("x"), InputCID: mod},
		{Module: missing},                // a module nobody has
		{Module: mod, InputCID: missing}, // an input nobody has
	} {
		if _, err := n.submit(t, spec); !errors.Is(err, messages.ErrInvalidSpec) {
			t.Fatalf("%+v: err %v, want invalid spec", spec, err)
		}
	}
	if l, err := retry[*messages.JobList](t, n, Name, &messages.ListJobs{}); err != nil || len(l.Jobs) != 0 {
		t.Fatalf("an invalid spec was recorded: %+v, %v", l, err)
	}
	if _, err := retry[*messages.JobStatus](t, n, Name, &messages.GetJob{ID: "nope"}); !errors.Is(err, messages.ErrUnknownJob) {
		t.Fatalf("err %v, want unknown job", err)
	}
}

func TestCancel(t *testing.T) {
	n := startNode(t, 1, Config{})
	before := n.account(t).Available
	s, err := n.submit(t, messages.JobSpec{Module: n.module(t, "sleep"), Limits: messages.JobLimits{TimeoutMS: 3000}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := retry[*messages.JobStatus](t, n, Name, &messages.CancelJob{ID: s.ID})
	if err != nil || c.State != messages.JobCancelled || c.Reason != messages.ReasonCancelled {
		t.Fatalf("cancel: %+v, %v", c, err)
	}
	done := n.wait(t, s.ID)
	if done.State != messages.JobCancelled {
		t.Fatalf("state %s", done.State)
	}
	if _, err := retry[*messages.JobStatus](t, n, Name, &messages.CancelJob{ID: s.ID}); !errors.Is(err, messages.ErrJobFinished) {
		t.Fatalf("second cancel: %v, want finished", err)
	}
	if _, err := retry[*messages.JobStatus](t, n, Name, &messages.CancelJob{ID: "nope"}); !errors.Is(err, messages.ErrUnknownJob) {
		t.Fatalf("cancel of nothing: %v, want unknown", err)
	}
	if a := n.account(t); a.Available != before || a.Reserved != 0 {
		t.Fatalf("available %d reserved %d, want %d and 0", a.Available, a.Reserved, before)
	}
}

func TestNoWorkerFailsNoBids(t *testing.T) {
	n := startNode(t, 0, Config{Price: 10, AssignTimeout: 100 * time.Millisecond})
	s, err := n.submit(t, messages.JobSpec{Module: n.module(t, "upper")})
	if err != nil {
		t.Fatal(err)
	}
	if done := n.wait(t, s.ID); done.State != messages.JobFailed || !strings.HasPrefix(done.Reason, messages.ReasonNoBids) {
		t.Fatalf("state %s reason %q, want failed no_bids", done.State, done.Reason)
	}
}

// Killing the manager mid-job: the restarted manager resumes the job from
// its record, and it completes once, its escrow released once.
func TestKilledManagerResumes(t *testing.T) {
	for name, mode := range map[string]supervisors.KillMode{"stop": supervisors.KillStop, "panic": supervisors.KillPanic} {
		t.Run(name, func(t *testing.T) {
			n := startNode(t, 1, Config{})
			before := n.account(t).Available
			s, err := n.submit(t, messages.JobSpec{Module: n.module(t, "loop"), Input: le64(100_000_000)})
			if err != nil {
				t.Fatal(err)
			}
			for {
				g, err := retry[*messages.JobStatus](t, n, Name, &messages.GetJob{ID: s.ID})
				if err != nil {
					t.Fatal(err)
				}
				if g.State == messages.JobRunning {
					break
				}
				if messages.JobFinal(g.State) {
					t.Fatalf("finished before the kill: %s", g.State)
				}
				time.Sleep(time.Millisecond)
			}
			if err := n.tree.Kill(ctx(t), Name, mode); err != nil {
				t.Fatal(err)
			}
			done := n.wait(t, s.ID)
			if done.State != messages.JobCompleted {
				t.Fatalf("state %s (%s)", done.State, done.Reason)
			}
			if c := strings.Count(strings.Join(states(done), ","), messages.JobCompleted); c != 1 {
				t.Fatalf("history %v", states(done))
			}
			if e := n.entries(t, s.ID); e[messages.OpReserve] != 1 || e[messages.OpRelease]+e[messages.OpSettle] != 1 {
				t.Fatalf("ledger entries for the job: %v", e)
			}
			if a := n.account(t); a.Available != before || a.Reserved != 0 {
				t.Fatalf("available %d reserved %d, want %d and 0", a.Available, a.Reserved, before)
			}
		})
	}
}

// A node bids on its own jobs only when it could run them: not on a job
// over its limits, and not twice on a verify-2 job. Either way the job
// fails no_bids with why, and its whole escrow comes back.
func TestNoBidWithoutEnoughFittingExecutors(t *testing.T) {
	cfg := Config{Price: 10, AssignTimeout: 100 * time.Millisecond, MaxMemoryMB: 64, MaxTimeout: time.Second}
	n := startNode(t, 1, cfg)
	before := n.account(t).Available
	mod := n.module(t, "upper")
	for _, tc := range []struct {
		spec messages.JobSpec
		why  string
	}{
		{messages.JobSpec{Module: mod, Limits: messages.JobLimits{MemoryMB: 128}}, "no bid within"},
		{messages.JobSpec{Module: mod, Input: []byte("default limits")}, "no bid within"}, // 256 MiB, over 64
		{messages.JobSpec{Module: mod, Limits: messages.JobLimits{MemoryMB: 32, TimeoutMS: 5000}}, "no bid within"},
		{messages.JobSpec{Module: mod, Limits: messages.JobLimits{MemoryMB: 32}, Verify: 2}, "verify 2 needs two executors"},
	} {
		s, err := n.submit(t, tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		done := n.wait(t, s.ID)
		if done.State != messages.JobFailed || !strings.HasPrefix(done.Reason, messages.ReasonNoBids) || !strings.Contains(done.Reason, tc.why) {
			t.Fatalf("%+v: state %s reason %q, want failed no_bids: %s", tc.spec.Limits, done.State, done.Reason, tc.why)
		}
	}
	if a := n.account(t); a.Available != before || a.Reserved != 0 || a.Reservations != 0 {
		t.Fatalf("account %+v, want %d available and nothing reserved", a, before)
	}
	// A job within the limits runs.
	s, err := n.submit(t, messages.JobSpec{Module: mod, Input: []byte("fits"), Limits: messages.JobLimits{MemoryMB: 32, TimeoutMS: 500}})
	if err != nil {
		t.Fatal(err)
	}
	if done := n.wait(t, s.ID); done.State != messages.JobCompleted {
		t.Fatalf("state %s (%s)", done.State, done.Reason)
	}
}

// Cancelling a job that runs on this node's pool stops the run: the worker
// is free long before the run's own limits would end it.
func TestCancelStopsTheLocalRun(t *testing.T) {
	n := startNode(t, 1, Config{})
	s, err := n.submit(t, messages.JobSpec{Module: n.module(t, "infinite"), Limits: messages.JobLimits{TimeoutMS: 60_000, Fuel: 60 * messages.FuelUnit}})
	if err != nil {
		t.Fatal(err)
	}
	busy := func() string {
		st, err := retry[*messages.SubsystemStatus](t, n, executorsName, &messages.StatusRequest{})
		if err != nil {
			t.Fatal(err)
		}
		return st.Details["busy"]
	}
	waitUntil(t, "the job running", func() bool { return busy() == "1" })
	if c, err := retry[*messages.JobStatus](t, n, Name, &messages.CancelJob{ID: s.ID}); err != nil || c.State != messages.JobCancelled {
		t.Fatalf("cancel: %+v, %v", c, err)
	}
	waitUntil(t, "the worker free", func() bool { return busy() == "0" })
}

// Killing the executor under a running job (its worker, or the whole
// executors supervisor, in each mode): the run is lost, the job runs again
// on a worker that is back, and completes once with a receipt.
func TestKilledExecutorMidJobRunsAgain(t *testing.T) {
	for _, tc := range []struct {
		target string
		mode   supervisors.KillMode
	}{
		{"worker-0", supervisors.KillPanic},
		{"worker-0", supervisors.KillStop},
		{executorsName, supervisors.KillPanic},
		{executorsName, supervisors.KillStop},
		{executorsName, supervisors.KillPoison},
	} {
		t.Run(tc.target+"/"+tc.mode.String(), func(t *testing.T) {
			n := startNode(t, 1, Config{})
			s, err := n.submit(t, messages.JobSpec{Module: n.module(t, "loop"), Input: le64(200_000_000)})
			if err != nil {
				t.Fatal(err)
			}
			waitUntil(t, "the job running on worker-0", func() bool {
				st, err := supervisors.Ask[*messages.SubsystemStatus](ctx(t), n.tree, "worker-0", &messages.StatusRequest{})
				return err == nil && st.Details["job"] == s.ID
			})
			if err := n.tree.Kill(ctx(t), tc.target, tc.mode); err != nil {
				t.Fatal(err)
			}
			done := n.wait(t, s.ID)
			if done.State != messages.JobCompleted || done.Receipt == nil {
				t.Fatalf("state %s (%s)", done.State, done.Reason)
			}
			if got := n.block(t, done.Receipt.Output); len(got) == 0 {
				t.Fatal("no output")
			}
		})
	}
}

// deafPeer is a peer manager with one connected peer that never hears
// gossip: it reports each announcement sent to the peer directly.
type deafPeer struct{ direct chan<- string }

const deafPeerID = "12D3KooWDeafPeerDeafPeerDeafPeerDeafPeerDeafPeer"

func (p deafPeer) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *messages.FindProviders:
		c.Respond(&messages.Providers{})
	case *messages.ListPeers:
		c.Respond(&messages.PeerList{Peers: []messages.PeerInfo{{PeerID: deafPeerID, Connected: true}}})
	case *messages.PublishGossip:
		c.Respond(&messages.GossipPublished{}) // and lost on the way
	case *messages.AskPeer:
		if m.Type == messages.WireJobAnnounce && m.Peer == deafPeerID {
			var a messages.JobAnnouncement
			if json.Unmarshal(m.Body, &a) == nil {
				select {
				case p.direct <- a.JobID:
				default:
				}
			}
		}
		c.Respond(&messages.PeerAnswer{Peer: m.Peer})
	}
}

// When gossip finds no bidder, the next announcement also goes to each
// connected peer directly, and the job still ends (no_bids) in time.
func TestASilentRoundAnnouncesDirectly(t *testing.T) {
	direct := make(chan string, 16)
	n := startNodePeers(t, 0, Config{Price: 10, AssignTimeout: 2 * time.Second}, 500, func() actor.Actor { return deafPeer{direct: direct} })
	s, err := n.submit(t, messages.JobSpec{Module: n.module(t, "upper"), BidWindowMS: 20})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case id := <-direct:
		if id != s.ID {
			t.Fatalf("direct announcement of %s, want %s", id, s.ID)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no direct announcement after a silent round")
	}
	if done := n.wait(t, s.ID); done.State != messages.JobFailed || !strings.HasPrefix(done.Reason, messages.ReasonNoBids) {
		t.Fatalf("state %s (%s)", done.State, done.Reason)
	}
}
