package supervisors

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// These tests pin down sequences found in review, where a child could stay
// suspended, a caller could hang, or a breaker could stick half-open.

// slow blocks in a message (explode) until released, and optionally in
// Stopping; it answers whoAreYou with its incarnation.
type slow struct {
	incarnation int64
	release     chan struct{}
	blockStop   *atomic.Bool
}

func (s *slow) Receive(c actor.Context) {
	switch c.Message().(type) {
	case *explode:
		<-s.release
	case *actor.Stopping:
		if s.blockStop != nil && s.blockStop.Load() {
			<-s.release
		}
	case *whoAreYou:
		c.Respond(&iAm{Name: "slow", Incarnation: s.incarnation})
	}
}

func TestAFailureWhileAPoisonPillIsQueuedStillEndsTheChild(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var n atomic.Int64
		spec := Spec{Name: "icn", Children: []ChildSpec{{Name: "w", Restart: Permanent, Shutdown: 5 * time.Second,
			New: func() actor.Actor { return &slow{incarnation: n.Add(1), release: release} }}}}
		r := start(t, spec, &lab{})
		if err := r.tree.Send(t.Context(), "w", &explode{}); err != nil { // busy
			t.Fatal(err)
		}
		synctest.Wait()
		if err := r.tree.Kill(t.Context(), "w", KillPanic); err != nil {
			t.Fatal(err)
		}
		if err := r.tree.Kill(t.Context(), "w", KillPoison); err != nil {
			t.Fatal(err)
		}
		close(release) // the injected panic runs before the poison pill
		synctest.Wait()
		if got := r.who(t, "w"); got.Incarnation != 2 {
			t.Fatalf("incarnation %d: the child did not come back", got.Incarnation)
		}
		if a := r.node(t, "w"); a.Restarts != 1 || a.Failures != 1 {
			t.Fatalf("%+v", a)
		}
	})
}

func TestShutdownStopsASuspendedChildAtOnce(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		d := fastDefaults()
		d.Backoff = Backoff{Initial: time.Hour, Max: time.Hour, Multiplier: 1, ResetAfter: time.Hour}
		spec := Spec{Name: "icn", Children: []ChildSpec{{Name: "w", Restart: Permanent, Shutdown: 5 * time.Second, New: l.worker("w")}}}
		tree, err := New(spec, discardLogger(), newRegistry2(), WithDefaults(d))
		if err != nil {
			t.Fatal(err)
		}
		if err := tree.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		for range 2 { // the second failure waits an hour for its restart, suspended
			if err := tree.Kill(t.Context(), "w", KillPanic); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		if n, _ := tree.Actor("w"); n.Status != "restarting" {
			t.Fatalf("want a pending restart: %+v", n)
		}
		began := time.Now()
		if err := tree.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(began); took >= 5*time.Second {
			t.Fatalf("shutdown waited %s for a suspended child (its poison pill could never run)", took)
		}
		settleDeadLetterLog()
	})
}

func TestCallsToAChildSuspendedInBackoffFailFast(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		r := start(t, Spec{Name: "icn", Children: workers(l, Permanent, "w")}, l)
		for range 2 { // 0 ms, then 10 ms of backoff
			if err := r.tree.Kill(t.Context(), "w", KillPanic); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		began := time.Now()
		_, err := r.tree.Request(t.Context(), "w", &whoAreYou{})
		var ue *UnavailableError
		if !errors.As(err, &ue) || ue.State != "restarting" || ue.RetryAfter <= 0 || ue.RetryAfter > 10*time.Millisecond {
			t.Fatalf("call during backoff: %v", err)
		}
		if time.Since(began) != 0 {
			t.Fatal("the call waited")
		}
		time.Sleep(ue.RetryAfter)
		synctest.Wait()
		r.who(t, "w") // back after the backoff
	})
}

