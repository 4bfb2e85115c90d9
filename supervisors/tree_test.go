package supervisors

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/intercooperative-network/icn-go/messages/correlation"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Messages understood by the test worker.
type (
	whoAreYou struct{}
	iAm       struct {
		Name        string
		Incarnation int64
		Correlation string
	}
	explode struct{}
)

// lab is shared by all test workers of one test: it counts incarnations and
// records lifecycle events, and can make workers fail on start.
type lab struct {
	incarnations atomic.Int64
	mu           sync.Mutex
	stops        []string
	broken       sync.Map // name -> bool: panic in Started
}

func (l *lab) worker(name string) func() actor.Actor {
	return func() actor.Actor { return &testWorker{lab: l, name: name, incarnation: l.incarnations.Add(1)} }
}

func (l *lab) stopOrder() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.stops)
}

type testWorker struct {
	lab         *lab
	name        string
	incarnation int64
}

func (w *testWorker) Receive(c actor.Context) {
	switch c.Message().(type) {
	case *actor.Started:
		if b, _ := w.lab.broken.Load(w.name); b == true {
			panic("broken on start: " + w.name)
		}
	case *actor.Stopping:
		w.lab.mu.Lock()
		w.lab.stops = append(w.lab.stops, w.name)
		w.lab.mu.Unlock()
	case *whoAreYou:
		var id string
		if h := c.MessageHeader(); h != nil {
			id = h.Get(correlation.Header)
		}
		c.Respond(&iAm{Name: w.name, Incarnation: w.incarnation, Correlation: id})
	case *explode:
		panic("asked to explode")
	}
}

// fastDefaults keeps fake-time tests short and readable.
func fastDefaults() Defaults {
	return Defaults{
		Intensity: 3, Period: time.Second,
		Backoff:  Backoff{Initial: 10 * time.Millisecond, Max: 40 * time.Millisecond, Multiplier: 2, ResetAfter: 100 * time.Millisecond},
		Breaker:  BreakerPolicy{OpenTimeout: 100 * time.Millisecond, MaxOpenTimeout: 400 * time.Millisecond, Multiplier: 2, Probes: 2, ProbeWindow: 50 * time.Millisecond},
		Escalate: Escalation{MaxTrips: 3, Window: 10 * time.Second},
		Shutdown: 100 * time.Millisecond,
	}
}

func workers(l *lab, restart RestartType, names ...string) []ChildSpec {
	var cs []ChildSpec
	for _, n := range names {
		cs = append(cs, ChildSpec{Name: n, Restart: restart, New: l.worker(n)})
	}
	return cs
}

type running struct {
	tree *Tree
	reg  *prometheus.Registry
	lab  *lab
}

// start builds and starts a tree inside the current synctest bubble and
// stops it when the test ends.
func start(t *testing.T, spec Spec, l *lab) running {
	t.Helper()
	return startLogged(t, spec, l, discardLogger())
}

// startLogged is start with the tree logging to logger.
func startLogged(t *testing.T, spec Spec, l *lab, logger *slog.Logger) running {
	t.Helper()
	reg := prometheus.NewRegistry()
	tree, err := New(spec, logger, reg, WithDefaults(fastDefaults()), WithRand(func() float64 { return 0.5 }))
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tree.Stop(context.Background()); err != nil {
			t.Errorf("stop: %v", err)
		}
		settleDeadLetterLog()
	})
	return running{tree: tree, reg: reg, lab: l}
}

// settleDeadLetterLog lets protoactor's dead-letter log throttle, a goroutine
// that lives one throttle interval (1 s) after a dead letter, end inside the
// bubble. Fake time: this costs nothing.
func settleDeadLetterLog() { time.Sleep(1100 * time.Millisecond) }

func (r running) who(t *testing.T, name string) iAm {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	res, err := Ask[*iAm](ctx, r.tree, name, &whoAreYou{})
	if err != nil {
		t.Fatalf("ask %s: %v", name, err)
	}
	return *res
}

