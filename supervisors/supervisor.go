package supervisors

import (
	"fmt"
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/intercooperative-network/icn-go/messages/correlation"
)

// Protocol messages between the tree, supervisors and children. They are
// pointers to unexported types so no other package can forge them.
type (
	timerFired struct {
		instance uint64
		kind     timerKind
		child    string
		gen      uint64
	}
	probeOK struct {
		child string
		gen   uint64
	}
	killRequest struct {
		child string
		mode  KillMode
		cause string // correlation id of the request asking for it
	}
	shutdownRequest struct{}
	shutdownDone    struct{}
	injectedPanic   struct{}
)

// Ping asks any actor in the tree to answer Pong from its own mailbox: a
// liveness probe that does not depend on the actor's domain code.
type Ping struct{}

// Pong answers Ping.
type Pong struct{ Path string }

// Children lets a supervisor's Behavior start and stop children at run time.
// Its methods may only be called from inside the Behavior's Receive.
type Children interface {
	// Start adds and spawns a child; ErrChildExists if the name is taken.
	Start(spec ChildSpec) error
	// Stop stops a child and deletes its spec.
	Stop(name string) error
	// PID returns the child's current process, or nil.
	PID(name string) *actor.PID
}

// supervisor is the protoactor actor that runs one Spec. It executes what its
// core decides; the core never sees protoactor.
type supervisor struct {
	tree     *Tree
	spec     Spec
	entry    *entry
	root     bool
	core     *core
	instance uint64

	ctx      actor.Context
	sup      actor.Supervisor // the same context, seen as protoactor's supervisor interface
	pids     map[string]*actor.PID
	names    map[string]string // PID id -> child name
	timers   map[string]Timer  // child name + timer kind -> timer
	behavior actor.Actor

	stopping       bool       // protoactor is restarting or stopping us
	shutdownTo     *actor.PID // set during ordered shutdown: who waits for shutdownDone
	shutdownOn     bool
	shutdownTarget string // the child being stopped now
	log            *slog.Logger
}

func newSupervisor(t *Tree, spec Spec, e *entry, root bool) *supervisor {
	return &supervisor{
		tree: t, spec: spec, entry: e, root: root,
		instance: t.instances.Add(1),
		pids:     map[string]*actor.PID{},
		names:    map[string]string{},
		timers:   map[string]Timer{},
		log:      t.log.With("supervisor", e.path),
	}
}

// Receive implements actor.Actor.
func (s *supervisor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		s.ctx = c
		s.sup = c.(actor.Supervisor)
		s.core = newCore(s.spec, s.root, s.tree.rand)
		for _, cs := range s.spec.Children {
			e := s.tree.reg.ensure(s.entry, cs, s.spec.Breaker)
			// Counters outlive this supervisor's own restarts.
			s.core.child(cs.Name).seed(e.restarts.Load(), e.failures.Load(), e.trips.Load())
		}
		s.apply(s.core.start(s.tree.clock.Now()))
		if s.spec.Behavior != nil {
			s.behavior = s.spec.Behavior(s)
			s.behavior.Receive(c)
		}
	case *actor.Restarting, *actor.Stopping, *actor.Stopped:
		s.halt()
		if s.behavior != nil {
			s.behavior.Receive(c) // its handler must be trivial: a panic here restarts the supervisor
		}
	case *actor.Terminated:
		if !s.terminated(m.Who) && s.behavior != nil {
			s.behavior.Receive(c) // a helper the behaviour spawned and watches
		}
	case *timerFired:
		if m.instance == s.instance && !s.stopping {
			delete(s.timers, timerKey(m.child, m.kind))
			s.apply(s.core.timer(s.tree.clock.Now(), m.kind, m.child, m.gen))
		}
	case *probeOK:
		if !s.stopping {
			s.apply(s.core.probeOK(s.tree.clock.Now(), m.child, m.gen))
		}
	case *killRequest:
		c.Respond(s.kill(m))
	case *shutdownRequest:
		s.shutdown(c.Sender())
	default:
		if s.behavior != nil {
			s.behavior.Receive(c)
		} else if c.Sender() != nil {
			c.Respond(fmt.Errorf("%w: %s got %T", ErrUnhandled, s.entry.path, c.Message()))
		}
	}
}

