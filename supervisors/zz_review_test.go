package supervisors

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// 1. kill panic followed at once by kill poison: the child is left suspended forever.
func TestZZPanicThenPoisonStuck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		r := start(t, Spec{Name: "icn", Children: workers(l, Permanent, "dag")}, l)
		if err := r.tree.Kill(t.Context(), "dag", KillPanic); err != nil {
			t.Fatal(err)
		}
		if err := r.tree.Kill(t.Context(), "dag", KillPoison); err != nil {
			t.Fatal(err)
		}
		synctest.Wait()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		n := r.node(t, "dag")
		t.Logf("node after panic+poison and 10s: status=%s breaker=%s restarts=%d failures=%d mailbox=%d", n.Status, n.Breaker, n.Restarts, n.Failures, n.Mailbox)
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		began := time.Now()
		_, err := r.tree.Request(ctx, "dag", &whoAreYou{})
		t.Logf("request: err=%v after %s", err, time.Since(began))
		err = r.tree.Kill(t.Context(), "dag", KillStop)
		t.Logf("kill stop now: %v", err)
	})
}

// slowStop sleeps in Stopping so that its process outlives the breaker's open timeout.
type slowStop struct{}

func (s *slowStop) Receive(c actor.Context) {
	switch c.Message().(type) {
	case *actor.Stopping:
		time.Sleep(time.Second)
	case *explode:
		panic("boom")
	case *whoAreYou:
		c.Respond(&iAm{Name: "slow"})
	}
}

// 2. half-open while the old process is still alive: stuck half-open.
func TestZZHalfOpenOldAliveStuck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		spec := Spec{Name: "icn", Children: []ChildSpec{{Name: "slow", Restart: Permanent, New: func() actor.Actor { return &slowStop{} }}}}
		r := start(t, spec, &lab{})
		// Intensity 3: the 4th failure trips.
		for i := 0; i < 4; i++ {
			_ = r.tree.Kill(t.Context(), "slow", KillPanic)
			synctest.Wait()
			time.Sleep(50 * time.Millisecond)
			synctest.Wait()
		}
		n := r.node(t, "slow")
		t.Logf("after 4 panics: status=%s breaker=%s", n.Status, n.Breaker)
		time.Sleep(120 * time.Millisecond) // past the open timeout: half-open, old process still in Stopping
		synctest.Wait()
		n = r.node(t, "slow")
		t.Logf("after open timeout: status=%s breaker=%s", n.Status, n.Breaker)
		for i := 0; i < 2; i++ {
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				began := time.Now()
				_, err := r.tree.Request(ctx, "slow", &whoAreYou{})
				t.Logf("probe call %d: %v after %s", i, err, time.Since(began))
			}()
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		for i := 0; i < 3; i++ {
			_, err := r.tree.Request(t.Context(), "slow", &whoAreYou{})
			n = r.node(t, "slow")
			t.Logf("t+%d0s: status=%s breaker=%s call err=%v", i, n.Status, n.Breaker, err)
			time.Sleep(10 * time.Second)
			synctest.Wait()
		}
	})
}

type removeChild struct{ name string }

type remover struct{ children Children }

func (b *remover) Receive(c actor.Context) {
	if m, ok := c.Message().(*removeChild); ok {
		c.Respond(b.children.Stop(m.name))
	}
}

