package supervisors

import (
	"fmt"
	"math"
	"slices"
	"time"
)

// This file is the supervisor's decision core: restart types, strategies,
// restart budget, backoff, breakers and escalation as pure functions of
// (state, event, now). It does no I/O and knows nothing of protoactor; the
// supervisor actor (supervisor.go) executes the actions it returns.

// exitCause records why the core expects a child's process to end.
type exitCause int

const (
	causeNone     exitCause = iota // not expected: the child stopped itself (a normal exit)
	causeExpected                  // we stopped it (breaker, removal, shutdown): no restart decision
	causeKilled                    // fault-injected stop: abnormal
	causePoisoned                  // fault-injected poison: a normal exit
)

// child is the core's view of one supervised child.
type child struct {
	spec    ChildSpec
	dynamic bool // added at run time; removed when it exits for good

	status    Status
	alive     bool      // a process exists (spawned, not yet terminated)
	suspended bool      // its mailbox is suspended by a failure, awaiting a decision
	gen       uint64    // changes on every transition; timers carry it to detect staleness
	restartAt time.Time // when a pending group restart is due

	attempt   int       // backoff attempt
	startedAt time.Time // last (re)start
	group     []string  // children restarting together with this one (when it failed)

	breaker     BreakerState
	trips       uint64 // total breaker trips
	consecutive int    // trips since the breaker last closed
	openUntil   time.Time

	restarts    uint64
	failures    uint64
	lastFailure *FailureInfo

	exit         exitCause
	spawnOnExit  bool // start a new process as soon as the old one is gone
	removeOnExit bool

	// cause is the correlation id of the request (a kill, or a call that
	// made the child panic) whose consequences are still unfolding; the
	// events it causes carry it until the child runs again or is isolated.
	cause string
}

type actionKind int

const (
	actSpawn    actionKind = iota // start a new process for the child
	actRestart                    // restart the existing process in place (keeps PID and queued messages)
	actStop                       // stop at once
	actPoison                     // stop after the mailbox drains
	actPanic                      // deliver an injected panic
	actTimer                      // arm a timer
	actEscalate                   // fail the supervisor itself
	actRemove                     // the child spec is gone
)

type timerKind int

const (
	timerRestart  timerKind = iota // backoff elapsed: restart the group
	timerHalfOpen                  // open timeout elapsed: probe the child
	timerProbe                     // probe window elapsed: close the breaker if still healthy
	timerShutdown                  // a child's shutdown budget elapsed (armed by the shell)
)

func (k timerKind) String() string {
	return [...]string{"restart", "half_open", "probe", "shutdown"}[k]
}

type action struct {
	kind   actionKind
	child  string
	timer  timerKind
	gen    uint64
	after  time.Duration
	reason string
	cause  string // actEscalate: the correlation id of what led to it
}

// step is what one event decided: actions to carry out, in order, and the
// facts to log, count and publish.
type step struct {
	actions []action
	events  []Event
}

func (s *step) do(a action)  { s.actions = append(s.actions, a) }
func (s *step) note(e Event) { s.events = append(s.events, e) }

// core holds one supervisor's decisions.
type core struct {
	spec     Spec
	root     bool
	rand     func() float64 // uniform in [0, 1), for jitter
	children []*child       // spec order; removal keeps the order of the rest
	restarts []time.Time    // restart budget window
	trips    []time.Time    // escalation window
	halted   bool           // shutting down or escalated: no more restarts
	gens     uint64         // one counter for all children, so a re-added child never reuses a generation
}

// seed carries counters over from a previous incarnation of the supervisor.
func (ch *child) seed(restarts, failures, trips uint64) {
	ch.restarts, ch.failures, ch.trips = restarts, failures, trips
}

// bump gives ch a new generation: every timer armed before is stale.
func (c *core) bump(ch *child) {
	c.gens++
	ch.gen = c.gens
}

func newCore(spec Spec, root bool, rand func() float64) *core {
	c := &core{spec: spec, root: root, rand: rand}
	for _, cs := range spec.Children {
		c.children = append(c.children, &child{spec: cs, status: Stopped})
	}
	return c
}

func (c *core) child(name string) *child {
	for _, ch := range c.children {
		if ch.spec.Name == name {
			return ch
		}
	}
	return nil
}

