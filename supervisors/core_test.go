package supervisors

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func noJitter() float64 { return 0.5 }

func testSpec(strategy Strategy, restart RestartType, names ...string) Spec {
	s := Spec{Name: "sup", Strategy: strategy}
	for _, n := range names {
		s.Children = append(s.Children, ChildSpec{Name: n, Restart: restart, New: func() actor.Actor { return nil }})
	}
	return s.WithDefaults(ProductionDefaults())
}

// started returns a core whose children have all been spawned at t0.
func started(t *testing.T, spec Spec, root bool) *core {
	t.Helper()
	c := newCore(spec, root, noJitter)
	st := c.start(t0)
	if got := kinds(st, actSpawn); !slices.Equal(got, childNames(spec)) {
		t.Fatalf("start spawned %v, want %v in spec order", got, childNames(spec))
	}
	return c
}

func childNames(s Spec) []string {
	var n []string
	for _, c := range s.Children {
		n = append(n, c.Name)
	}
	return n
}

// kinds lists the children named by actions of one kind, in order.
func kinds(st step, k actionKind) []string {
	var out []string
	for _, a := range st.actions {
		if a.kind == k {
			out = append(out, a.child)
		}
	}
	return out
}

func timers(st step, k timerKind) []action {
	var out []action
	for _, a := range st.actions {
		if a.kind == actTimer && a.timer == k {
			out = append(out, a)
		}
	}
	return out
}

func hasEvent(st step, t EventType) bool {
	return slices.ContainsFunc(st.events, func(e Event) bool { return e.Type == t })
}

func fail(c *core, now time.Time, name string) step {
	return c.failed(now, name, FailureInfo{Reason: "boom", Time: now}, "")
}

func TestStrategyPicksTheRestartGroup(t *testing.T) {
	tests := []struct {
		strategy Strategy
		failing  string
		want     []string // restarted in place, in spec order
	}{
		{OneForOne, "b", []string{"b"}},
		{OneForAll, "b", []string{"a", "b", "c"}},
		{RestForOne, "b", []string{"b", "c"}},
		{RestForOne, "a", []string{"a", "b", "c"}},
		{RestForOne, "c", []string{"c"}},
		{OneForAll, "c", []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.strategy.String()+"/"+tt.failing, func(t *testing.T) {
			c := started(t, testSpec(tt.strategy, Permanent, "a", "b", "c"), false)
			st := fail(c, t0.Add(time.Minute), tt.failing)
			if got := kinds(st, actRestart); !slices.Equal(got, tt.want) {
				t.Fatalf("restarted %v, want %v", got, tt.want)
			}
			for _, n := range tt.want {
				if ch := c.child(n); ch.restarts != 1 || ch.status != Running {
					t.Errorf("%s: restarts=%d status=%s, want 1 running", n, ch.restarts, ch.status)
				}
			}
		})
	}
}