// breakOnStart makes name panic on every start, panics it, and waits
// until the restarts that follow have used up its budget and opened its
// breaker.
func (r running) breakOnStart(t *testing.T, l *lab, name string) {
	t.Helper()
	l.broken.Store(name, true)
	if err := r.tree.Kill(t.Context(), name, KillPanic); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for r.node(t, name).Breaker != "open" {
		if time.Now().After(deadline) {
			t.Fatalf("breaker never opened: %+v", r.node(t, name))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (r running) node(t *testing.T, path string) Node {
	t.Helper()
	n, err := r.tree.Actor(path)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestPanicRestartsInPlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		r := start(t, Spec{Name: "icn", Children: workers(l, Permanent, "dag", "ledger")}, l)
		before := r.who(t, "dag")
		pidBefore, _ := r.tree.Lookup("dag")

		if _, err := r.tree.Request(t.Context(), "dag", &explode{}); !isActorFailed(err) {
			t.Fatalf("request that panicked: err = %v, want *ActorFailedError", err)
		}
		synctest.Wait()

		after := r.who(t, "dag")
		pidAfter, _ := r.tree.Lookup("dag")
		if after.Incarnation == before.Incarnation {
			t.Fatal("dag was not re-created")
		}
		if !pidAfter.Equal(pidBefore) {
			t.Fatalf("restart changed the PID: %s -> %s", pidBefore, pidAfter)
		}
		n := r.node(t, "/icn/dag")
		if n.Restarts != 1 || n.Failures != 1 || n.Status != "running" || n.LastFailure == nil || n.LastFailure.MessageType != "*supervisors.explode" {
			t.Fatalf("dag node after a panic: %+v", n)
		}
		if got := testutil.ToFloat64(r.tree.metrics.restarts.WithLabelValues("/icn/dag")); got != 1 {
			t.Fatalf("icn_actor_restarts_total{actor=/icn/dag} = %v, want 1", got)
		}
		if l := r.who(t, "ledger"); l.Incarnation != 2 {
			t.Fatalf("one_for_one restarted the sibling (incarnation %d)", l.Incarnation)
		}
	})
}

func isActorFailed(err error) bool {
	var af *ActorFailedError
	return errors.As(err, &af)
}

func TestKillModesRestartAPermanentChild(t *testing.T) {
	for _, mode := range []KillMode{KillPanic, KillStop, KillPoison} {
		t.Run(mode.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := &lab{}
				r := start(t, Spec{Name: "icn", Children: workers(l, Permanent, "dag")}, l)
				const kills = 10
				last := r.who(t, "dag").Incarnation
				for i := range kills {
					if err := r.tree.Kill(t.Context(), "/icn/dag", mode); err != nil {
						t.Fatalf("kill %d: %v", i, err)
					}
					synctest.Wait()
					time.Sleep(time.Second) // fake time: past any backoff or breaker timeout
					synctest.Wait()
					now := r.who(t, "dag").Incarnation
					if now == last {
						t.Fatalf("kill %d (%s): dag was not restarted", i, mode)
					}
					last = now
				}
				n := r.node(t, "/icn/dag")
				wantFailures := uint64(kills)
				if mode == KillPoison {
					wantFailures = 0 // a poisoned actor exits normally
				}
				if n.Restarts != kills || n.Failures != wantFailures {
					t.Fatalf("after %d %s kills: restarts %d failures %d, want %d and %d", kills, mode, n.Restarts, n.Failures, kills, wantFailures)
				}
				if got := testutil.ToFloat64(r.tree.metrics.restarts.WithLabelValues("/icn/dag")); got != kills {
					t.Fatalf("restart counter %v, want %d", got, kills)
				}
			})
		})
	}
}

func TestTransientAndTemporaryChildren(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		children := append(workers(l, Transient, "tr"), workers(l, Temporary, "tmp")...)
		r := start(t, Spec{Name: "icn", Children: children}, l)
		if err := r.tree.Kill(t.Context(), "tr", KillPoison); err != nil {
			t.Fatal(err)
		}
		if err := r.tree.Kill(t.Context(), "tmp", KillPanic); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		time.Sleep(time.Second)
		synctest.Wait()
		if n := r.node(t, "tr"); n.Status != "stopped" || n.Restarts != 0 {
			t.Fatalf("transient after a normal exit: %+v", n)
		}
		var ue *UnavailableError
		if _, err := r.tree.Request(t.Context(), "tr", &whoAreYou{}); !errors.As(err, &ue) {
			t.Fatalf("call to a stopped transient child: %v, want UnavailableError", err)
		}
		if _, err := r.tree.Actor("tmp"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("temporary child after a panic: %v, want removed", err)
		}
	})
}

