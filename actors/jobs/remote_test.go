package jobs

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// An executor refuses an assignment over its own limits, as it would have
// refused to bid: busy, so that the submitter assigns the job elsewhere
// without blaming it. Within the limits, it runs the job.
func TestAssignmentOverTheLimitsIsRefused(t *testing.T) {
	n := startNode(t, 1, Config{Price: 10, AssignTimeout: time.Second, MaxMemoryMB: 64, MaxTimeout: time.Second})
	mod := n.module(t, "upper")
	for _, tc := range []struct {
		limits messages.JobLimits
		why    string // "": it runs
	}{
		{messages.JobLimits{MemoryMB: 128, TimeoutMS: 500}, "memory 128 MiB over this node's 64 MiB"},
		{messages.JobLimits{TimeoutMS: 500}, "memory 256 MiB over"}, // the default memory
		{messages.JobLimits{MemoryMB: 32, TimeoutMS: 5000}, "timeout 5000 ms over this node's 1s"},
		{messages.JobLimits{MemoryMB: 32, TimeoutMS: 500}, ""},
	} {
		id := n.putSpec(t, messages.JobSpec{Module: mod, Input: []byte("to an executor"), Limits: tc.limits})
		rep, err := n.assign(t, id)
		if err != nil {
			t.Fatalf("%+v: %v", tc.limits, err)
		}
		switch {
		case tc.why == "" && rep.Receipt == "":
			t.Fatalf("%+v: %+v, want a receipt", tc.limits, rep)
		case tc.why != "" && (rep.Reason != messages.AssignBusy || rep.Receipt != "" || !strings.Contains(rep.Detail, tc.why)):
			t.Fatalf("%+v: %+v, want %s: %s", tc.limits, rep, messages.AssignBusy, tc.why)
		}
	}
	// Only the job within the limits ran.
	st, err := retry[*messages.SubsystemStatus](t, n, executorsName, &messages.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if st.Details["busy"] != "0" {
		t.Fatalf("executors %v", st.Details)
	}
}

// bidders is a peer manager whose connected peers are executors that bid
// on every job announced and then fail every assignment with answer.
type bidders struct {
	ids    []*identity.Identity
	answer messages.JobAssignReply
	tree   *supervisors.Tree
}

func bidderPeer(i int) string { return "12D3KooWBidder" + string(rune('A'+i)) }

func (b *bidders) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		b.tree = supervisors.TreeOf(c)
	case *messages.FindProviders:
		c.Respond(&messages.Providers{})
	case *messages.ListPeers:
		var l messages.PeerList
		for i := range b.ids {
			l.Peers = append(l.Peers, messages.PeerInfo{PeerID: bidderPeer(i), Connected: true})
		}
		c.Respond(&l)
	case *messages.PublishGossip:
		c.Respond(&messages.GossipPublished{})
		var a messages.JobAnnouncement
		if m.Type != messages.WireJobAnnounce || json.Unmarshal(m.Body, &a) != nil {
			return
		}
		for i, id := range b.ids {
			body, _ := json.Marshal(messages.JobBid{JobID: a.JobID, Bidder: id.DID().String(), Price: uint64(1 + i), Free: 1})
			in := &messages.PeerRequestIn{Type: messages.WireJobBid, From: id.DID().String(), Peer: bidderPeer(i), Body: body}
			tree := b.tree
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_, _ = tree.Request(ctx, Name, in) // a late bid is refused: as on a network
			}()
		}
	case *messages.AskPeer:
		if m.Type == messages.WireJobAssign {
			body, _ := json.Marshal(b.answer)
			c.Respond(&messages.PeerAnswer{Peer: m.Peer, Body: body})
			return
		}
		c.Respond(&messages.PeerAnswer{Peer: m.Peer})
	}
}

// A job whose executors all fail it is given to the next bid up to
// maxAttempts executors, then fails executor_lost with its escrow released.
// An executor that lost the job is blamed; one that was busy (or refused
// the job as over its limits) is not. The job's status lists the bids.
func TestJobFailsAfterMaxAttempts(t *testing.T) {
	for _, tc := range []struct {
		name   string
		answer messages.JobAssignReply
		blame  bool
	}{
		{"lost", messages.JobAssignReply{Reason: messages.ReasonExecutorLost, Detail: "the worker died"}, true},
		{"busy", messages.JobAssignReply{Reason: messages.AssignBusy, Detail: "refused: the job does not fit this node's limits"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ids := make([]*identity.Identity, maxAttempts)
			for i := range ids {
				id, err := identity.Generate(rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				ids[i] = id
			}
			n := startNodePeers(t, 0, Config{Price: 10, AssignTimeout: 5 * time.Second}, 500,
				func() actor.Actor { return &bidders{ids: ids, answer: tc.answer} })
			before := n.account(t).Available
			s, err := n.submit(t, messages.JobSpec{Module: n.module(t, "upper"), BidWindowMS: 2000})
			if err != nil {
				t.Fatal(err)
			}
			done := n.wait(t, s.ID)
			if done.State != messages.JobFailed || !strings.HasPrefix(done.Reason, messages.ReasonExecutorLost+": ") ||
				!strings.Contains(done.Reason, tc.answer.Detail) {
				t.Fatalf("state %s (%s), want failed %s", done.State, done.Reason, messages.ReasonExecutorLost)
			}
			// Each bidder in turn, cheapest first.
			if c := strings.Count(strings.Join(states(done), ","), messages.JobAssigned); c != maxAttempts {
				t.Fatalf("assigned %d times, want %d: %v", c, maxAttempts, states(done))
			}
			// The last executor keeps the job when it lost it; one that was
			// busy does not (nor is it blamed at settle).
			if last := ids[maxAttempts-1].DID().String(); tc.blame && done.Executor != last || !tc.blame && done.Executor != "" {
				t.Fatalf("executor %q at the end", done.Executor)
			}
			if e := n.entries(t, s.ID); e[messages.OpReserve] != 1 || e[messages.OpRelease] != 1 || e[messages.OpSettle] != 0 {
				t.Fatalf("ledger entries for the job: %v", e)
			}
			if a := n.account(t); a.Available != before || a.Reserved != 0 {
				t.Fatalf("available %d reserved %d, want %d and 0", a.Available, a.Reserved, before)
			}
			for _, id := range ids {
				r, err := retry[*messages.ReputationInfo](t, n, "ledger", &messages.GetReputation{DID: id.DID().String()})
				if err != nil {
					t.Fatal(err)
				}
				if blamed := r.Failures == 1; blamed != tc.blame || r.Successes != 0 {
					t.Fatalf("reputation of %s: %+v, blamed %v", id.DID(), r, tc.blame)
				}
			}
			if got := testutil.ToFloat64(n.metrics.bids.WithLabelValues("received")); got != maxAttempts {
				t.Fatalf("icn_bids_total{result=received} = %v, want %d", got, maxAttempts)
			}
			want := map[string]uint64{}
			for i, id := range ids {
				want[id.DID().String()] = uint64(1 + i)
			}
			got := map[string]uint64{}
			for _, b := range done.Bids {
				if b.Time.IsZero() {
					t.Fatalf("bid %+v has no time", b)
				}
				got[b.Executor] = b.Price
			}
			if len(done.Bids) != len(ids) || !maps.Equal(got, want) {
				t.Fatalf("bids %+v, want one from each bidder at its price %v", done.Bids, want)
			}
		})
	}
}