// 3. removing a group leader while its group restart is pending orphans the group.
func TestZZRemoveLeaderOrphansGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		sub := &Spec{Strategy: OneForAll, Children: workers(l, Permanent, "a", "b"),
			Behavior: func(ch Children) actor.Actor { return &remover{children: ch} }}
		r := start(t, Spec{Name: "icn", Children: []ChildSpec{{Name: "g", Restart: Permanent, Supervisor: sub}}}, l)
		_ = r.tree.Kill(t.Context(), "/icn/g/a", KillPanic) // immediate restart of the group
		synctest.Wait()
		_ = r.tree.Kill(t.Context(), "/icn/g/a", KillPanic) // second: backoff 10ms, group pending
		synctest.Wait()
		if _, err := r.tree.Request(t.Context(), "/icn/g", &removeChild{name: "a"}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Second)
		synctest.Wait()
		n := r.node(t, "/icn/g/b")
		t.Logf("b after 10s: status=%s restarts=%d", n.Status, n.Restarts)
		err := r.tree.Kill(t.Context(), "/icn/g/b", KillPanic)
		t.Logf("kill b: %v", err)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err = r.tree.Request(ctx, "/icn/g/b", &explode{})
		t.Logf("b explode: %v", err)
		synctest.Wait()
		time.Sleep(10 * time.Second)
		ctx2, cancel2 := context.WithTimeout(t.Context(), time.Second)
		defer cancel2()
		_, err = r.tree.Request(ctx2, "/icn/g/b", &whoAreYou{})
		n = r.node(t, "/icn/g/b")
		t.Logf("b after its own panic + 10s: status=%s failures=%d call=%v", n.Status, n.Failures, err)
	})
}

// 4. a supervisor restart resets its children's registry counters.
func TestZZCountersResetOnSupervisorRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		sub := &Spec{Children: workers(l, Permanent, "w")}
		r := start(t, Spec{Name: "icn", Children: []ChildSpec{{Name: "s", Restart: Permanent, Supervisor: sub}}}, l)
		for i := 0; i < 2; i++ {
			_ = r.tree.Kill(t.Context(), "/icn/s/w", KillPanic)
			synctest.Wait()
			time.Sleep(time.Second)
		}
		t.Logf("w before: restarts=%d failures=%d", r.node(t, "/icn/s/w").Restarts, r.node(t, "/icn/s/w").Failures)
		_ = r.tree.Kill(t.Context(), "/icn/s", KillPanic)
		synctest.Wait()
		time.Sleep(time.Second)
		synctest.Wait()
		t.Logf("w after s restarted: restarts=%d failures=%d", r.node(t, "/icn/s/w").Restarts, r.node(t, "/icn/s/w").Failures)
	})
}

// 5. Pings (health) consume half-open probe permits.
func TestZZPingConsumesProbes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		r := start(t, Spec{Name: "icn", Children: workers(l, Permanent, "dag")}, l)
		for i := 0; i < 4; i++ {
			_ = r.tree.Kill(t.Context(), "dag", KillPanic)
			synctest.Wait()
			time.Sleep(45 * time.Millisecond)
			synctest.Wait()
		}
		time.Sleep(101 * time.Millisecond)
		synctest.Wait()
		t.Logf("breaker=%s", r.node(t, "dag").Breaker)
		for i := 0; i < 2; i++ {
			t.Logf("ping %d: %v", i, r.tree.Ping(t.Context(), "dag"))
		}
		_, err := r.tree.Request(t.Context(), "dag", &whoAreYou{})
		t.Logf("real call after 2 pings: %v (breaker %s)", err, r.node(t, "dag").Breaker)
	})
}

// 6. backoff with a suspended child: Lookup admits, caller waits for the backoff.
func TestZZBackoffHangs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &lab{}
		d := fastDefaults()
		d.Backoff = Backoff{Initial: 3 * time.Second, Max: 6 * time.Second, Multiplier: 2, ResetAfter: time.Minute}
		spec := Spec{Name: "icn", Backoff: d.Backoff, Children: workers(l, Permanent, "dag")}
		r := start(t, spec, l)
		_ = r.tree.Kill(t.Context(), "dag", KillPanic)
		synctest.Wait()
		_ = r.tree.Kill(t.Context(), "dag", KillPanic)
		synctest.Wait()
		n := r.node(t, "dag")
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		defer cancel()
		began := time.Now()
		_, err := r.tree.Request(ctx, "dag", &whoAreYou{})
		t.Logf("status=%s; request during backoff: %v (timeout? %v) after %s", n.Status, err, errors.Is(err, ErrTimeout), time.Since(began))
	})
}