func TestRestartTypes(t *testing.T) {
	type outcome int
	const (
		restarted outcome = iota
		stoppedStays
		removed
	)
	tests := []struct {
		name    string
		restart RestartType
		event   func(c *core) step
		want    outcome
	}{
		{"permanent/panic", Permanent, func(c *core) step { return fail(c, t0, "a") }, restarted},
		{"transient/panic", Transient, func(c *core) step { return fail(c, t0, "a") }, restarted},
		{"temporary/panic", Temporary, func(c *core) step { return fail(c, t0, "a") }, removed},
		{"permanent/normal exit", Permanent, func(c *core) step { return c.exited(t0, "a") }, restarted},
		{"transient/normal exit", Transient, func(c *core) step { return c.exited(t0, "a") }, stoppedStays},
		{"temporary/normal exit", Temporary, func(c *core) step { return c.exited(t0, "a") }, removed},
		{"permanent/kill stop", Permanent, killThenExit(KillStop), restarted},
		{"transient/kill stop", Transient, killThenExit(KillStop), restarted},
		{"temporary/kill stop", Temporary, killThenExit(KillStop), removed},
		{"permanent/kill poison", Permanent, killThenExit(KillPoison), restarted},
		{"transient/kill poison", Transient, killThenExit(KillPoison), stoppedStays},
		{"temporary/kill poison", Temporary, killThenExit(KillPoison), removed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := started(t, testSpec(OneForOne, tt.restart, "a", "b"), false)
			st := tt.event(c)
			// A temporary child that panicked is stopped first, removed when it exits.
			if tt.want == removed && len(kinds(st, actRemove)) == 0 {
				if len(kinds(st, actStop)) != 1 {
					t.Fatalf("temporary child neither removed nor stopped: %+v", st.actions)
				}
				st = c.exited(t0, "a")
			}
			restarts := len(kinds(st, actRestart)) + len(kinds(st, actSpawn))
			switch tt.want {
			case restarted:
				if restarts != 1 || c.child("a").status != Running {
					t.Fatalf("want one restart, got actions %+v", st.actions)
				}
			case stoppedStays:
				if restarts != 0 || c.child("a") == nil || c.child("a").status != Stopped {
					t.Fatalf("want stopped and kept, got %+v", st.actions)
				}
			case removed:
				if restarts != 0 || c.child("a") != nil || !slices.Equal(kinds(st, actRemove), []string{"a"}) {
					t.Fatalf("want removed, got %+v", st.actions)
				}
			}
			if b := c.child("b"); b.restarts != 0 || b.status != Running {
				t.Errorf("sibling b was disturbed: %+v", b)
			}
		})
	}
}

func killThenExit(mode KillMode) func(c *core) step {
	return func(c *core) step {
		if _, err := c.kill(t0, "a", mode, ""); err != nil {
			panic(err)
		}
		return c.exited(t0, "a")
	}
}

func TestRestForOneKeepsSpecOrderAfterRemovals(t *testing.T) {
	c := started(t, testSpec(RestForOne, Permanent, "a", "b", "c", "d"), false)
	if _, err := c.remove(t0, "b"); err != nil {
		t.Fatal(err)
	}
	c.exited(t0, "b") // its process ends: the spec is dropped
	if c.child("b") != nil {
		t.Fatal("b still supervised after removal")
	}
	dyn := ChildSpec{Name: "e", Restart: Transient, Shutdown: time.Second, New: func() actor.Actor { return nil }}
	if _, err := c.add(t0, dyn); err != nil {
		t.Fatal(err)
	}
	if _, err := c.add(t0, dyn); !errors.Is(err, ErrChildExists) {
		t.Fatalf("adding e twice: err = %v, want ErrChildExists", err)
	}
	st := fail(c, t0.Add(time.Minute), "a")
	if got := kinds(st, actRestart); !slices.Equal(got, []string{"a", "c", "d", "e"}) {
		t.Fatalf("rest_for_one after removal restarted %v, want [a c d e]", got)
	}
	st = fail(c, t0.Add(2*time.Minute), "d")
	if got := kinds(st, actRestart); !slices.Equal(got, []string{"d", "e"}) {
		t.Fatalf("rest_for_one from d restarted %v, want [d e]", got)
	}
}

func TestBackoffDelay(t *testing.T) {
	b := Backoff{Initial: 10 * time.Millisecond, Max: 5 * time.Second, Multiplier: 2, Jitter: 0.2}
	tests := []struct {
		n    int
		r    float64
		want time.Duration
	}{
		{0, 0.5, 0},
		{0, 0.99, 0},
		{1, 0.5, 10 * time.Millisecond},
		{2, 0.5, 20 * time.Millisecond},
		{3, 0.5, 40 * time.Millisecond},
		{10, 0.5, 5 * time.Second}, // 10ms·2^9 = 5.12 s, capped
		{50, 0.5, 5 * time.Second},
		{1, 0, 8 * time.Millisecond},     // -20 %
		{1, 1, 12 * time.Millisecond},    // +20 % (r never reaches 1; the bound)
		{10, 0, 4 * time.Second},         // jitter applies after the cap
		{3, 0.75, 44 * time.Millisecond}, // +10 %
	}
	for _, tt := range tests {
		if got := backoffDelay(b, tt.n, tt.r); got != tt.want {
			t.Errorf("attempt %d r=%g: %s, want %s", tt.n, tt.r, got, tt.want)
		}
	}
}