func TestHalfOpenWhileTheOldProcessIsStillStopping(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var blockStop atomic.Bool
		var n atomic.Int64
		spec := Spec{Name: "icn", Children: []ChildSpec{{Name: "w", Restart: Permanent, Shutdown: 10 * time.Second,
			New: func() actor.Actor { return &slow{incarnation: n.Add(1), release: release, blockStop: &blockStop} }}}}
		r := start(t, spec, &lab{})
		// Exhaust the budget (3 per second): the 4th kill trips the breaker,
		// and this time the process takes 1 s to stop.
		for i := range 4 {
			if i == 3 {
				blockStop.Store(true)
			}
			if err := r.tree.Kill(t.Context(), "w", KillPanic); err != nil {
				t.Fatal(err)
			}
			time.Sleep(50 * time.Millisecond) // past each backoff, well within the budget's second
			synctest.Wait()
		}
		if a := r.node(t, "w"); a.Breaker != "open" {
			t.Fatalf("%+v", a)
		}
		time.Sleep(300 * time.Millisecond) // past the open timeout and a probe window
		synctest.Wait()
		began := time.Now()
		for range 5 {
			if _, err := r.tree.Request(t.Context(), "w", &whoAreYou{}); !errors.Is(err, ErrUnavailable) {
				t.Fatalf("call to a process on its way out: %v", err)
			}
		}
		if time.Since(began) != 0 {
			t.Fatal("calls waited on the dying process")
		}
		time.Sleep(500 * time.Millisecond)
		blockStop.Store(false)
		close(release) // the old process finally stops; the probe process starts
		synctest.Wait()
		if got := r.who(t, "w"); got.Incarnation != 5 {
			t.Fatalf("probe answered by incarnation %d", got.Incarnation)
		}
		synctest.Wait()
		if a := r.node(t, "w"); a.Breaker != "closed" {
			t.Fatalf("breaker stuck: %+v", a)
		}
	})
}

func TestPingsDoNotUseUpProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		r := start(t, Spec{Name: "icn", Children: workers(l, Permanent, "w")}, l)
		r.who(t, "w") // started: a start failure from here on is ours
		l.broken.Store("w", true)
		if err := r.tree.Kill(t.Context(), "w", KillPanic); err != nil {
			t.Fatal(err)
		}
		for r.node(t, "w").Breaker != "open" {
			time.Sleep(time.Millisecond)
		}
		l.broken.Store("w", false)
		for r.node(t, "w").Breaker != "half_open" {
			time.Sleep(time.Millisecond)
		}
		synctest.Wait()
		for range 10 {
			if err := r.tree.Ping(t.Context(), "w"); err != nil {
				t.Fatalf("ping of a half-open child: %v", err)
			}
		}
		r.who(t, "w") // the first real call is still a probe
		synctest.Wait()
		if a := r.node(t, "w"); a.Breaker != "closed" {
			t.Fatalf("%+v", a)
		}
	})
}

// groupBehavior removes a child on request.
type groupBehavior struct{ children Children }

type removeChild struct{ name string }

func (g *groupBehavior) Receive(c actor.Context) {
	if m, ok := c.Message().(*removeChild); ok {
		c.Respond(g.children.Stop(m.name))
	}
}

func TestRemovingTheLeaderOfAPendingGroupRestartsTheRest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		sub := &Spec{Strategy: OneForAll, Children: workers(l, Permanent, "a", "b"),
			Behavior: func(ch Children) actor.Actor { return &groupBehavior{children: ch} }}
		r := start(t, Spec{Name: "icn", Children: []ChildSpec{{Name: "p", Restart: Permanent, Supervisor: sub}}}, l)
		for range 2 { // the second failure of a schedules [a b] after 10 ms
			if err := r.tree.Kill(t.Context(), "a", KillPanic); err != nil {
				t.Fatal(err)
			}
			synctest.Wait()
		}
		if _, err := r.tree.Request(t.Context(), "p", &removeChild{name: "a"}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := r.node(t, "/icn/p/b"); got.Status != "running" {
			t.Fatalf("b was orphaned by its group leader's removal: %+v", got)
		}
		r.who(t, "/icn/p/b")
	})
}