func TestRestForOneWithRealActors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		r := start(t, Spec{Name: "icn", Strategy: RestForOne, Children: workers(l, Permanent, "a", "b", "c")}, l)
		before := map[string]int64{}
		for _, n := range []string{"a", "b", "c"} {
			before[n] = r.who(t, n).Incarnation
		}
		if err := r.tree.Kill(t.Context(), "b", KillPanic); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if r.who(t, "a").Incarnation != before["a"] {
			t.Fatal("rest_for_one restarted a child before the failing one")
		}
		for _, n := range []string{"b", "c"} {
			if r.who(t, n).Incarnation == before[n] {
				t.Fatalf("rest_for_one did not restart %s", n)
			}
		}
	})
}

func TestBreakerOpensFailsFastThenHalfOpensAndCloses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		r := start(t, Spec{Name: "icn", Children: workers(l, Permanent, "jobs", "dag")}, l)
		events, _ := r.tree.Watch(t.Context(), 1024)

		r.who(t, "jobs") // started: a start failure from here on is ours
		// It now fails on every start until the budget (3 within 1 s) is gone.
		r.breakOnStart(t, l, "jobs")
		n := r.node(t, "jobs")
		if n.Status != "stopped" || n.BreakerTrips != 1 {
			t.Fatalf("open breaker: %+v", n)
		}

		// While open, calls fail at once with a retry hint.
		start := time.Now()
		_, err := r.tree.Request(t.Context(), "jobs", &whoAreYou{})
		var ue *UnavailableError
		if !errors.As(err, &ue) || !errors.Is(err, ErrUnavailable) || ue.State != "open" || ue.RetryAfter <= 0 || ue.RetryAfter > 100*time.Millisecond {
			t.Fatalf("call while open: %v", err)
		}
		if waited := time.Since(start); waited != 0 {
			t.Fatalf("fail-fast call took %s of fake time", waited)
		}
		if got := testutil.ToFloat64(r.tree.metrics.transitions.WithLabelValues("/icn/jobs", "open")); got != 1 {
			t.Fatalf("transitions to open = %v", got)
		}
		if r.who(t, "dag").Incarnation != 2 {
			t.Fatal("the sibling suffered from jobs' breaker")
		}

		// Repaired; after the open timeout the child is probed and closes on a good call.
		l.broken.Store("jobs", false)
		time.Sleep(ue.RetryAfter)
		synctest.Wait()
		if n := r.node(t, "jobs"); n.Breaker != "half_open" || n.Status != "running" {
			t.Fatalf("after the open timeout: %+v", n)
		}
		if got := r.who(t, "jobs"); got.Name != "jobs" {
			t.Fatalf("probe answered %+v", got)
		}
		synctest.Wait()
		if n := r.node(t, "jobs"); n.Breaker != "closed" {
			t.Fatalf("after a successful probe: %+v", n)
		}

		var seen []string
		for len(events) > 0 {
			if ev := <-events; ev.Type == EventBreaker && ev.Path == "/icn/jobs" {
				seen = append(seen, ev.From+">"+ev.To)
			}
		}
		if want := []string{"closed>open", "open>half_open", "half_open>closed"}; !slices.Equal(seen, want) {
			t.Fatalf("breaker events %v, want %v", seen, want)
		}
		if got := testutil.ToFloat64(r.tree.metrics.transitions.WithLabelValues("/icn/jobs", "closed")); got != 1 {
			t.Fatalf("transitions to closed = %v", got)
		}
	})
}