func TestBackoffGrowsAndResetsAfterHealthyWindow(t *testing.T) {
	spec := testSpec(OneForOne, Permanent, "a")
	spec.Intensity = 100
	spec.Backoff = Backoff{Initial: 10 * time.Millisecond, Max: 40 * time.Millisecond, Multiplier: 2, ResetAfter: time.Second}
	c := started(t, spec, false)
	now := t0.Add(time.Hour)
	var delays []time.Duration
	for range 5 {
		st := fail(c, now, "a")
		if ts := timers(st, timerRestart); len(ts) == 1 {
			delays = append(delays, ts[0].after)
			st = c.timer(now.Add(ts[0].after), timerRestart, "a", ts[0].gen)
			now = now.Add(ts[0].after)
			if got := kinds(st, actRestart); !slices.Equal(got, []string{"a"}) {
				t.Fatalf("restart timer restarted %v", got)
			}
		} else {
			delays = append(delays, 0)
			if len(kinds(st, actRestart)) != 1 {
				t.Fatalf("immediate restart missing: %+v", st.actions)
			}
		}
		now = now.Add(time.Millisecond) // crashes again soon: not healthy
	}
	want := []time.Duration{0, 10 * time.Millisecond, 20 * time.Millisecond, 40 * time.Millisecond, 40 * time.Millisecond}
	if !slices.Equal(delays, want) {
		t.Fatalf("delays %v, want %v", delays, want)
	}
	// Healthy for ResetAfter: the next failure restarts at once again.
	st := fail(c, now.Add(time.Second), "a")
	if len(timers(st, timerRestart)) != 0 || len(kinds(st, actRestart)) != 1 {
		t.Fatalf("after a healthy window the restart should be immediate: %+v", st.actions)
	}
}

func TestStaleTimersAreIgnored(t *testing.T) {
	spec := testSpec(OneForOne, Permanent, "a")
	c := started(t, spec, false)
	fail(c, t0, "a")                             // immediate restart
	st := fail(c, t0.Add(time.Millisecond), "a") // backoff
	ts := timers(st, timerRestart)
	if len(ts) != 1 {
		t.Fatalf("want a restart timer, got %+v", st.actions)
	}
	if st := c.timer(t0.Add(time.Second), timerRestart, "a", ts[0].gen-1); len(st.actions) != 0 {
		t.Fatalf("a stale timer acted: %+v", st.actions)
	}
	if st := c.timer(t0.Add(time.Second), timerRestart, "a", ts[0].gen); len(kinds(st, actRestart)) != 1 {
		t.Fatalf("the current timer did not restart: %+v", st.actions)
	}
	if st := c.timer(t0.Add(time.Second), timerRestart, "a", ts[0].gen); len(st.actions) != 0 {
		t.Fatalf("a timer fired twice acted twice: %+v", st.actions)
	}
}

// budgetSpec: 3 restarts per second, breaker 100 ms ×2 up to 300 ms.
func budgetSpec(names ...string) Spec {
	s := testSpec(OneForOne, Permanent, names...)
	s.Intensity, s.Period = 3, time.Second
	s.Backoff = Backoff{Initial: time.Millisecond, Max: time.Millisecond, Multiplier: 1, ResetAfter: time.Hour}
	s.Breaker = BreakerPolicy{OpenTimeout: 100 * time.Millisecond, MaxOpenTimeout: 300 * time.Millisecond, Multiplier: 2, Probes: 2, ProbeWindow: 50 * time.Millisecond}
	s.Escalate = Escalation{MaxTrips: 3, Window: time.Minute}
	return s
}

// crash fails the child and runs any restart timer, returning the last step.
func crash(t *testing.T, c *core, now time.Time, name string) step {
	t.Helper()
	st := fail(c, now, name)
	for _, tm := range timers(st, timerRestart) {
		st = c.timer(now, timerRestart, name, tm.gen)
	}
	return st
}

