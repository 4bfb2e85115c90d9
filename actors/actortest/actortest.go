// Package actortest assembles supervision trees of real actors for the
// actors' own tests: fast supervision timings, a dag over a given store, a
// peer manager that knows no other node, a real WASM engine, and a tree
// that stops when the test ends. Production code never imports it.
package actortest

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/actors/dag"
	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/runtest"
	"github.com/intercooperative-network/icn-go/services/store"
	"github.com/intercooperative-network/icn-go/services/wasm"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// Discard is a logger that writes nothing.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Defaults are supervision timings for tests: a restart budget no test
// exhausts by accident, millisecond backoff, and breakers that reopen in
// tens of milliseconds.
func Defaults() supervisors.Defaults {
	d := supervisors.ProductionDefaults()
	d.Intensity, d.Period = 10_000, time.Minute
	d.Backoff.Initial, d.Backoff.Max = time.Millisecond, 5*time.Millisecond
	d.Breaker.OpenTimeout, d.Breaker.MaxOpenTimeout = 10*time.Millisecond, 50*time.Millisecond
	return d
}

// NoPeers is a peer manager of a node alone: nobody provides a block, no
// peer is connected, gossip goes to nobody.
type NoPeers struct{}

// Receive implements actor.Actor.
func (NoPeers) Receive(c actor.Context) {
	switch c.Message().(type) {
	case *messages.FindProviders:
		c.Respond(&messages.Providers{})
	case *messages.ListPeers:
		c.Respond(&messages.PeerList{})
	case *messages.PublishGossip:
		c.Respond(&messages.GossipPublished{})
	}
}

// Peers is the child spec of a peer manager made by newPeers (NoPeers
// when nil).
func Peers(newPeers func() actor.Actor) supervisors.ChildSpec {
	if newPeers == nil {
		newPeers = func() actor.Actor { return NoPeers{} }
	}
	return supervisors.ChildSpec{Name: "peers", Restart: supervisors.Permanent, New: newPeers}
}

// Fataler is the part of testing.TB that building a child spec needs.
type Fataler interface {
	Helper()
	Fatal(args ...any)
}

// DAG is the child spec of a dag over st, its metrics on reg, blocks of up
// to maxBlock bytes, unpinned blocks kept an hour.
func DAG(tb Fataler, reg *prometheus.Registry, st store.Store, clk clock.Clock, maxBlock int) supervisors.ChildSpec {
	tb.Helper()
	m, err := dag.NewMetrics(reg)
	if err != nil {
		tb.Fatal(err)
	}
	return supervisors.ChildSpec{Name: dag.Name, Restart: supervisors.Permanent, New: dag.New(dag.Deps{Store: st, Clock: clk,
		Config: dag.Config{MaxBlockSize: maxBlock, GCGrace: time.Hour}, Metrics: m, Logger: Discard()})}
}

// Engine is a WASM engine closed when the test ends (after a tree started
// later, whose cleanup runs first).
func Engine(tb testing.TB) *wasm.Engine {
	tb.Helper()
	eng, err := wasm.New(wasm.WithLogger(Discard()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := eng.Close(context.Background()); err != nil {
			tb.Error(err)
		}
	})
	return eng
}

// Start starts a tree named icn of children, with Defaults, its metrics on
// reg, and stops it when the test ends.
func Start(tb testing.TB, reg *prometheus.Registry, children ...supervisors.ChildSpec) *supervisors.Tree {
	tb.Helper()
	tree, err := supervisors.New(supervisors.Spec{Name: "icn", Children: children}, Discard(), reg, supervisors.WithDefaults(Defaults()))
	if err != nil {
		tb.Fatal(err)
	}
	runtest.Start(tb, tree)
	return tree
}

// InFlight runs op(0) to op(n-1), at most inFlight at a time, and returns
// how long they took together and the first error (the others still run).
// It is the load of the throughput benchmarks.
func InFlight(n, inFlight int, op func(i int) error) (time.Duration, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	slots := make(chan struct{}, inFlight)
	start := time.Now()
	for i := range n {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			if err := op(i); err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return time.Since(start), first
}