func TestHalfOpenProbeFailureReopensWithLongerTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		r := start(t, Spec{Name: "icn", Children: workers(l, Permanent, "jobs")}, l)
		r.who(t, "jobs") // started: a start failure from here on is ours
		l.broken.Store("jobs", true)
		if err := r.tree.Kill(t.Context(), "jobs", KillPanic); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		_, err := r.tree.Request(t.Context(), "jobs", &whoAreYou{})
		var ue *UnavailableError
		if !errors.As(err, &ue) {
			t.Fatalf("want unavailable, got %v", err)
		}
		n := r.node(t, "jobs")
		// Still broken: every half-open probe fails at start and reopens for longer,
		// 100, 200, 400 (capped) ms; escalation at the root is absorbed.
		if n.BreakerTrips < 3 || n.Breaker == "closed" {
			t.Fatalf("a broken child: %+v", n)
		}
		if r.node(t, "/icn").Status != "running" {
			t.Fatal("the root stopped")
		}
	})
}

func TestEscalationReachesTheRootWhichIsolatesTheSubtree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		sub := &Spec{Strategy: OneForOne, Children: workers(l, Permanent, "w1", "w2")}
		spec := Spec{Name: "icn", Children: append(workers(l, Permanent, "dag"), ChildSpec{Name: "executors", Restart: Permanent, Supervisor: sub})}
		r := start(t, spec, l)
		events, _ := r.tree.Watch(t.Context(), 4096)
		r.who(t, "w1") // started: a start failure from here on is ours
		l.broken.Store("w1", true)
		if err := r.tree.Kill(t.Context(), "w1", KillPanic); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(time.Minute)
		for r.node(t, "/icn/executors").Breaker != "open" {
			if time.Now().After(deadline) {
				t.Fatalf("the subtree was never isolated: %+v", r.tree.Snapshot())
			}
			time.Sleep(10 * time.Millisecond)
		}
		escalations := 0
		for len(events) > 0 {
			if ev := <-events; ev.Type == EventEscalated && ev.Path == "/icn/executors" {
				escalations++
			}
		}
		if escalations == 0 {
			t.Fatal("executors never escalated")
		}
		if n := r.node(t, "/icn/executors"); n.Status != "stopped" {
			t.Fatalf("isolated subtree: %+v", n)
		}
		for _, w := range []string{"/icn/executors/w1", "/icn/executors/w2"} {
			if n := r.node(t, w); n.Status != "stopped" {
				t.Fatalf("%s under an open breaker: %+v", w, n)
			}
		}
		if r.node(t, "/icn").Status != "running" || r.who(t, "dag").Name != "dag" {
			t.Fatal("the rest of the node must keep serving")
		}
		// Repair: the subtree comes back as a unit on its next half-open probe.
		l.broken.Store("w1", false)
		deadline = time.Now().Add(time.Minute)
		for r.node(t, "/icn/executors").Breaker != "closed" {
			if time.Now().After(deadline) {
				t.Fatalf("the subtree never recovered: %+v", r.tree.Snapshot())
			}
			time.Sleep(10 * time.Millisecond)
		}
		synctest.Wait()
		if r.who(t, "w1").Name != "w1" || r.who(t, "w2").Name != "w2" {
			t.Fatal("workers did not come back with their supervisor")
		}
	})
}

func TestShutdownStopsLeavesFirstInReverseSpecOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		sub := &Spec{Children: workers(l, Permanent, "x", "y")}
		children := workers(l, Permanent, "a")
		children = append(children, ChildSpec{Name: "sub", Restart: Permanent, Supervisor: sub})
		children = append(children, workers(l, Permanent, "b")...)
		reg := prometheus.NewRegistry()
		tree, err := New(Spec{Name: "icn", Children: children}, slog.New(slog.NewTextHandler(io.Discard, nil)), reg, WithDefaults(fastDefaults()))
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := tree.Stop(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got, want := l.stopOrder(), []string{"b", "y", "x", "a"}; !slices.Equal(got, want) {
			t.Fatalf("stop order %v, want %v", got, want)
		}
		if err := tree.Stop(t.Context()); err != nil {
			t.Fatalf("second stop: %v", err)
		}
		if _, err := tree.Lookup("a"); !errors.Is(err, ErrStopped) {
			t.Fatalf("lookup after stop: %v", err)
		}
	})
}