func TestBudgetExhaustionOpensTheBreaker(t *testing.T) {
	c := started(t, budgetSpec("a", "b"), false)
	now := t0
	for i := range 3 {
		st := crash(t, c, now, "a")
		if c.child("a").breaker != Closed || c.child("a").status != Running {
			t.Fatalf("restart %d: breaker %s status %s", i+1, c.child("a").breaker, c.child("a").status)
		}
		_ = st
		now = now.Add(10 * time.Millisecond)
	}
	st := fail(c, now, "a")
	a := c.child("a")
	if a.breaker != Open || a.status != Stopped || a.trips != 1 {
		t.Fatalf("4th failure within the period: breaker %s status %s trips %d", a.breaker, a.status, a.trips)
	}
	if !slices.Equal(kinds(st, actStop), []string{"a"}) {
		t.Fatalf("open breaker must stop the child: %+v", st.actions)
	}
	ho := timers(st, timerHalfOpen)
	if len(ho) != 1 || ho[0].after != 100*time.Millisecond {
		t.Fatalf("half-open timer %+v, want one after 100ms", ho)
	}
	if b := c.child("b"); b.breaker != Closed || b.status != Running {
		t.Fatal("sibling affected by a's breaker")
	}
	// The child's process ends; nothing restarts it while open.
	if st := c.exited(now, "a"); len(kinds(st, actSpawn))+len(kinds(st, actRestart)) != 0 {
		t.Fatalf("an open child was restarted: %+v", st.actions)
	}
	// The budget was renewed by the trip: b may restart 3 times.
	for range 3 {
		crash(t, c, now, "b")
	}
	if c.child("b").breaker != Closed {
		t.Fatal("b tripped although the trip renewed the budget")
	}
}

func TestBudgetWindowSlides(t *testing.T) {
	c := started(t, budgetSpec("a"), false)
	now := t0
	for range 20 {
		crash(t, c, now, "a")
		now = now.Add(400 * time.Millisecond) // 3 per 1.2 s: never 4 within 1 s
	}
	if a := c.child("a"); a.breaker != Closed || a.restarts != 20 {
		t.Fatalf("breaker %s restarts %d, want closed and 20", a.breaker, a.restarts)
	}
}

func tripA(t *testing.T, c *core, now time.Time) step {
	t.Helper()
	var st step
	for i := 0; c.child("a").breaker != Open; i++ {
		if i > 10 {
			t.Fatal("breaker never opened")
		}
		st = crash(t, c, now, "a")
	}
	return st
}

func TestBreakerTransitions(t *testing.T) {
	c := started(t, budgetSpec("a"), false)
	st := tripA(t, c, t0)
	c.exited(t0, "a")
	ho := timers(st, timerHalfOpen)[0]

	// open -> half_open: respawned once, probe window armed.
	st = c.timer(t0.Add(ho.after), timerHalfOpen, "a", ho.gen)
	a := c.child("a")
	if a.breaker != HalfOpen || a.status != Running || !slices.Equal(kinds(st, actSpawn), []string{"a"}) {
		t.Fatalf("half-open: breaker %s status %s actions %+v", a.breaker, a.status, st.actions)
	}
	probe := timers(st, timerProbe)
	if len(probe) != 1 || probe[0].after != 50*time.Millisecond {
		t.Fatalf("probe timer %+v", probe)
	}

	// half_open -> open on failure, with a doubled timeout.
	now := t0.Add(ho.after + time.Millisecond)
	st = fail(c, now, "a")
	if a.breaker != Open || a.trips != 2 {
		t.Fatalf("probe failure: breaker %s trips %d", a.breaker, a.trips)
	}
	ho = timers(st, timerHalfOpen)[0]
	if ho.after != 200*time.Millisecond {
		t.Fatalf("second open timeout %s, want 200ms", ho.after)
	}
	if st := c.timer(now.Add(50*time.Millisecond), timerProbe, "a", probe[0].gen); len(st.events) != 0 {
		t.Fatalf("the old probe timer acted on a reopened breaker: %+v", st.events)
	}
	c.exited(now, "a")

	// open -> half_open -> closed on a successful probe.
	now = now.Add(ho.after)
	c.timer(now, timerHalfOpen, "a", ho.gen)
	if st := c.probeOK(now, "a", a.gen-1); len(st.events) != 0 {
		t.Fatal("a probe success of another generation closed the breaker")
	}
	st = c.probeOK(now, "a", a.gen)
	if a.breaker != Closed || a.consecutive != 0 || !hasEvent(st, EventBreaker) {
		t.Fatalf("probe success: breaker %s consecutive %d", a.breaker, a.consecutive)
	}

	// Closing reset the timeout: the next trip opens for 100 ms again.
	st = tripA(t, c, now.Add(time.Second))
	if ho := timers(st, timerHalfOpen)[0]; ho.after != 100*time.Millisecond {
		t.Fatalf("open timeout after a close: %s, want 100ms", ho.after)
	}
}