func TestAHalfOpenSiblingKeepsItsProbeAcrossAGroupRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		r := start(t, Spec{Name: "icn", Strategy: OneForAll, Children: workers(l, Permanent, "a", "b")}, l)
		r.who(t, "b") // started: a start failure from here on is ours
		l.broken.Store("b", true)
		if err := r.tree.Kill(t.Context(), "b", KillPanic); err != nil {
			t.Fatal(err)
		}
		for r.node(t, "b").Breaker != "open" {
			time.Sleep(time.Millisecond)
		}
		l.broken.Store("b", false)
		for r.node(t, "b").Breaker != "half_open" {
			time.Sleep(time.Millisecond)
		}
		synctest.Wait()
		if err := r.tree.Kill(t.Context(), "a", KillPanic); err != nil { // restarts [a b]
			t.Fatal(err)
		}
		time.Sleep(time.Second) // no traffic: the probe window alone must close b's breaker
		synctest.Wait()
		if got := r.node(t, "b"); got.Breaker != "closed" {
			t.Fatalf("b stuck: %+v", got)
		}
	})
}

func TestSupervisorRestartKeepsItsChildrensCounters(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		sub := &Spec{Children: workers(l, Permanent, "w")}
		r := start(t, Spec{Name: "icn", Children: []ChildSpec{{Name: "p", Restart: Permanent, Supervisor: sub}}}, l)
		for range 2 {
			if err := r.tree.Kill(t.Context(), "w", KillPanic); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
			synctest.Wait()
		}
		if err := r.tree.Kill(t.Context(), "p", KillPanic); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		if got := r.node(t, "w"); got.Restarts != 2 || got.Failures != 2 {
			t.Fatalf("counters after the supervisor's restart: %+v", got)
		}
	})
}

func TestAPanickingProducerIsAFailedStartNotASupervisorCrash(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		var calls atomic.Int64
		children := append(workers(l, Permanent, "ok"), ChildSpec{Name: "bad", Restart: Permanent, New: func() actor.Actor {
			if calls.Add(1) > 1 {
				panic("cannot build")
			}
			return &testWorker{lab: l, name: "bad"}
		}})
		r := start(t, Spec{Name: "icn", Children: children}, l)
		if err := r.tree.Kill(t.Context(), "bad", KillStop); err != nil {
			t.Fatal(err)
		}
		for r.node(t, "bad").Breaker != "open" {
			time.Sleep(time.Millisecond)
		}
		if a := r.node(t, "bad"); a.LastFailure == nil || a.LastFailure.Reason != "producer panicked: cannot build" {
			t.Fatalf("%+v", a)
		}
		if r.node(t, "/icn").Restarts != 0 || r.who(t, "ok").Incarnation != 1 {
			t.Fatal("the supervisor or a sibling suffered from a panicking producer")
		}
	})
}

// helperBehavior spawns a helper that panics, and reports its Terminated.
type helperBehavior struct{ gone chan<- struct{} }

type spawnHelper struct{}

func (h *helperBehavior) Receive(c actor.Context) {
	switch c.Message().(type) {
	case *spawnHelper:
		pid := c.Spawn(actor.PropsFromFunc(func(hc actor.Context) {
			if _, ok := hc.Message().(*explode); ok {
				panic("helper fails")
			}
		}))
		c.Send(pid, &explode{})
		c.Respond(true)
	case *actor.Terminated:
		close(h.gone)
	}
}

func TestAFailedHelperOfABehaviorIsStoppedNotLeftSuspended(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		gone := make(chan struct{})
		sub := &Spec{Behavior: func(Children) actor.Actor { return &helperBehavior{gone: gone} }}
		r := start(t, Spec{Name: "icn", Children: []ChildSpec{{Name: "p", Restart: Permanent, Supervisor: sub}}}, &lab{})
		if _, err := r.tree.Request(t.Context(), "p", &spawnHelper{}); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		select {
		case <-gone:
		default:
			t.Fatal("the helper was left suspended")
		}
		if r.node(t, "p").Restarts != 0 {
			t.Fatal("a helper's failure restarted its supervisor")
		}
	})
}