// slowStopper ignores nothing but takes its time: it is stuck in a long
// message when shutdown begins, so it must be stopped hard after its budget.
type stuck struct{ release chan struct{} }

func (s *stuck) Receive(c actor.Context) {
	switch c.Message().(type) {
	case *explode:
		<-s.release
	case *whoAreYou:
		c.Respond(&iAm{Name: "stuck"})
	}
}

func TestShutdownBudgetStopsAStuckChildHard(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		spec := Spec{Name: "icn", Children: []ChildSpec{{Name: "stuck", Restart: Permanent, Shutdown: 300 * time.Millisecond, New: func() actor.Actor { return &stuck{release: release} }}}}
		tree, err := New(spec, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(), WithDefaults(fastDefaults()))
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if err := tree.Send(t.Context(), "stuck", &explode{}); err != nil {
			t.Fatal(err)
		}
		go func() {
			time.Sleep(time.Second) // the stuck handler returns long after the budget
			close(release)
		}()
		began := time.Now()
		if err := tree.Stop(t.Context()); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(began); took < time.Second {
			// protoactor cannot interrupt a running handler; the hard stop lands right after it.
			t.Fatalf("stop returned before the stuck handler finished (%s)", took)
		}
	})
}

func TestLookupAndKillErrors(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		sub := &Spec{Children: workers(l, Permanent, "worker-0")}
		sub2 := &Spec{Children: workers(l, Permanent, "worker-0")}
		spec := Spec{Name: "icn", Children: []ChildSpec{
			{Name: "p", Restart: Permanent, Supervisor: sub},
			{Name: "q", Restart: Permanent, Supervisor: sub2},
		}}
		r := start(t, spec, l)
		if _, err := r.tree.Lookup("nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown name: %v", err)
		}
		if _, err := r.tree.Lookup("/icn/nope"); !errors.Is(err, ErrNotFound) {
			t.Errorf("unknown path: %v", err)
		}
		if _, err := r.tree.Lookup("worker-0"); !errors.Is(err, ErrAmbiguous) {
			t.Errorf("ambiguous name: %v", err)
		}
		if _, err := r.tree.Lookup("/icn/q/worker-0"); err != nil {
			t.Errorf("path: %v", err)
		}
		if err := r.tree.Kill(t.Context(), "/icn", KillPanic); !errors.Is(err, ErrRootKill) {
			t.Errorf("kill root: %v", err)
		}
		if err := r.tree.Kill(t.Context(), "/icn/zz", KillPanic); !errors.Is(err, ErrNotFound) {
			t.Errorf("kill unknown: %v", err)
		}
		if err := r.tree.Kill(t.Context(), "/icn/p", KillMode(42)); !errors.Is(err, ErrBadKillMode) {
			t.Errorf("kill bad mode: %v", err)
		}
		if err := r.tree.Ping(t.Context(), "/icn/p/worker-0"); err != nil {
			t.Errorf("ping: %v", err)
		}
	})
}

func TestCorrelationIDRidesInTheHeader(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		r := start(t, Spec{Name: "icn", Children: workers(l, Permanent, "dag")}, l)
		ctx := correlation.With(t.Context(), "req-42")
		got, err := Ask[*iAm](ctx, r.tree, "dag", &whoAreYou{})
		if err != nil || got.Correlation != "req-42" {
			t.Fatalf("correlation id seen by the actor: %+v, %v", got, err)
		}
	})
}