func TestBreakerClosesAfterProbeWindowWithoutTraffic(t *testing.T) {
	c := started(t, budgetSpec("a"), false)
	ho := timers(tripA(t, c, t0), timerHalfOpen)[0]
	c.exited(t0, "a")
	st := c.timer(t0.Add(ho.after), timerHalfOpen, "a", ho.gen)
	probe := timers(st, timerProbe)[0]
	c.timer(t0.Add(ho.after+probe.after), timerProbe, "a", probe.gen)
	if a := c.child("a"); a.breaker != Closed {
		t.Fatalf("breaker %s after a quiet probe window, want closed", a.breaker)
	}
}

func TestOpenTimeoutIsCapped(t *testing.T) {
	p := BreakerPolicy{OpenTimeout: 100 * time.Millisecond, MaxOpenTimeout: 300 * time.Millisecond, Multiplier: 2}
	want := []time.Duration{100, 200, 300, 300}
	for i, w := range want {
		if got := openTimeout(p, i+1); got != w*time.Millisecond {
			t.Errorf("trip %d: %s, want %s", i+1, got, w*time.Millisecond)
		}
	}
}

func TestHalfOpenWaitsForTheOldProcess(t *testing.T) {
	c := started(t, budgetSpec("a"), false)
	ho := timers(tripA(t, c, t0), timerHalfOpen)[0]
	// The stop has not completed yet when the timer fires.
	st := c.timer(t0.Add(ho.after), timerHalfOpen, "a", ho.gen)
	if len(kinds(st, actSpawn)) != 0 || c.child("a").status != Restarting {
		t.Fatalf("spawned while the old process is alive: %+v", st.actions)
	}
	st = c.exited(t0.Add(ho.after), "a")
	if !slices.Equal(kinds(st, actSpawn), []string{"a"}) || c.child("a").status != Running {
		t.Fatalf("not spawned once the old process ended: %+v", st.actions)
	}
}

func TestEscalation(t *testing.T) {
	for _, root := range []bool{false, true} {
		name := "nested"
		if root {
			name = "root"
		}
		t.Run(name, func(t *testing.T) {
			c := started(t, budgetSpec("a"), root)
			now := t0
			var st step
			for trip := 1; trip <= 3; trip++ {
				st = tripA(t, c, now)
				c.exited(now, "a")
				if trip < 3 {
					if len(kinds(st, actEscalate)) != 0 || hasEvent(st, EventEscalated) {
						t.Fatalf("escalated after %d trips", trip)
					}
					ho := timers(st, timerHalfOpen)[0]
					now = now.Add(ho.after)
					c.timer(now, timerHalfOpen, "a", ho.gen)
					c.probeOK(now, "a", c.child("a").gen) // closes: the next trip needs a new budget exhaustion
				}
			}
			if !hasEvent(st, EventEscalated) {
				t.Fatal("no escalation event after 3 trips")
			}
			escalated := len(st.actions) > 0 && slices.ContainsFunc(st.actions, func(a action) bool { return a.kind == actEscalate })
			if escalated == root {
				t.Fatalf("root=%v: escalate action present=%v", root, escalated)
			}
			if root {
				// The root keeps supervising; the failing child stays isolated by its breaker.
				if c.halted || c.child("a").breaker != Open {
					t.Fatalf("root halted=%v, breaker %s", c.halted, c.child("a").breaker)
				}
			} else if !c.halted {
				t.Fatal("an escalated supervisor keeps restarting children")
			}
		})
	}
}

