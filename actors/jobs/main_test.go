package jobs

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/ipfs/go-cid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/intercooperative-network/icn-go/actors/actortest"
	"github.com/intercooperative-network/icn-go/actors/dag"
	"github.com/intercooperative-network/icn-go/actors/executors"
	"github.com/intercooperative-network/icn-go/actors/ledger"
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

// node is a tree with the dag, a stub peer manager, the ledger, an
// executor pool and the job manager, over a memory store and a real
// engine.
type node struct {
	tree    *supervisors.Tree
	id      *identity.Identity
	metrics *Metrics
}

func startNode(t *testing.T, workers int, cfg Config) *node {
	t.Helper()
	return startNodeWith(t, workers, cfg, 500)
}

// startNodeWith is startNode with the node account opening with initial
// mana (the benchmarks need room for thousands of jobs).
func startNodeWith(tb testing.TB, workers int, cfg Config, initial uint64) *node {
	tb.Helper()
	return startNodePeers(tb, workers, cfg, initial, nil)
}

// startNodePeers is startNodeWith with peers as its peer manager (nil: a
// node alone).
func startNodePeers(tb testing.TB, workers int, cfg Config, initial uint64, peers func() actor.Actor) *node {
	tb.Helper()
	return startNodeDeps(tb, workers, cfg, initial, peers, nil)
}

// startNodeDeps is startNodePeers with the manager's Deps changed by
// change (nil: none), for test hooks.
func startNodeDeps(tb testing.TB, workers int, cfg Config, initial uint64, peers func() actor.Actor, change func(*Deps)) *node {
	tb.Helper()
	return startNodeSized(tb, workers, cfg, initial, peers, change, 4<<20)
}

// startNodeSized is startNodeDeps with a dag that takes blocks of up to
// maxBlock bytes.
func startNodeSized(tb testing.TB, workers int, cfg Config, initial uint64, peers func() actor.Actor, change func(*Deps), maxBlock int) *node {
	tb.Helper()
	id, err := identity.Generate(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	eng := actortest.Engine(tb)
	reg := prometheus.NewRegistry()
	lm, err := ledger.NewMetrics(reg)
	if err != nil {
		tb.Fatal(err)
	}
	em, err := executors.NewMetrics(reg)
	if err != nil {
		tb.Fatal(err)
	}
	jm, err := NewMetrics(reg)
	if err != nil {
		tb.Fatal(err)
	}
	deps := Deps{Identity: id, Clock: clock.Real{}, Config: cfg, Metrics: jm, Logger: discard()}
	if change != nil {
		change(&deps)
	}
	st := memstore.New()
	params := ledger.DefaultParams()
	params.Initial = initial
	tree := actortest.Start(tb, reg,
		actortest.DAG(tb, reg, st, clock.Real{}, maxBlock),
		actortest.Peers(peers),
		supervisors.ChildSpec{Name: ledger.Name, Restart: supervisors.Permanent, New: ledger.New(ledger.Deps{Keyring: identity.NewMemoryKeyring(id, rand.Reader, 0),
			Store: st, Clock: clock.Real{}, Params: params, Metrics: lm, Logger: discard()})},
		supervisors.ChildSpec{Name: executors.Name, Restart: supervisors.Permanent, Supervisor: executors.Spec(workers,
			executors.Deps{Engine: eng, Identity: id, Clock: clock.Real{}, Metrics: em, Logger: discard()})},
		supervisors.ChildSpec{Name: Name, Restart: supervisors.Permanent, Supervisor: Spec(deps)},
	)
	return &node{tree: tree, id: id, metrics: jm}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// retry asks until the subsystem is past loading or restarting.
func retry[R any](t *testing.T, n *node, name string, msg any) (R, error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r, err := supervisors.Ask[R](ctx(t), n.tree, name, msg)
		var u *supervisors.UnavailableError
		if (errors.As(err, &u) || errors.Is(err, supervisors.ErrNotRunning)) && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
			continue
		}
		return r, err
	}
}

// module stores the WAT corpus module name.
func (n *node) module(t *testing.T, name string) cid.Cid {
	t.Helper()
	b, err := block.NewRaw(wasmtest.WAT(t, name))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.tree.Request(ctx(t), dag.Name, &messages.PutBlocks{Blocks: []block.Block{b}}); err != nil {
		t.Fatal(err)
	}
	return b.CID()
}

func (n *node) submit(t *testing.T, spec messages.JobSpec) (*messages.JobStatus, error) {
	t.Helper()
	return retry[*messages.JobStatus](t, n, Name, &messages.SubmitJob{Spec: spec})
}

// wait polls the job until it is final and settled.
func (n *node) wait(t *testing.T, id string) *messages.JobStatus {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		s, err := retry[*messages.JobStatus](t, n, Name, &messages.GetJob{ID: id})
		if err != nil {
			t.Fatal(err)
		}
		if messages.JobFinal(s.State) && s.Settled {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s still %s", id, s.State)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitUntil polls cond until it holds, failing the test after 10 s.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 10s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (n *node) account(t *testing.T) *messages.AccountInfo {
	t.Helper()
	a, err := retry[*messages.AccountInfo](t, n, ledger.Name, &messages.GetAccount{Account: n.id.DID().String()})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// entries counts the ledger entries of the node's account for ref, by op.
func (n *node) entries(t *testing.T, ref string) map[string]int {
	t.Helper()
	l, err := retry[*messages.EntryList](t, n, ledger.Name, &messages.ListEntries{Account: n.id.DID().String()})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range l.Entries {
		if e.Ref == ref {
			out[e.Op]++
		}
	}
	return out
}

func (n *node) block(t *testing.T, c cid.Cid) []byte {
	t.Helper()
	r, err := supervisors.Ask[*messages.GetBlockReply](ctx(t), n.tree, dag.Name, &messages.GetBlock{CID: c})
	if err != nil {
		t.Fatal(err)
	}
	return r.Block.Data()
}

func states(s *messages.JobStatus) []string {
	var out []string
	for _, h := range s.History {
		out = append(out, h.State)
	}
	return out
}

func le64(n uint64) []byte { return binary.LittleEndian.AppendUint64(nil, n) }
