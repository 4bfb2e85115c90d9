package wiring

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// meshFederation is three nodes where the first executes nothing (workers
// 0), so its jobs must run on one of the other two.
func meshFederation(t *testing.T) []*Node {
	t.Helper()
	return federationWith(t, 3, func(i int, c *Config) {
		if i == 0 {
			c.Workers = 0
		}
	})
}

// putModule stores the WAT corpus module name on n.
func putModule(t *testing.T, n *Node, name string) cid.Cid {
	t.Helper()
	b, err := block.NewRaw(wasmtest.WAT(t, name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.Tree.Request(t.Context(), "dag", &messages.PutBlocks{Blocks: []block.Block{b}}); err != nil {
		t.Fatal(err)
	}
	return b.CID()
}

// askJobs asks n's job manager until it is past loading.
func askJobs[R any](t *testing.T, n *Node, msg any) R {
	t.Helper()
	var out R
	if err := waitUntil(20*time.Second, func() bool {
		r, err := supervisors.Ask[R](t.Context(), n.Tree, "jobs", msg)
		out = r
		return err == nil
	}); err != nil {
		t.Fatalf("jobs never answered %T", msg)
	}
	return out
}

// waitJob polls the job on n until pred holds.
func waitJob(t *testing.T, n *Node, id string, d time.Duration, pred func(*messages.JobStatus) bool) *messages.JobStatus {
	t.Helper()
	var s *messages.JobStatus
	if err := waitUntil(d, func() bool {
		s = askJobs[*messages.JobStatus](t, n, &messages.GetJob{ID: id})
		return pred(s)
	}); err != nil {
		// What a job that never moved saw, for a failure that is rare.
		peers, perr := supervisors.Ask[*messages.PeerList](t.Context(), n.Tree, "peers", &messages.ListPeers{})
		var connected []string
		if perr == nil {
			for _, p := range peers.Peers {
				if p.Connected {
					connected = append(connected, p.PeerID)
				}
			}
		}
		t.Fatalf("job %s: %s (%s) executor %s; bids seen %+v; history %+v; connected peers %v (%v)",
			id, s.State, s.Reason, s.Executor, s.Bids, s.History, connected, perr)
	}
	return s
}

// runningOnAnother submits spec (its module put first) on the first of a
// mesh federation and returns once the job runs on one of the others:
// the job's status then, and the executor's node.
func runningOnAnother(t *testing.T, nodes []*Node, module string, spec messages.JobSpec) (*messages.JobStatus, *Node) {
	t.Helper()
	spec.Module = putModule(t, nodes[0], module)
	s := askJobs[*messages.JobStatus](t, nodes[0], &messages.SubmitJob{Spec: spec})
	running := waitJob(t, nodes[0], s.ID, 30*time.Second, func(s *messages.JobStatus) bool {
		return s.State == messages.JobRunning || messages.JobFinal(s.State)
	})
	exec := nodeByDID(nodes[1:], running.Executor)
	if running.State != messages.JobRunning || exec == nil {
		t.Fatalf("state %s (%s) executor %q: not running on another node", running.State, running.Reason, running.Executor)
	}
	return running, exec
}

// nodeByDID is the node of nodes whose DID is d (nil if none).
func nodeByDID(nodes []*Node, d string) *Node {
	for _, n := range nodes {
		if did(n) == d {
			return n
		}
	}
	return nil
}

func finished(s *messages.JobStatus) bool { return messages.JobFinal(s.State) && s.Settled }

func did(n *Node) string { return n.Identity.DID().String() }

// A job submitted on a node without workers runs on another node, which is
// paid its bid from the submitter's account.
func TestMeshJobRunsOnAnotherNode(t *testing.T) {
	nodes := meshFederation(t)
	a := nodes[0]
	mod := putModule(t, a, "upper")
	s := askJobs[*messages.JobStatus](t, a, &messages.SubmitJob{Spec: messages.JobSpec{Module: mod, Input: []byte("hello, mesh")}})
	done := waitJob(t, a, s.ID, 30*time.Second, finished)
	if done.State != messages.JobCompleted {
		t.Fatalf("state %s (%s)", done.State, done.Reason)
	}
	executors := []string{did(nodes[1]), did(nodes[2])}
	if !slices.Contains(executors, done.Executor) || done.Receipt == nil || done.Receipt.Executor != done.Executor {
		t.Fatalf("executor %s receipt %+v, want one of %v", done.Executor, done.Receipt, executors)
	}
	out, err := supervisors.Ask[*messages.GetBlockReply](t.Context(), a.Tree, "dag", &messages.GetBlock{CID: done.Receipt.Output})
	if err != nil || string(out.Block.Data()) != "HELLO, MESH" {
		t.Fatalf("output on the submitter: %v", err)
	}
	l, err := supervisors.Ask[*messages.EntryList](t.Context(), a.Tree, "ledger", &messages.ListEntries{Account: did(a)})
	if err != nil {
		t.Fatal(err)
	}
	var settles []messages.EntryInfo
	for _, e := range l.Entries {
		if e.Ref == s.ID && e.Op == messages.OpSettle {
			settles = append(settles, e)
		}
	}
	if len(settles) != 1 || settles[0].Counterparty != done.Executor || settles[0].Amount != done.Cost || done.Cost <= done.Price {
		t.Fatalf("settles of the job on the submitter: %+v (price %d, fuel price %d, cost %d)", settles, done.Price, done.FuelPrice, done.Cost)
	}
	// The executor's node received the payment on its own chain, citing
	// the settle, once its ledger verified the payer's chain.
	exec := nodeByDID(nodes[1:], done.Executor)
	if recv := waitReceived(t, exec, did(a), done.Cost); !recv.Source.Equals(settles[0].CID) {
		t.Fatalf("receive on the executor %+v, want of %s", recv, settles[0].CID)
	}
	// Told again, it is not received twice.
	if _, err := supervisors.Ask[*messages.EntryReply](t.Context(), exec.Tree, "ledger", &messages.ReceivePayment{Source: settles[0].CID}); !errors.Is(err, messages.ErrAlreadyReceived) {
		t.Fatalf("second receive: %v", err)
	}
	if r, err := supervisors.Ask[*messages.VerifyReport](t.Context(), exec.Tree, "ledger", &messages.VerifyAccount{Account: done.Executor}); err != nil || !r.Valid {
		t.Fatalf("executor chain: %+v, %v", r, err)
	}
	acct, err := supervisors.Ask[*messages.AccountInfo](t.Context(), a.Tree, "ledger", &messages.GetAccount{Account: did(a)})
	if err != nil || acct.Reserved != 0 {
		t.Fatalf("submitter account %+v, %v", acct, err)
	}
	rep, err := supervisors.Ask[*messages.ReputationInfo](t.Context(), a.Tree, "ledger", &messages.GetReputation{DID: done.Executor})
	if err != nil || rep.Successes != 1 || rep.Score <= 50 {
		t.Fatalf("executor reputation on the submitter: %+v, %v", rep, err)
	}
}

// The executor's node dropping off the network mid-job: the job goes to
// the other bidder and completes there.
func TestMeshJobReassignedWhenExecutorLost(t *testing.T) {
	nodes := meshFederation(t)
	a := nodes[0]
	s, lost := runningOnAnother(t, nodes, "loop", messages.JobSpec{Input: binary.LittleEndian.AppendUint64(nil, 400_000_000)})
	other := nodes[1]
	if other == lost {
		other = nodes[2]
	}
	if _, err := supervisors.Ask[*messages.Faults](t.Context(), lost.Tree, "peers",
		&messages.BlockPeers{Peers: []string{a.Network.ID().String(), other.Network.ID().String()}}); err != nil {
		t.Fatal(err)
	}
	done := waitJob(t, a, s.ID, 60*time.Second, finished)
	if done.State != messages.JobCompleted || done.Executor != did(other) {
		t.Fatalf("state %s (%s) executor %s, want completed on %s; history %v", done.State, done.Reason, done.Executor, did(other), done.History)
	}
	assigned := 0
	for _, h := range done.History {
		if h.State == messages.JobAssigned {
			assigned++
		}
	}
	// The node that ran it is paid (and the payment received there), the
	// cut-off one is not.
	waitReceived(t, other, did(a), done.Cost)
	// The cut-off node still runs its copy: let it end before the nodes
	// stop, so that no call is left waiting on a stopped tree.
	if err := waitUntil(20*time.Second, func() bool {
		s, err := supervisors.Ask[*messages.SubsystemStatus](t.Context(), lost.Tree, "executors", &messages.StatusRequest{})
		return err == nil && s.Details["busy"] == "0"
	}); err != nil {
		t.Fatal("the cut-off executor never finished its run")
	}
	if assigned != 2 {
		t.Fatalf("history %+v, want two assignments", done.History)
	}
}

// waitReceived waits for n's own account to receive a payment from payer,
// and checks its amount.
func waitReceived(t *testing.T, n *Node, payer string, amount uint64) messages.EntryInfo {
	t.Helper()
	var recv messages.EntryInfo
	if err := waitUntil(20*time.Second, func() bool {
		l, err := supervisors.Ask[*messages.EntryList](t.Context(), n.Tree, "ledger", &messages.ListEntries{Account: did(n)})
		if err != nil {
			return false
		}
		for _, e := range l.Entries {
			if e.Op == messages.OpReceive && e.Counterparty == payer {
				recv = e
				return true
			}
		}
		return false
	}); err != nil {
		t.Fatalf("%s never received a payment from %s", did(n), payer)
	}
	if recv.Amount != amount {
		t.Fatalf("received %+v, want %d", recv, amount)
	}
	return recv
}

// Cancelling a job that runs on another node stops the run there: the
// executor's worker is free long before the job would have ended.
func TestMeshCancelStopsTheRemoteRun(t *testing.T) {
	nodes := meshFederation(t)
	a := nodes[0]
	// Fuel for about a minute: only the cancel can end the run within the test.
	s, exec := runningOnAnother(t, nodes, "infinite", messages.JobSpec{Limits: messages.JobLimits{TimeoutMS: 60_000, Fuel: 60 * messages.FuelUnit}})
	busy := func() string {
		st, err := supervisors.Ask[*messages.SubsystemStatus](t.Context(), exec.Tree, "executors", &messages.StatusRequest{})
		if err != nil {
			return "?"
		}
		return st.Details["busy"]
	}
	if err := waitUntil(10*time.Second, func() bool { return busy() == "1" }); err != nil {
		t.Fatalf("the executor never ran the job: busy %s", busy())
	}
	began := time.Now()
	if c := askJobs[*messages.JobStatus](t, a, &messages.CancelJob{ID: s.ID}); c.State != messages.JobCancelled {
		t.Fatalf("cancel answered %s", c.State)
	}
	// The job would run 60 s; its worker is free in well under that.
	if err := waitUntil(10*time.Second, func() bool { return busy() == "0" }); err != nil {
		t.Fatalf("the remote run was not stopped: busy %s", busy())
	}
	t.Logf("remote run stopped %s after the cancel", time.Since(began).Round(time.Millisecond))
	if done := waitJob(t, a, s.ID, 10*time.Second, finished); done.State != messages.JobCancelled {
		t.Fatalf("state %s", done.State)
	}
}

// Killing the executor's worker, or its whole executors supervisor, under
// a job that runs on another node: the job still completes (run again on
// the executor's node, or reassigned), with a receipt that verified.
func TestMeshExecutorKilledMidJob(t *testing.T) {
	for _, target := range []string{"worker", "executors"} {
		t.Run(target, func(t *testing.T) {
			nodes := meshFederation(t)
			a := nodes[0]
			s, exec := runningOnAnother(t, nodes, "loop", messages.JobSpec{Input: binary.LittleEndian.AppendUint64(nil, 400_000_000)})
			// The worker that runs it.
			var worker string
			if err := waitUntil(10*time.Second, func() bool {
				for i := range exec.Config.Workers {
					name := fmt.Sprintf("worker-%d", i)
					st, err := supervisors.Ask[*messages.SubsystemStatus](t.Context(), exec.Tree, name, &messages.StatusRequest{})
					if err == nil && st.Details["job"] == s.ID {
						worker = name
						return true
					}
				}
				return false
			}); err != nil {
				t.Fatal("no worker of the executor runs the job")
			}
			victim, mode := worker, supervisors.KillStop
			if target == "executors" {
				victim, mode = "executors", supervisors.KillPanic
			}
			if err := exec.Tree.Kill(t.Context(), victim, mode); err != nil {
				t.Fatal(err)
			}
			done := waitJob(t, a, s.ID, 60*time.Second, finished)
			if done.State != messages.JobCompleted || done.Receipt == nil || done.Receipt.Executor != done.Executor {
				t.Fatalf("state %s (%s) receipt %+v; history %v", done.State, done.Reason, done.Receipt, done.History)
			}
		})
	}
}