func TestTripsOutsideTheWindowDoNotEscalate(t *testing.T) {
	c := started(t, budgetSpec("a"), false)
	now := t0
	for range 5 {
		st := tripA(t, c, now)
		c.exited(now, "a")
		if len(kinds(st, actEscalate)) != 0 {
			t.Fatal("escalated although trips were spread beyond the window")
		}
		ho := timers(st, timerHalfOpen)[0]
		now = now.Add(ho.after)
		c.timer(now, timerHalfOpen, "a", ho.gen)
		c.probeOK(now, "a", c.child("a").gen)
		now = now.Add(31 * time.Second) // window is 1 min: at most 2 trips inside
	}
}

func TestKill(t *testing.T) {
	tests := []struct {
		mode KillMode
		want actionKind
	}{
		{KillPanic, actPanic},
		{KillStop, actStop},
		{KillPoison, actPoison},
	}
	for _, tt := range tests {
		t.Run(tt.mode.String(), func(t *testing.T) {
			c := started(t, testSpec(OneForOne, Permanent, "a"), false)
			st, err := c.kill(t0, "a", tt.mode, "")
			if err != nil || len(kinds(st, tt.want)) != 1 || !hasEvent(st, EventKilled) {
				t.Fatalf("err %v actions %+v", err, st.actions)
			}
		})
	}
	c := started(t, testSpec(OneForOne, Permanent, "a"), false)
	if _, err := c.kill(t0, "zz", KillStop, ""); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown child: %v", err)
	}
	if _, err := c.kill(t0, "a", KillStop, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.kill(t0, "a", KillPanic, ""); !errors.Is(err, ErrNotRunning) {
		t.Fatalf("kill while stopping: %v, want ErrNotRunning", err)
	}
	if _, err := c.kill(t0, "a", KillMode(9), ""); err == nil {
		t.Fatal("bad mode accepted")
	}
}

func TestHaltedSupervisorRestartsNothing(t *testing.T) {
	c := started(t, testSpec(OneForAll, Permanent, "a", "b"), false)
	c.halt()
	if st := fail(c, t0, "a"); len(kinds(st, actRestart))+len(kinds(st, actSpawn)) != 0 || !slices.Equal(kinds(st, actStop), []string{"a"}) {
		t.Fatalf("halted: %+v", st.actions)
	}
	if st := c.exited(t0, "b"); len(st.actions) != 0 {
		t.Fatalf("halted exit acted: %+v", st.actions)
	}
}

func TestNextToStopIsReverseSpecOrder(t *testing.T) {
	c := started(t, testSpec(OneForOne, Permanent, "a", "b", "c"), false)
	c.halt()
	var order []string
	for ch := c.nextToStop(); ch != nil; ch = c.nextToStop() {
		order = append(order, ch.spec.Name)
		ch.exit = causeExpected
		c.exited(t0, ch.spec.Name)
	}
	if !slices.Equal(order, []string{"c", "b", "a"}) {
		t.Fatalf("shutdown order %v, want [c b a]", order)
	}
}

func TestSpecValidate(t *testing.T) {
	worker := func() actor.Actor { return nil }
	ok := Spec{Name: "icn", Children: []ChildSpec{{Name: "dag", New: worker}}}.WithDefaults(ProductionDefaults())
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid spec rejected: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(*Spec)
	}{
		{"no name", func(s *Spec) { s.Name = "" }},
		{"slash in name", func(s *Spec) { s.Name = "a/b" }},
		{"bad strategy", func(s *Spec) { s.Strategy = 7 }},
		{"zero intensity", func(s *Spec) { s.Intensity = 0 }},
		{"negative period", func(s *Spec) { s.Period = -1 }},
		{"backoff max < initial", func(s *Spec) { s.Backoff.Max = s.Backoff.Initial / 2 }},
		{"jitter 1", func(s *Spec) { s.Backoff.Jitter = 1 }},
		{"no probes", func(s *Spec) { s.Breaker.Probes = 0 }},
		{"escalation window", func(s *Spec) { s.Escalate.Window = 0 }},
		{"child without producer", func(s *Spec) { s.Children[0].New = nil }},
		{"child both kinds", func(s *Spec) { s.Children[0].Supervisor = &Spec{} }},
		{"duplicate child", func(s *Spec) { s.Children = append(s.Children, s.Children[0]) }},
		{"bad restart", func(s *Spec) { s.Children[0].Restart = 5 }},
		{"no shutdown", func(s *Spec) { s.Children[0].Shutdown = 0 }},
		{"bad nested", func(s *Spec) {
			s.Children[0].New = nil
			s.Children[0].Supervisor = &Spec{Strategy: 9}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := ok
			s.Children = slices.Clone(ok.Children)
			tt.mutate(&s)
			if err := s.Validate(); !errors.Is(err, ErrInvalidSpec) {
				t.Fatalf("err = %v, want ErrInvalidSpec", err)
			}
		})
	}
}