func TestSnapshotAndGauges(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		sub := &Spec{Strategy: OneForAll, Children: workers(l, Permanent, "worker-0", "worker-1")}
		spec := Spec{Name: "icn", Children: append(workers(l, Permanent, "dag"), ChildSpec{Name: "executors", Restart: Permanent, Supervisor: sub, Class: "executors"})}
		r := start(t, spec, l)
		snap := r.tree.Snapshot()
		if snap.Path != "/icn" || snap.Kind != "supervisor" || len(snap.Children) != 2 {
			t.Fatalf("root: %+v", snap)
		}
		ex, ok := snap.Find("/icn/executors")
		if !ok || ex.Strategy != "one_for_all" || ex.Kind != "supervisor" || len(ex.Children) != 2 || ex.Children[1].Path != "/icn/executors/worker-1" {
			t.Fatalf("executors: %+v", ex)
		}
		r.who(t, "dag")
		if n := r.node(t, "dag"); n.Processed == 0 {
			t.Fatalf("processed not counted: %+v", n)
		}
		n, err := testutil.GatherAndCount(r.reg, "icn_breaker_state", "icn_actor_mailbox_messages", "icn_actor_messages_processed_total", "icn_actors")
		if err != nil || n == 0 {
			t.Fatalf("gauges: %d, %v", n, err)
		}
		if err := testutil.GatherAndCompare(r.reg, stringsReader(`
# HELP icn_actors Actors in the supervision tree by status.
# TYPE icn_actors gauge
icn_actors{status="restarting"} 0
icn_actors{status="running"} 5
icn_actors{status="stopped"} 0
`), "icn_actors"); err != nil {
			t.Fatal(err)
		}
	})
}

type behaviorWithJobs struct{ children Children }

type spawnJob struct{ name string }

func (b *behaviorWithJobs) Receive(c actor.Context) {
	if m, ok := c.Message().(*spawnJob); ok {
		err := b.children.Start(ChildSpec{Name: m.name, Restart: Transient, Class: "job", New: func() actor.Actor { return &testWorker{lab: &lab{}, name: m.name} }})
		c.Respond(err)
	}
}

func TestBehaviorStartsDynamicChildren(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		jobs := &Spec{Behavior: func(ch Children) actor.Actor { return &behaviorWithJobs{children: ch} }}
		r := start(t, Spec{Name: "icn", Children: []ChildSpec{{Name: "jobs", Restart: Permanent, Supervisor: jobs}}}, &lab{})
		for _, name := range []string{"job-1", "job-2"} {
			if _, err := r.tree.Request(t.Context(), "jobs", &spawnJob{name: name}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := r.tree.Request(t.Context(), "jobs", &spawnJob{name: "job-1"}); !errors.Is(err, ErrChildExists) {
			t.Fatalf("duplicate dynamic child: %v", err)
		}
		if r.who(t, "/icn/jobs/job-2").Name != "job-2" {
			t.Fatal("dynamic child not reachable")
		}
		// A transient dynamic child that exits normally is removed.
		if err := r.tree.Kill(t.Context(), "job-1", KillPoison); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if _, err := r.tree.Actor("job-1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("finished dynamic child still listed: %v", err)
		}
		// Its class label aggregates all jobs.
		if err := r.tree.Kill(t.Context(), "job-2", KillPanic); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := testutil.ToFloat64(r.tree.metrics.restarts.WithLabelValues("/icn/jobs/job")); got != 1 {
			t.Fatalf("restarts of class /icn/jobs/job = %v", got)
		}
	})
}

func stringsReader(s string) io.Reader { return strings.NewReader(s) }

func TestRequestsQueuedWhenAnActorStopsAreAnswered(t *testing.T) {
	for _, mode := range []KillMode{KillStop, KillPoison} {
		t.Run(mode.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				release := make(chan struct{})
				spec := Spec{Name: "icn", Children: []ChildSpec{{Name: "slow", Restart: Permanent, New: func() actor.Actor { return &stuck{release: release} }}}}
				r := start(t, spec, &lab{})
				if err := r.tree.Send(t.Context(), "slow", &explode{}); err != nil { // occupies the actor
					t.Fatal(err)
				}
				result := make(chan error, 1)
				go func() {
					ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
					defer cancel()
					_, err := r.tree.Request(ctx, "slow", &whoAreYou{})
					result <- err
				}()
				synctest.Wait() // the request is queued behind the blocked handler
				if err := r.tree.Kill(t.Context(), "slow", mode); err != nil {
					t.Fatal(err)
				}
				began := time.Now()
				close(release)
				err := <-result
				if mode == KillPoison {
					// The request was queued before the poison pill: it is handled.
					if err != nil {
						t.Fatalf("request ahead of the poison pill: %v", err)
					}
					return
				}
				if !errors.Is(err, ErrUnavailable) {
					t.Fatalf("request queued when the actor stopped: %v, want ErrUnavailable", err)
				}
				if waited := time.Since(began); waited > 0 {
					t.Fatalf("the caller waited %s instead of being answered", waited)
				}
			})
		})
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func newRegistry2() *prometheus.Registry { return prometheus.NewRegistry() }