func (s *supervisor) kill(m *killRequest) error {
	if s.stopping || s.shutdownOn {
		return fmt.Errorf("%w: %s is shutting down", ErrNotRunning, s.entry.path)
	}
	st, err := s.core.kill(s.tree.clock.Now(), m.child, m.mode, m.cause)
	if err != nil {
		return err
	}
	s.apply(st)
	return nil
}

// HandleFailure implements actor.SupervisorStrategy: protoactor calls it on
// this supervisor's own goroutine when a child panicked or escalated.
func (s *supervisor) HandleFailure(_ *actor.ActorSystem, _ actor.Supervisor, child *actor.PID, _ *actor.RestartStatistics, reason any, message any) {
	name, ok := s.names[child.Id]
	if s.stopping {
		return
	}
	if !ok {
		// Not a supervised child: a helper its behaviour spawned. Nothing
		// restarts it; stop it rather than leave it suspended.
		s.log.Warn("unsupervised helper failed; stopping it", "pid", child.Id, "reason", failureReason(reason))
		s.ctx.Stop(child)
		return
	}
	f := FailureInfo{Reason: failureReason(reason), Time: s.tree.clock.Now()}
	var cause string
	if message != nil {
		header, msg, _ := actor.UnwrapEnvelope(message)
		if msg != nil {
			f.MessageType = fmt.Sprintf("%T", msg)
		}
		if header != nil {
			cause = header.Get(correlation.Header)
		}
	}
	s.apply(s.core.failed(f.Time, name, f, cause))
}

func failureReason(reason any) string {
	switch r := reason.(type) {
	case error:
		return r.Error()
	case fmt.Stringer:
		return r.String()
	default:
		return fmt.Sprint(r)
	}
}

// terminated handles a child's exit; it reports false for a PID that is
// not a supervised child.
func (s *supervisor) terminated(pid *actor.PID) bool {
	name, ok := s.names[pid.Id]
	if !ok {
		return false
	}
	if s.pids[name] == pid {
		delete(s.pids, name)
	}
	delete(s.names, pid.Id)
	if s.stopping {
		return true
	}
	if t, ok := s.timers[timerKey(name, timerShutdown)]; ok {
		t.Stop() // its shutdown budget
		delete(s.timers, timerKey(name, timerShutdown))
	}
	s.apply(s.core.exited(s.tree.clock.Now(), name))
	if s.shutdownOn && (name == s.shutdownTarget || s.shutdownTarget == "") {
		if name == s.shutdownTarget {
			s.shutdownStopped(name)
		}
		s.shutdownNext() // one child at a time: only the one being stopped moves shutdown on
	}
	return true
}

// shutdownStopped reports a child stopped by an ordered shutdown, once it
// has (its own children first), so the log reads in the order things
// stopped.
func (s *supervisor) shutdownStopped(name string) {
	s.tree.observe(Event{Time: s.tree.clock.Now(), Path: s.entry.path + "/" + name, Type: EventStopped, Reason: "shutdown"},
		s.classOf(name))
}

// halt runs when protoactor restarts or stops this supervisor: its children
// are being stopped by protoactor, and nothing this instance scheduled may act.
func (s *supervisor) halt() {
	if s.stopping {
		return
	}
	s.stopping = true
	if s.core != nil {
		s.core.halt()
	}
	for k, t := range s.timers {
		t.Stop()
		delete(s.timers, k)
	}
	s.entry.mu.Lock()
	kids := append([]*entry(nil), s.entry.children...)
	s.entry.mu.Unlock()
	for _, k := range kids {
		if s.core != nil {
			if ch := s.core.child(k.name); ch != nil && ch.dynamic {
				s.tree.reg.remove(k) // the next instance rebuilds its dynamic children
				continue
			}
		}
		k.status.Store(int32(Stopped))
		k.breaker.Store(int32(Closed))
		k.pid.Store(nil)
	}
}