func TestParseWords(t *testing.T) {
	for _, s := range []Strategy{OneForOne, OneForAll, RestForOne} {
		if got, err := ParseStrategy(s.String()); err != nil || got != s {
			t.Errorf("ParseStrategy(%q) = %v, %v", s, got, err)
		}
	}
	for _, m := range []KillMode{KillPanic, KillStop, KillPoison} {
		if got, err := ParseKillMode(m.String()); err != nil || got != m {
			t.Errorf("ParseKillMode(%q) = %v, %v", m, got, err)
		}
	}
	if _, err := ParseKillMode("explode"); !errors.Is(err, ErrBadKillMode) {
		t.Errorf("bad mode: %v", err)
	}
	if _, err := ParseStrategy("all_for_none"); err == nil {
		t.Error("bad strategy accepted")
	}
}

// TestStrategyTimesRestartType is the whole matrix: the middle child of
// three, all of one restart type, fails (panic) or exits normally, under
// each strategy.
func TestStrategyTimesRestartType(t *testing.T) {
	groups := map[Strategy][]string{OneForOne: {"b"}, OneForAll: {"a", "b", "c"}, RestForOne: {"b", "c"}}
	for _, strategy := range []Strategy{OneForOne, OneForAll, RestForOne} {
		for _, restart := range []RestartType{Permanent, Transient, Temporary} {
			for _, how := range []string{"panic", "normal exit"} {
				t.Run(strategy.String()+"/"+restart.String()+"/"+how, func(t *testing.T) {
					c := started(t, testSpec(strategy, restart, "a", "b", "c"), false)
					now := t0.Add(time.Minute)
					var st step
					if how == "panic" {
						st = fail(c, now, "b")
					} else {
						st = c.exited(now, "b")
					}
					restarted := append(kinds(st, actRestart), kinds(st, actSpawn)...)
					switch {
					case restart == Temporary:
						// Never restarted; a panicked one is stopped, then removed.
						if len(restarted) != 0 {
							t.Fatalf("temporary child restarted: %v", restarted)
						}
						if how == "panic" {
							c.exited(now, "b")
						}
						if c.child("b") != nil {
							t.Fatal("temporary child still supervised")
						}
					case restart == Transient && how == "normal exit":
						if len(restarted) != 0 || c.child("b").status != Stopped {
							t.Fatalf("transient normal exit restarted %v", restarted)
						}
					default:
						want := groups[strategy]
						if how == "normal exit" {
							// The exited child gets a new process; the others restart in place.
							if got := kinds(st, actSpawn); !slices.Equal(got, []string{"b"}) {
								t.Fatalf("spawned %v, want [b]", got)
							}
							want = slices.DeleteFunc(slices.Clone(want), func(n string) bool { return n == "b" })
							if got := kinds(st, actRestart); !slices.Equal(got, want) {
								t.Fatalf("restarted in place %v, want %v", got, want)
							}
						} else if got := kinds(st, actRestart); !slices.Equal(got, want) {
							t.Fatalf("restarted %v, want %v", got, want)
						}
					}
					// Siblings outside the group are untouched.
					for _, n := range []string{"a", "c"} {
						inGroup := slices.Contains(groups[strategy], n) && (restart == Permanent || restart == Transient && how == "panic")
						if got := c.child(n).restarts; (got == 1) != inGroup {
							t.Errorf("%s restarts %d (in group: %v)", n, got, inGroup)
						}
					}
				})
			}
		}
	}
}