// twice answers every question twice: once at once, and again when told.
type twice struct{ again chan struct{} }

func (a *twice) Receive(c actor.Context) {
	if _, ok := c.Message().(*whoAreYou); ok {
		c.Respond(&iAm{Name: "first"})
		<-a.again
		c.Respond(&iAm{Name: "second"})
	}
}

// Replies are reused across requests (see reply): a late answer to a
// request its caller gave up on, and a second answer to a request already
// answered, must reach no later request.
func TestAnAnswerReachesOnlyItsOwnRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release, again := make(chan struct{}), make(chan struct{})
		spec := Spec{Name: "icn", Children: []ChildSpec{
			{Name: "slow", Restart: Permanent, New: func() actor.Actor { return &stuck{release: release} }},
			{Name: "twice", Restart: Permanent, New: func() actor.Actor { return &twice{again: again} }},
			{Name: "w", Restart: Permanent, New: (&lab{}).worker("w")},
		}}
		r := start(t, spec, &lab{})
		askAll := func() {
			t.Helper()
			for range 3 * replyPool {
				if got := r.who(t, "w"); got.Name != "w" {
					t.Fatalf("asked w, %q answered", got.Name)
				}
			}
		}

		// A late answer.
		if err := r.tree.Send(t.Context(), "slow", &explode{}); err != nil { // occupies the actor
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		_, err := r.tree.Request(ctx, "slow", &whoAreYou{})
		cancel()
		close(release)
		if !errors.Is(err, ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("request to a blocked actor: %v, want a timeout", err)
		}
		synctest.Wait() // the late answer has been sent
		askAll()

		// A second answer.
		if got := r.who(t, "twice"); got.Name != "first" {
			t.Fatalf("twice answered %q first", got.Name)
		}
		close(again)
		synctest.Wait() // the second answer has been sent, to an answered reply
		askAll()
	})
}

// callerOnStart asks the sibling first who it is, from its Started.
type callerOnStart struct {
	tree  *atomic.Pointer[Tree]
	first string
	got   chan<- error
}

func (c *callerOnStart) Receive(ctx actor.Context) {
	if _, ok := ctx.Message().(*actor.Started); ok {
		_, err := c.tree.Load().Request(context.Background(), c.first, &whoAreYou{})
		c.got <- err
	}
}

// TestAChildCallsAnEarlierSiblingFromStarted: a supervisor publishes each
// child as running as it spawns it, not once it has spawned them all, so a
// child that calls an earlier sibling from its Started finds it running
// (the dag announcing pinned roots through the peers actor at start).
func TestAChildCallsAnEarlierSiblingFromStarted(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		var tree atomic.Pointer[Tree]
		got := make(chan error, 1)
		children := workers(l, Permanent, "peers")
		children = append(children, ChildSpec{Name: "dag", Restart: Permanent,
			New: func() actor.Actor { return &callerOnStart{tree: &tree, first: "peers", got: got} }})
		// Later siblings keep the supervisor busy while dag starts.
		for i := range 50 {
			children = append(children, workers(l, Permanent, fmt.Sprintf("w%d", i))...)
		}
		tr, err := New(Spec{Name: "icn", Children: children}, discardLogger(), prometheus.NewRegistry(), WithDefaults(fastDefaults()))
		if err != nil {
			t.Fatal(err)
		}
		tree.Store(tr)
		if err := tr.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := tr.Stop(context.Background()); err != nil {
				t.Errorf("stop: %v", err)
			}
			settleDeadLetterLog()
		})
		if err := <-got; err != nil {
			t.Fatalf("dag asking peers from its Started: %v", err)
		}
	})
}