// apply carries out a step: actions in order, then registry, logs, metrics, watchers.
func (s *supervisor) apply(st step) {
	touched := map[string]bool{}
	for _, a := range st.actions {
		touched[a.child] = true
		s.act(a)
		if a.kind == actSpawn {
			// Published at once, not after the whole step: a child's
			// Started runs as soon as it is spawned, and may call a
			// sibling spawned before it, which must not look stopped.
			if ch := s.core.child(a.child); ch != nil {
				s.sync(ch)
			}
		}
	}
	for _, e := range st.events {
		if e.Path != "" {
			touched[e.Path] = true
		}
	}
	for name := range touched {
		if name == "" {
			continue
		}
		if ch := s.core.child(name); ch != nil {
			s.sync(ch)
		}
	}
	for _, e := range st.events {
		ev := e
		if ev.Path == "" {
			ev.Path = s.entry.path
		} else {
			ev.Path = s.entry.path + "/" + ev.Path
		}
		s.tree.observe(ev, s.classOf(e.Path))
	}
}

func (s *supervisor) classOf(child string) string {
	if child == "" {
		return s.entry.class
	}
	if ch := s.core.child(child); ch != nil {
		return s.entry.class + "/" + ch.spec.class()
	}
	return s.entry.class + "/" + child
}

func (s *supervisor) act(a action) {
	switch a.kind {
	case actSpawn:
		s.spawn(a.child)
	case actRestart:
		if pid := s.pids[a.child]; pid != nil {
			s.sup.RestartChildren(pid)
		}
	case actStop:
		if pid := s.pids[a.child]; pid != nil {
			s.ctx.Stop(pid)
		}
	case actPoison:
		if pid := s.pids[a.child]; pid != nil {
			s.ctx.Poison(pid)
		}
	case actPanic:
		if pid := s.pids[a.child]; pid != nil {
			s.ctx.Send(pid, &injectedPanic{})
		}
	case actTimer:
		s.arm(a)
	case actEscalate:
		s.halt()
		// The envelope carries only the correlation id, so that the parent's
		// events name the request behind the escalation too.
		var msg any
		if a.cause != "" {
			env := &actor.MessageEnvelope{}
			env.SetHeader(correlation.Header, a.cause)
			msg = env
		}
		s.sup.EscalateFailure(EscalationError{Path: s.entry.path, Trips: s.spec.Escalate.MaxTrips}, msg)
	case actRemove:
		if e, err := s.tree.reg.find(s.entry.path + "/" + a.child); err == nil {
			s.tree.reg.remove(e)
		}
	}
}

func (s *supervisor) spawn(name string) {
	ch := s.core.child(name)
	e := s.tree.reg.ensure(s.entry, ch.spec, s.spec.Breaker)
	pid, err := s.ctx.SpawnNamed(s.tree.props(e, ch.spec, false), name)
	if err != nil {
		s.log.Error("spawn failed", "child", name, "err", err)
		s.apply(s.core.spawnFailed(s.tree.clock.Now(), name, err))
		return
	}
	s.pids[name] = pid
	s.names[pid.Id] = name
	e.pid.Store(pid)
}

func timerKey(child string, kind timerKind) string { return child + "\x00" + kind.String() }

func (s *supervisor) arm(a action) {
	key := timerKey(a.child, a.timer)
	if old, ok := s.timers[key]; ok {
		old.Stop()
	}
	self, sys := s.ctx.Self(), s.ctx.ActorSystem()
	msg := &timerFired{instance: s.instance, kind: a.timer, child: a.child, gen: a.gen}
	s.timers[key] = s.tree.clock.AfterFunc(a.after, func() { sys.Root.Send(self, msg) })
}