func TestRequestHonoursContextCancellation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		spec := Spec{Name: "icn", Children: []ChildSpec{{Name: "w", Restart: Permanent, New: func() actor.Actor { return &slow{release: release} }}}}
		r := start(t, spec, &lab{})
		if err := r.tree.Send(t.Context(), "w", &explode{}); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() {
			_, err := r.tree.Request(ctx, "w", &whoAreYou{})
			done <- err
		}()
		synctest.Wait()
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled request: %v", err)
		}
		close(release)
	})
}

// blocker holds its mailbox's goroutine until released.
type blocker struct{ release chan struct{} }

func (b *blocker) Receive(c actor.Context) {
	switch c.Message().(type) {
	case *explode:
		<-b.release
	case *whoAreYou:
		c.Respond(&iAm{Name: "blocker"})
	}
}

// TestABlockedActorDoesNotHoldUpTheOthers: the dispatcher reuses
// goroutines, but never makes one actor wait for another's.
func TestABlockedActorDoesNotHoldUpTheOthers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		var children []ChildSpec
		for i := range 80 { // more than the dispatcher keeps idle
			children = append(children, ChildSpec{Name: fmt.Sprintf("b%d", i), Restart: Permanent,
				New: func() actor.Actor { return &blocker{release: release} }})
		}
		l := &lab{}
		children = append(children, workers(l, Permanent, "free")...)
		r := start(t, Spec{Name: "icn", Children: children}, l)
		for i := range 80 {
			if err := r.tree.Send(t.Context(), fmt.Sprintf("b%d", i), &explode{}); err != nil {
				t.Fatal(err)
			}
		}
		synctest.Wait()
		if got := r.who(t, "free"); got.Name != "free" {
			t.Fatalf("%+v", got)
		}
		close(release)
		synctest.Wait()
		for i := range 80 {
			r.who(t, fmt.Sprintf("b%d", i))
		}
	})
}

// counter answers each number with how many it saw before it.
type counter struct{ seen int }

func (c *counter) Receive(ctx actor.Context) {
	if n, ok := ctx.Message().(int); ok {
		ctx.Respond(n - c.seen) // 0 when messages arrive in the order begun
		c.seen++
	}
}

func TestCallsBegunInOrderArriveInOrder(t *testing.T) {
	spec := Spec{Name: "icn", Children: []ChildSpec{{Name: "counter", Restart: Permanent, New: func() actor.Actor { return &counter{} }}}}
	r := start(t, spec, &lab{})
	var calls []*Call
	for i := range 200 {
		c, err := r.tree.Begin(t.Context(), "counter", i)
		if err != nil {
			t.Fatal(err)
		}
		calls = append(calls, c)
	}
	for i, c := range calls {
		res, err := c.Wait(t.Context())
		if err != nil || res != 0 {
			t.Fatalf("call %d: %v, %v (out of order)", i, res, err)
		}
	}
	if _, err := r.tree.Begin(t.Context(), "nobody", 0); !errors.Is(err, ErrNotFound) {
		t.Fatalf("begin to an unknown actor: %v", err)
	}
}

// caller asks the counter through the tree it finds from its context.
type caller struct{}

func (caller) Receive(c actor.Context) {
	if _, ok := c.Message().(*whoAreYou); ok {
		res, err := TreeOf(c).Request(context.Background(), "counter", 0)
		if err != nil {
			c.Respond(err)
			return
		}
		c.Respond(res)
	}
}

func TestActorsReachOtherSubsystemsThroughTreeOf(t *testing.T) {
	spec := Spec{Name: "icn", Children: []ChildSpec{
		{Name: "counter", Restart: Permanent, New: func() actor.Actor { return &counter{} }},
		{Name: "caller", Restart: Permanent, New: func() actor.Actor { return caller{} }},
	}}
	r := start(t, spec, &lab{})
	if res, err := r.tree.Request(t.Context(), "caller", &whoAreYou{}); err != nil || res != 0 {
		t.Fatalf("%v, %v", res, err)
	}
}