func (c *core) event(now time.Time, ch *child, t EventType) Event {
	return Event{Time: now, Path: ch.spec.Name, Type: t, RequestID: ch.cause}
}

// start spawns every static child in spec order.
func (c *core) start(now time.Time) (st step) {
	for _, ch := range c.children {
		c.launch(now, ch, &st)
		st.note(c.event(now, ch, EventStarted))
	}
	return st
}

func (c *core) launch(now time.Time, ch *child, st *step) {
	ch.status, ch.alive, ch.startedAt = Running, true, now
	c.bump(ch)
	st.do(action{kind: actSpawn, child: ch.spec.Name})
}

// add starts a dynamic child.
func (c *core) add(now time.Time, cs ChildSpec) (st step, err error) {
	if c.halted {
		return st, ErrStopped
	}
	if c.child(cs.Name) != nil {
		return st, fmt.Errorf("%w: %q", ErrChildExists, cs.Name)
	}
	ch := &child{spec: cs, dynamic: true}
	c.children = append(c.children, ch)
	c.launch(now, ch, &st)
	st.note(c.event(now, ch, EventStarted))
	return st, nil
}

// remove stops a child and deletes its spec.
func (c *core) remove(now time.Time, name string) (st step, err error) {
	ch := c.child(name)
	if ch == nil {
		return st, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	c.bump(ch)
	c.releaseGroup(now, ch, &st)
	if ch.alive {
		ch.exit, ch.removeOnExit = causeExpected, true
		ch.status = Stopped
		st.do(action{kind: actStop, child: name})
		e := c.event(now, ch, EventStopped)
		e.Reason = "removed"
		st.note(e)
		return st, nil
	}
	c.drop(now, ch, &st)
	return st, nil
}

// releaseGroup restarts now the rest of a group whose restart ch was
// leading, when ch leaves it (removed or tripped): its timer is stale.
func (c *core) releaseGroup(now time.Time, ch *child, st *step) {
	if len(ch.group) == 0 {
		return
	}
	ch.status = Stopped
	c.restartGroupNow(now, ch, st)
}

func (c *core) drop(now time.Time, ch *child, st *step) {
	c.children = slices.DeleteFunc(c.children, func(x *child) bool { return x == ch })
	st.do(action{kind: actRemove, child: ch.spec.Name})
	st.note(c.event(now, ch, EventRemoved))
}

// failed handles a child that panicked or escalated; its process still exists
// with a suspended mailbox. cause is the correlation id carried by the
// message it failed on, if any.
func (c *core) failed(now time.Time, name string, f FailureInfo, cause string) (st step) {
	ch := c.child(name)
	if ch == nil || !ch.alive {
		return st
	}
	if cause != "" {
		ch.cause = cause
	}
	ch.failures++
	ch.lastFailure = &f
	ch.suspended = true
	e := c.event(now, ch, EventFailed)
	e.Reason = f.Reason
	st.note(e)
	if c.halted || ch.exit != causeNone {
		// On its way out (shutdown, or a stop or poison already asked): its
		// suspended mailbox would never get there, so stop it now (a second
		// Stop is harmless). The exit decides what happens next.
		if ch.exit == causeNone {
			ch.exit = causeExpected
		}
		st.do(action{kind: actStop, child: name})
		return st
	}
	if ch.status != Running {
		// Part of a pending group restart: it restarts with the group.
		return st
	}
	c.abnormal(now, ch, "failure: "+f.Reason, &st)
	return st
}

// exited handles a child whose process ended.
func (c *core) exited(now time.Time, name string) (st step) {
	ch := c.child(name)
	if ch == nil {
		return st
	}
	ch.alive, ch.suspended = false, false
	cause := ch.exit
	ch.exit = causeNone
	if cause != causeExpected {
		st.note(c.event(now, ch, EventExited))
	}
	switch {
	case ch.removeOnExit:
		c.drop(now, ch, &st)
		return st
	case c.halted:
		ch.status = Stopped
		return st
	case ch.spawnOnExit:
		ch.spawnOnExit = false
		ch.status, ch.alive, ch.startedAt = Running, true, now
		c.bump(ch)
		st.do(action{kind: actSpawn, child: name})
		if ch.breaker == HalfOpen {
			st.do(action{kind: actTimer, child: name, timer: timerProbe, gen: ch.gen, after: c.spec.Breaker.ProbeWindow})
		}
		return st
	case cause == causeExpected, ch.status == Restarting:
		return st // a breaker trip or a pending group restart owns this child
	}
	abnormal := cause == causeKilled
	if abnormal {
		ch.failures++
		ch.lastFailure = &FailureInfo{Reason: "killed (fault injection: stop)", Time: now}
		e := c.event(now, ch, EventFailed)
		e.Reason = ch.lastFailure.Reason
		st.note(e)
	}
	switch {
	case ch.spec.Restart == Temporary:
		c.drop(now, ch, &st)
	case ch.spec.Restart == Transient && !abnormal:
		ch.status, ch.breaker = Stopped, Closed // done for good: nothing to probe
		ch.cause = ""
		if ch.dynamic {
			c.drop(now, ch, &st)
		}
	case ch.breaker == HalfOpen:
		c.trip(now, ch, "probe failed: exited", &st)
	default:
		reason := "exited normally"
		if abnormal {
			reason = "killed"
		} else if cause == causePoisoned {
			reason = "poisoned"
		}
		c.restartOrTrip(now, ch, reason, &st)
	}
	return st
}

// spawnFailed treats a process that could not be created as an abnormal exit.
func (c *core) spawnFailed(now time.Time, name string, err error) (st step) {
	ch := c.child(name)
	if ch == nil {
		return st
	}
	ch.alive, ch.suspended = false, false
	ch.failures++
	ch.lastFailure = &FailureInfo{Reason: "spawn: " + err.Error(), Time: now}
	if c.halted {
		ch.status = Stopped
		return st
	}
	c.abnormal(now, ch, ch.lastFailure.Reason, &st)
	return st
}

// abnormal decides for a child that failed (process alive and suspended, or gone).
func (c *core) abnormal(now time.Time, ch *child, reason string, st *step) {
	switch {
	case ch.breaker == HalfOpen:
		c.trip(now, ch, "probe failed: "+reason, st)
	case ch.spec.Restart == Temporary:
		if ch.alive {
			ch.exit, ch.removeOnExit = causeExpected, true
			ch.status = Stopped
			st.do(action{kind: actStop, child: ch.spec.Name})
		} else {
			c.drop(now, ch, st)
		}
	default:
		c.restartOrTrip(now, ch, reason, st)
	}
}

func (c *core) restartOrTrip(now time.Time, ch *child, reason string, st *step) {
	c.restarts = pruneBefore(c.restarts, now.Add(-c.spec.Period))
	if len(c.restarts) >= c.spec.Intensity {
		c.trip(now, ch, fmt.Sprintf("restart budget exhausted (%d restarts within %s)", len(c.restarts), c.spec.Period), st)
		return
	}
	c.restarts = append(c.restarts, now)
	delay := c.backoff(now, ch)
	ch.group = c.restartGroup(ch)
	for _, name := range ch.group {
		g := c.child(name)
		g.status = Restarting
		g.restartAt = now.Add(delay)
		c.bump(g)
	}
	if delay == 0 {
		c.restartGroupNow(now, ch, st)
		return
	}
	e := c.event(now, ch, EventRestarting)
	e.Reason, e.Delay = reason, delay
	st.note(e)
	st.do(action{kind: actTimer, child: ch.spec.Name, timer: timerRestart, gen: ch.gen, after: delay})
}

// restartGroup lists who restarts with ch, in spec order, by strategy.
func (c *core) restartGroup(ch *child) []string {
	var group []string
	after := false
	for _, x := range c.children {
		if x == ch {
			group = append(group, x.spec.Name)
			after = true
			continue
		}
		if x.status != Running || x.exit != causeNone {
			continue
		}
		switch c.spec.Strategy {
		case OneForAll:
			group = append(group, x.spec.Name)
		case RestForOne:
			if after {
				group = append(group, x.spec.Name)
			}
		}
	}
	return group
}

func (c *core) restartGroupNow(now time.Time, ch *child, st *step) {
	group := ch.group
	ch.group = nil
	// The leader's failure restarts the whole group: all of it is caused by
	// the leader's request, if any.
	cause := ch.cause
	for _, x := range c.children { // spec order
		if !slices.Contains(group, x.spec.Name) || x.status != Restarting {
			continue
		}
		c.bump(x)
		x.restarts++
		x.startedAt = now
		e := c.event(now, x, EventRestarted)
		if e.RequestID == "" {
			e.RequestID = cause
		}
		st.note(e)
		x.cause = "" // running again: what happens next is not that request's doing
		if x.breaker == HalfOpen {
			// A half-open sibling keeps being probed across the group restart.
			st.do(action{kind: actTimer, child: x.spec.Name, timer: timerProbe, gen: x.gen, after: c.spec.Breaker.ProbeWindow})
		}
		switch {
		case x.alive && x.exit == causeNone:
			x.status, x.suspended = Running, false
			st.do(action{kind: actRestart, child: x.spec.Name})
		case x.alive:
			// Its old process is still on its way out: start the new one after.
			x.spawnOnExit = true
		default:
			x.status, x.alive = Running, true
			st.do(action{kind: actSpawn, child: x.spec.Name})
		}
	}
}

// backoff returns the delay before the next restart of ch: none for the
// first failure after a healthy period, then Initial×Multiplier^(n-1) capped
// at Max, spread by ±Jitter.
func (c *core) backoff(now time.Time, ch *child) time.Duration {
	b := c.spec.Backoff
	if ch.attempt > 0 && now.Sub(ch.startedAt) >= b.ResetAfter {
		ch.attempt = 0
	}
	n := ch.attempt
	ch.attempt++
	return backoffDelay(b, n, c.rand())
}

// backoffDelay is the delay of attempt n (0-based) for a jitter draw r in [0, 1).
func backoffDelay(b Backoff, n int, r float64) time.Duration {
	if n == 0 {
		return 0
	}
	d := float64(b.Initial) * math.Pow(b.Multiplier, float64(n-1))
	d = min(d, float64(b.Max))
	d *= 1 + b.Jitter*(2*r-1)
	return time.Duration(d)
}

// openTimeout is how long the n-th consecutive trip (1-based) keeps a breaker open.
func openTimeout(p BreakerPolicy, n int) time.Duration {
	d := float64(p.OpenTimeout) * math.Pow(p.Multiplier, float64(n-1))
	return time.Duration(min(d, float64(p.MaxOpenTimeout)))
}

// trip opens ch's breaker: the child is stopped and every call fails fast
// until the half-open timer.
func (c *core) trip(now time.Time, ch *child, reason string, st *step) {
	from := ch.breaker
	ch.breaker = Open
	ch.trips++
	ch.consecutive++
	timeout := openTimeout(c.spec.Breaker, ch.consecutive)
	ch.openUntil = now.Add(timeout)
	c.releaseGroup(now, ch, st)
	ch.status = Stopped
	ch.group = nil
	c.bump(ch)
	if ch.alive && ch.exit == causeNone {
		ch.exit = causeExpected
		st.do(action{kind: actStop, child: ch.spec.Name})
	} else if ch.alive {
		ch.exit = causeExpected
	}
	ch.spawnOnExit = false
	st.do(action{kind: actTimer, child: ch.spec.Name, timer: timerHalfOpen, gen: ch.gen, after: timeout})
	e := c.event(now, ch, EventBreaker)
	e.From, e.To, e.Reason, e.Delay = from.String(), Open.String(), reason, timeout
	st.note(e)

	// Erlang would restart the supervisor with a fresh budget here; we keep
	// the supervisor and give its other children that fresh budget.
	c.restarts = nil
	c.trips = append(pruneBefore(c.trips, now.Add(-c.spec.Escalate.Window)), now)
	if len(c.trips) < c.spec.Escalate.MaxTrips {
		ch.cause = "" // isolated: the half-open probe later is the timer's doing
		return
	}
	cause := ch.cause
	ch.cause = "" // isolated: the half-open probe later is the timer's doing
	esc := Event{Time: now, Type: EventEscalated, Reason: fmt.Sprintf("%d breaker trips within %s", len(c.trips), c.spec.Escalate.Window), RequestID: cause}
	if c.root {
		// Nothing above the root: the open breaker already isolates the subtree.
		esc.Reason += "; absorbed at the root: the failing subtree stays isolated by its breaker"
		st.note(esc)
		c.trips = nil
		return
	}
	c.halted = true
	st.note(esc)
	st.do(action{kind: actEscalate, reason: esc.Reason, cause: cause})
}

// timer handles a fired timer; stale ones (gen changed) do nothing.
func (c *core) timer(now time.Time, kind timerKind, name string, gen uint64) (st step) {
	ch := c.child(name)
	if ch == nil || ch.gen != gen || c.halted {
		return st
	}
	switch kind {
	case timerRestart:
		if ch.status == Restarting {
			c.restartGroupNow(now, ch, &st)
		}
	case timerHalfOpen:
		if ch.breaker != Open {
			return st
		}
		ch.breaker = HalfOpen
		c.bump(ch)
		ch.restarts++
		ch.startedAt = now
		e := c.event(now, ch, EventBreaker)
		e.From, e.To = Open.String(), HalfOpen.String()
		st.note(e)
		st.note(c.event(now, ch, EventRestarted))
		if ch.alive {
			// The old process is still stopping: spawn (and start the probe
			// window) once it is gone.
			ch.status = Restarting
			ch.spawnOnExit = true
			return st
		}
		ch.status, ch.alive = Running, true
		st.do(action{kind: actSpawn, child: name})
		st.do(action{kind: actTimer, child: name, timer: timerProbe, gen: ch.gen, after: c.spec.Breaker.ProbeWindow})
	case timerProbe:
		if ch.breaker == HalfOpen && ch.status == Running {
			c.closeBreaker(now, ch, "stayed up for the probe window", &st)
		}
	}
	return st
}

// probeOK handles a half-open child that handled a message successfully.
func (c *core) probeOK(now time.Time, name string, gen uint64) (st step) {
	ch := c.child(name)
	if ch == nil || ch.gen != gen || ch.breaker != HalfOpen || ch.status != Running {
		return st
	}
	c.closeBreaker(now, ch, "probe succeeded", &st)
	return st
}

func (c *core) closeBreaker(now time.Time, ch *child, reason string, st *step) {
	ch.breaker = Closed
	ch.consecutive = 0
	ch.attempt = 0
	c.bump(ch)
	c.restarts = nil
	e := c.event(now, ch, EventBreaker)
	e.From, e.To, e.Reason = HalfOpen.String(), Closed.String(), reason
	st.note(e)
}

// kill applies fault injection to a running child; cause is the correlation
// id of the request that asked for it.
func (c *core) kill(now time.Time, name string, mode KillMode, cause string) (st step, err error) {
	ch := c.child(name)
	if ch == nil {
		return st, fmt.Errorf("%w: %q", ErrNotFound, name)
	}
	if !ch.alive || ch.status != Running || ch.exit != causeNone || c.halted {
		return st, fmt.Errorf("%w: %s is %s (breaker %s)", ErrNotRunning, name, ch.status, ch.breaker)
	}
	switch mode {
	case KillPanic:
		st.do(action{kind: actPanic, child: name})
	case KillStop:
		ch.exit = causeKilled
		st.do(action{kind: actStop, child: name})
	case KillPoison:
		ch.exit = causePoisoned
		st.do(action{kind: actPoison, child: name})
	default:
		return st, fmt.Errorf("%w: %d", ErrBadKillMode, int(mode))
	}
	ch.cause = cause
	e := c.event(now, ch, EventKilled)
	e.Reason = mode.String()
	st.note(e)
	return st, nil
}

// halt stops all restart decisions (shutdown, or the supervisor itself is
// being restarted or stopped by its parent).
func (c *core) halt() { c.halted = true }

// nextToStop returns the last child, in spec order, whose process is alive and
// not already on its way out, for ordered shutdown; nil when none is left.
func (c *core) nextToStop() *child {
	for i := len(c.children) - 1; i >= 0; i-- {
		ch := c.children[i]
		if ch.alive && ch.exit == causeNone {
			return ch
		}
	}
	return nil
}

// anyAlive reports whether some child process still exists.
func (c *core) anyAlive() bool {
	return slices.ContainsFunc(c.children, func(ch *child) bool { return ch.alive })
}

func pruneBefore(ts []time.Time, cutoff time.Time) []time.Time {
	i := 0
	for i < len(ts) && ts[i].Before(cutoff) {
		i++
	}
	return ts[i:]
}
