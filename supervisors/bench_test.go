package supervisors

import (
	"context"
	"io"
	"log/slog"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
)

// echo answers whoAreYou and panics on explode.
type echo struct{}

func (echo) Receive(c actor.Context) {
	switch c.Message().(type) {
	case *whoAreYou:
		c.Respond(&iAm{Name: "echo"})
	case *explode:
		panic("explode")
	}
}

func benchTree(b *testing.B) *Tree {
	b.Helper()
	d := ProductionDefaults()
	d.Intensity = math.MaxInt32 // measure restarts, not breakers
	d.Backoff.ResetAfter = time.Nanosecond
	spec := Spec{Name: "icn", Children: []ChildSpec{{Name: "echo", Restart: Permanent, New: func() actor.Actor { return echo{} }}}}
	tree, err := New(spec, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(), WithDefaults(d))
	if err != nil {
		b.Fatal(err)
	}
	if err := tree.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = tree.Stop(context.Background()) })
	return tree
}

// BenchmarkRequest compares a request/response to a subsystem through name
// lookup, supervision and the tree's middleware with bare protoactor-go.
func BenchmarkRequest(b *testing.B) {
	b.Run("bare-protoactor", func(b *testing.B) {
		sys := actor.NewActorSystem(actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger {
			return slog.New(slog.NewTextHandler(io.Discard, nil))
		}))
		pid := sys.Root.Spawn(actor.PropsFromProducer(func() actor.Actor { return echo{} }))
		b.Cleanup(func() { _ = sys.Root.StopFuture(pid).Wait(); sys.Shutdown() })
		msg := &whoAreYou{}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := sys.Root.RequestFuture(pid, msg, 5*time.Second).Result(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("supervised-by-name", func(b *testing.B) {
		tree := benchTree(b)
		ctx := context.Background()
		msg := &whoAreYou{}
		b.ReportAllocs()
		for b.Loop() {
			if _, err := tree.Request(ctx, "echo", msg); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkPanicToAnswer measures a panic in a child until the restarted
// child answers again: the request is sent right behind the fatal message,
// waits in the mailbox across the restart, and is answered by the new
// instance. Reports p50 and p99.
func BenchmarkPanicToAnswer(b *testing.B) {
	tree := benchTree(b)
	ctx := context.Background()
	var lat []time.Duration
	for b.Loop() {
		began := time.Now()
		if err := tree.Send(ctx, "echo", &explode{}); err != nil {
			b.Fatal(err)
		}
		if _, err := tree.Request(ctx, "echo", &whoAreYou{}); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(began))
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) }
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	n, err := tree.Actor("echo")
	if err != nil || n.Restarts < uint64(len(lat)) {
		b.Fatalf("restarts %d for %d panics (%v)", n.Restarts, len(lat), err)
	}
}
