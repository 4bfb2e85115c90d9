package executors

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/intercooperative-network/icn-go/actors/actortest"
	"github.com/intercooperative-network/icn-go/actors/dag"
	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/store/memstore"
	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
	"github.com/intercooperative-network/icn-go/supervisors"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
		goleak.IgnoreAnyFunction("github.com/golang/glog.(*fileSink).flushDaemon"),
	)
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// node is a tree with the dag, a peer manager that knows no other node (so
// a fetch of a missing block fails as not found) and an executor pool, over
// a memory store and a real engine.
type node struct {
	tree    *supervisors.Tree
	id      *identity.Identity
	metrics *Metrics
}

func startNode(t *testing.T, workers int) *node {
	t.Helper()
	return startNodeWith(t, workers, clock.Real{})
}

// startNodeWith starts a node whose pool runs on clk (the dag on real time).
func startNodeWith(t *testing.T, workers int, clk clock.Clock) *node {
	t.Helper()
	return startNodeSized(t, workers, clk, 4<<20)
}

// startNodeSized starts a node whose dag takes blocks of up to maxBlock bytes.
func startNodeSized(t *testing.T, workers int, clk clock.Clock, maxBlock int) *node {
	t.Helper()
	id, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	eng := actortest.Engine(t)
	reg := prometheus.NewRegistry()
	em, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	tree := actortest.Start(t, reg,
		actortest.DAG(t, reg, memstore.New(), clock.Real{}, maxBlock),
		actortest.Peers(nil),
		supervisors.ChildSpec{Name: Name, Restart: supervisors.Permanent, Supervisor: Spec(workers,
			Deps{Engine: eng, Identity: id, Clock: clk, Metrics: em, Logger: discard()})},
	)
	return &node{tree: tree, id: id, metrics: em}
}

// put stores data as a raw block and returns its CID.
func (n *node) put(t *testing.T, data []byte) cid.Cid {
	t.Helper()
	b, err := block.NewRaw(data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.tree.Request(context.Background(), dag.Name, &messages.PutBlocks{Blocks: []block.Block{b}}); err != nil {
		t.Fatal(err)
	}
	return b.CID()
}

// module stores the WAT corpus module name.
func (n *node) module(t *testing.T, name string) cid.Cid {
	t.Helper()
	return n.put(t, wasmtest.WAT(t, name))
}

// block reads a block from the dag.
func (n *node) block(t *testing.T, c cid.Cid) block.Block {
	t.Helper()
	r, err := supervisors.Ask[*messages.GetBlockReply](context.Background(), n.tree, dag.Name, &messages.GetBlock{CID: c})
	if err != nil {
		t.Fatal(err)
	}
	return r.Block
}

// run asks the pool to run a job and waits for the answer.
func (n *node) run(job *messages.RunJob) (*messages.JobReceipt, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return supervisors.Ask[*messages.JobReceipt](ctx, n.tree, Name, job)
}

// begin starts a job and returns the call to wait on.
func (n *node) begin(t *testing.T, job *messages.RunJob) *supervisors.Call {
	t.Helper()
	call, err := n.tree.Begin(context.Background(), Name, job)
	if err != nil {
		t.Fatal(err)
	}
	return call
}

// status asks an actor of the pool for its status.
func (n *node) status(t *testing.T, name string) *messages.SubsystemStatus {
	t.Helper()
	st, err := supervisors.Ask[*messages.SubsystemStatus](context.Background(), n.tree, name, &messages.StatusRequest{})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// waitFor polls cond until it holds, or fails the test after 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// failure returns err's reason, failing the test when err is no JobFailure.
func failure(t *testing.T, err error) string {
	t.Helper()
	var f *messages.JobFailure
	if !errors.As(err, &f) || !errors.Is(err, messages.ErrJobFailed) {
		t.Fatalf("want a job failure, got %v", err)
	}
	return f.Reason
}