// sync publishes the core's view of ch to its registry entry.
func (s *supervisor) sync(ch *child) {
	e, err := s.tree.reg.find(s.entry.path + "/" + ch.spec.Name)
	if err != nil {
		return
	}
	if !ch.alive || ch.exit != causeNone {
		e.pid.Store(nil) // gone, or on its way out: calls fail fast
	}
	status := ch.status
	if status == Running && !ch.alive {
		status = Restarting
	}
	if e.gen.Load() != ch.gen {
		// A new generation: a new process or a new breaker state. A
		// half-open child gets a fresh set of probes each time.
		if ch.breaker == HalfOpen {
			e.probes.Store(int32(s.spec.Breaker.Probes))
		}
		e.probeSent.Store(false)
		e.gen.Store(ch.gen)
	}
	if status == Restarting && !ch.restartAt.IsZero() {
		e.retryAt.Store(ch.restartAt.UnixNano())
	} else {
		e.retryAt.Store(0)
	}
	e.status.Store(int32(status))
	e.breaker.Store(int32(ch.breaker))
	e.openUntil.Store(ch.openUntil.UnixNano())
	e.trips.Store(ch.trips)
	e.restarts.Store(ch.restarts)
	e.failures.Store(ch.failures)
	if ch.lastFailure != nil {
		e.lastFailure.Store(ch.lastFailure)
	}
}

// shutdown stops the children one by one in reverse spec order (OTP), each
// gracefully within its Shutdown budget, then stops this supervisor.
func (s *supervisor) shutdown(requester *actor.PID) {
	if s.shutdownOn {
		return
	}
	s.shutdownOn = true
	s.shutdownTo = requester
	s.core.halt()
	for k, t := range s.timers {
		t.Stop()
		delete(s.timers, k)
	}
	// Children already on their way out (a kill in progress) get the same
	// budget as everyone; then they are stopped hard.
	for _, ch := range s.core.children {
		if ch.alive && ch.exit != causeNone {
			s.armShutdownBudget(ch)
		}
	}
	s.shutdownNext()
}

func (s *supervisor) shutdownNext() {
	s.shutdownTarget = ""
	if ch := s.core.nextToStop(); ch != nil {
		ch.exit = causeExpected
		ch.status = Stopped
		s.sync(ch)
		pid := s.pids[ch.spec.Name]
		switch {
		case pid == nil:
			s.shutdownStopped(ch.spec.Name) // nothing to wait for
		case ch.suspended:
			s.ctx.Stop(pid) // a suspended mailbox would never reach a poison pill
		case ch.spec.Kind() == SupervisorKind:
			s.ctx.Send(pid, &shutdownRequest{})
		default:
			s.ctx.Poison(pid)
		}
		if pid != nil {
			s.shutdownTarget = ch.spec.Name
			s.armShutdownBudget(ch)
		}
		return
	}
	if s.core.anyAlive() {
		return // waiting for children already on their way out
	}
	for k, t := range s.timers {
		t.Stop()
		delete(s.timers, k)
	}
	if s.shutdownTo != nil {
		s.ctx.Send(s.shutdownTo, &shutdownDone{})
	}
	if !s.root {
		// The parent waits for our Terminated; the root is stopped by the
		// tree once it has the reply, so no watch ever meets a dead process.
		s.ctx.Stop(s.ctx.Self())
	}
}

// armShutdownBudget stops ch hard if it has not exited within its budget.
func (s *supervisor) armShutdownBudget(ch *child) {
	pid := s.pids[ch.spec.Name]
	if pid == nil {
		return
	}
	sys := s.ctx.ActorSystem()
	s.timers[timerKey(ch.spec.Name, timerShutdown)] = s.tree.clock.AfterFunc(ch.spec.Shutdown, func() {
		sys.Root.Stop(pid)
	})
}

// Start implements Children.
func (s *supervisor) Start(cs ChildSpec) error {
	cs = cs.WithDefaults(s.tree.defaults)
	if err := cs.validate(s.entry.path); err != nil {
		return err
	}
	st, err := s.core.add(s.tree.clock.Now(), cs)
	if err != nil {
		return err
	}
	s.apply(st)
	return nil
}

// Stop implements Children.
func (s *supervisor) Stop(name string) error {
	st, err := s.core.remove(s.tree.clock.Now(), name)
	if err != nil {
		return err
	}
	s.apply(st)
	return nil
}

// PID implements Children.
func (s *supervisor) PID(name string) *actor.PID { return s.pids[name] }
