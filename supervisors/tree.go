package supervisors

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/asynkron/protoactor-go/eventstream"
	"github.com/asynkron/protoactor-go/extensions"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/messages/correlation"
)

// Clock is the time source of the supervision runtime (backoff, breakers).
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is an armed Clock timer (an alias, so any clock whose timers can be
// stopped fits without an adapter).
type Timer = interface{ Stop() bool }

type realClock struct{}

func (realClock) Now() time.Time                            { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }

type options struct {
	clock    Clock
	rand     func() float64
	timeout  time.Duration
	defaults Defaults
}

// Option tunes a Tree; the zero set of options suits production.
type Option func(*options)

// WithClock sets the time source (default: the real clock).
func WithClock(c Clock) Option { return func(o *options) { o.clock = c } }

// WithRand sets the jitter source: uniform in [0, 1) and safe for
// concurrent use (default: math/rand/v2).
func WithRand(f func() float64) Option { return func(o *options) { o.rand = f } }

// WithRequestTimeout bounds a Request whose context has no deadline (default 5 s).
func WithRequestTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithDefaults sets the policy values for every field a spec leaves at zero
// (default: ProductionDefaults).
func WithDefaults(d Defaults) Option { return func(o *options) { o.defaults = d } }

// Tree is a live supervision tree: it spawns the root supervisor of a Spec,
// keeps the registry of every actor, resolves names for callers, applies
// fault injection and exports supervision metrics.
type Tree struct {
	spec     Spec
	system   *actor.ActorSystem
	reg      *registry
	log      *slog.Logger
	clock    Clock
	rand     func() float64
	timeout  time.Duration
	defaults Defaults
	metrics  *metrics

	instances atomic.Uint64
	started   atomic.Bool
	stopped   atomic.Bool
	stopOnce  sync.Once
	stopErr   error
	deadSub   *eventstream.Subscription

	watchMu  sync.Mutex
	watchers map[*watcher]struct{}
	stopCh   chan struct{}

	dispatcher *dispatcher

	// replies keeps answered reply processes for reuse (see newReply).
	replies chan *reply
}

// New validates spec (after filling its zero policy fields with the
// defaults) and prepares a tree; nothing runs until Start.
func New(spec Spec, logger *slog.Logger, reg prometheus.Registerer, opts ...Option) (*Tree, error) {
	o := options{clock: realClock{}, rand: rand.Float64, timeout: 5 * time.Second, defaults: ProductionDefaults()}
	for _, opt := range opts {
		opt(&o)
	}
	spec = spec.WithDefaults(o.defaults)
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	t := &Tree{
		spec: spec, reg: newRegistry(), log: logger.With("component", "supervisors"),
		clock: o.clock, rand: o.rand, timeout: o.timeout, defaults: o.defaults,
		watchers: map[*watcher]struct{}{}, stopCh: make(chan struct{}),
		dispatcher: newDispatcher(300, 64),
		replies:    make(chan *reply, replyPool),
	}
	m, err := newMetrics(t, reg)
	if err != nil {
		return nil, err
	}
	t.metrics = m
	protoLog := slog.New(minLevel{logger.With("component", "protoactor").Handler(), slog.LevelWarn})
	t.system = actor.NewActorSystem(
		actor.WithLoggerFactory(func(*actor.ActorSystem) *slog.Logger { return protoLog }),
		// Requests to a dead process are answered (callers get an error) and
		// counted in icn_deadletters_total; logging each would only add noise.
		actor.WithDeadLetterRequestLogging(false))
	t.system.Extensions.Register(treeExtension{t})
	return t, nil
}

// treeExtensionID names the tree among the actor system's extensions; it is
// assigned once, when the package initialises, and never changes.
var treeExtensionID = extensions.NextExtensionID()

type treeExtension struct{ t *Tree }

func (treeExtension) ExtensionID() extensions.ExtensionID { return treeExtensionID }

// TreeOf returns the tree an actor runs in, so that it can reach other
// subsystems by name (producers are built before the tree exists).
func TreeOf(c actor.Context) *Tree {
	ext, ok := c.ActorSystem().Extensions.Get(treeExtensionID).(treeExtension)
	if !ok {
		panic("supervisors: TreeOf an actor that is not in a Tree")
	}
	return ext.t
}

// System is the underlying actor system, for actors that spawn helpers.
func (t *Tree) System() *actor.ActorSystem { return t.system }

// Start spawns the root supervisor and returns once it has started its
// children (each child runs its Started before any message sent to it).
func (t *Tree) Start(ctx context.Context) error {
	if !t.started.CompareAndSwap(false, true) {
		return errors.New("supervisors: tree already started")
	}
	t.deadSub = t.system.EventStream.Subscribe(func(evt any) {
		if _, ok := evt.(*actor.DeadLetterEvent); ok {
			t.metrics.deadLetters.Inc()
		}
	})
	rootSpec := ChildSpec{Name: t.spec.Name, Restart: Permanent, Shutdown: t.defaults.Shutdown, Supervisor: &t.spec}
	e := t.reg.ensure(nil, rootSpec, t.spec.Breaker)
	pid, err := t.system.Root.SpawnNamed(t.props(e, rootSpec, true), t.spec.Name)
	if err != nil {
		return fmt.Errorf("supervisors: spawn root: %w", err)
	}
	e.pid.Store(pid)
	e.status.Store(int32(Running))
	// A supervisor registers and spawns its children in its Started; a Ping
	// answered means Started has run. Walk down so the whole static tree is
	// in the registry when Start returns.
	for level := []*entry{e}; len(level) > 0; {
		var next []*entry
		for _, sup := range level {
			p := sup.pid.Load()
			if p == nil {
				continue
			}
			if _, err := t.ask(ctx, p, &Ping{}); err != nil {
				return fmt.Errorf("supervisors: %s did not start: %w", sup.path, err)
			}
			sup.mu.Lock()
			for _, k := range sup.children {
				if k.kind == SupervisorKind {
					next = append(next, k)
				}
			}
			sup.mu.Unlock()
		}
		level = next
	}
	t.log.Info("supervision tree started", "root", e.path)
	return nil
}

// Stop shuts the tree down in order: every supervisor stops its children in
// reverse spec order, each within its shutdown budget, leaves first. A second
// call returns the first call's result.
func (t *Tree) Stop(ctx context.Context) error {
	t.stopOnce.Do(func() { t.stopErr = t.stop(ctx) })
	return t.stopErr
}

func (t *Tree) stop(ctx context.Context) error {
	t.stopped.Store(true)
	defer t.closeWatchers()
	defer t.dispatcher.stop()
	if !t.started.Load() {
		return nil
	}
	defer t.system.Shutdown()
	defer t.system.EventStream.Unsubscribe(t.deadSub)
	root := t.reg.root
	pid := root.pid.Load()
	if pid == nil {
		return nil
	}
	var errs []error
	if _, err := t.ask(ctx, pid, &shutdownRequest{}); err != nil {
		errs = append(errs, fmt.Errorf("supervisors: ordered shutdown: %w", err))
	}
	if err := t.system.Root.StopFuture(pid).Wait(); err != nil {
		errs = append(errs, fmt.Errorf("supervisors: stop root: %w", err))
	}
	root.pid.Store(nil)
	root.status.Store(int32(Stopped))
	t.log.Info("supervision tree stopped")
	return errors.Join(errs...)
}

func (t *Tree) props(e *entry, cs ChildSpec, root bool) *actor.Props {
	producer := safeProducer(cs.New)
	if cs.Supervisor != nil {
		spec := *cs.Supervisor
		spec.Name = cs.Name
		producer = func() actor.Actor { return newSupervisor(t, spec, e, root) }
	}
	t.metrics.touch(e.class)
	proc := &process{system: t.system, onDead: t.metrics.deadLetters.Inc}
	return actor.PropsFromProducer(producer,
		actor.WithDispatcher(t.dispatcher),
		actor.WithReceiverMiddleware(t.middleware(e, proc)),
		actor.WithMailbox(func() actor.Mailbox {
			proc.mailbox = actor.Unbounded()()
			mb := actor.Mailbox(&mailbox{Mailbox: proc.mailbox, p: proc})
			e.mailbox.Store(&mb)
			return mb
		}))
}

// safeProducer keeps a panicking producer from failing the supervisor
// (protoactor calls it on the supervisor's goroutine while spawning): the
// child is made anyway and fails in its own Started, so its supervisor
// handles it like any child that fails to start.
func safeProducer(newActor func() actor.Actor) actor.Producer {
	return func() (a actor.Actor) {
		defer func() {
			if r := recover(); r != nil {
				a = failedToStart{reason: "producer panicked: " + failureReason(r)}
			}
		}()
		return newActor()
	}
}

type failedToStart struct{ reason string }

func (f failedToStart) Receive(c actor.Context) {
	if _, ok := c.Message().(*actor.Started); ok {
		panic(f.reason)
	}
}

// middleware runs in every actor of the tree: it counts messages, answers
// Ping, turns injected faults into panics inside the actor's receive, replies
// to a caller whose request made the actor panic, and reports the first
// successful request of a half-open actor to its supervisor.
func (t *Tree) middleware(e *entry, proc *process) actor.ReceiverMiddleware {
	processed := t.metrics.processedFor(e.class)
	return func(next actor.ReceiverFunc) actor.ReceiverFunc {
		return func(c actor.ReceiverContext, env *actor.MessageEnvelope) {
			switch env.Message.(type) {
			case *injectedPanic:
				panic(InjectedFault{Path: e.path})
			case *Ping:
				e.processed.Add(1)
				processed.Add(1)
				if env.Sender != nil {
					c.ActorSystem().Root.Send(env.Sender, &Pong{Path: e.path})
				}
				return
			case *actor.Stopped:
				next(c, env)
				proc.stoppedNow()
				return
			case *actor.Started, *actor.Stopping, *actor.Restarting, *actor.PoisonPill:
				next(c, env)
				return
			}
			if env.Sender == nil {
				next(c, env)
				e.processed.Add(1)
				processed.Add(1)
				return
			}
			defer func() {
				if r := recover(); r != nil {
					c.ActorSystem().Root.Send(env.Sender, &ActorFailedError{Path: e.path, Reason: failureReason(r)})
					panic(r)
				}
			}()
			next(c, env)
			e.processed.Add(1)
			processed.Add(1)
			if e.breaker.Load() == int32(HalfOpen) && e.probeSent.CompareAndSwap(false, true) {
				c.ActorSystem().Root.Send(c.Parent(), &probeOK{child: e.name, gen: e.gen.Load()})
			}
		}
	}
}

// observe logs, counts and streams one supervision event.
func (t *Tree) observe(ev Event, class string) {
	level := slog.LevelInfo
	switch ev.Type {
	case EventFailed, EventKilled:
		level = slog.LevelWarn
		if ev.Type == EventFailed {
			t.metrics.failures.WithLabelValues(class).Inc()
		}
	case EventRestarted:
		t.metrics.restarts.WithLabelValues(class).Inc()
	case EventBreaker:
		t.metrics.transitions.WithLabelValues(class, ev.To).Inc()
		if ev.To == Open.String() {
			level = slog.LevelWarn
		}
	case EventEscalated:
		level = slog.LevelError
	case EventStarted, EventRemoved:
		// Stops are logged at Info (one line per child, also on shutdown);
		// a removal follows a stopped or exited line, and starts are routine.
		level = slog.LevelDebug
	}
	attrs := []slog.Attr{slog.String("actor", ev.Path), slog.String("event", string(ev.Type))}
	if ev.From != "" || ev.To != "" {
		attrs = append(attrs, slog.String("from", ev.From), slog.String("to", ev.To))
	}
	if ev.Reason != "" {
		attrs = append(attrs, slog.String("reason", ev.Reason))
	}
	if ev.Delay > 0 {
		attrs = append(attrs, slog.Duration("delay", ev.Delay))
	}
	// The correlation id rides in the context, where the daemon's handler
	// (logging.Correlated) turns it into the request_id attribute.
	t.log.LogAttrs(correlation.With(context.Background(), ev.RequestID), level, "supervision", attrs...)
	t.publish(ev)
}

// Lookup resolves a path ("/icn/dag") or a unique name ("dag") to the PID to
// call now, or an *UnavailableError when its breaker is open or it is
// between processes.
func (t *Tree) Lookup(name string) (*actor.PID, error) {
	if t.stopped.Load() {
		return nil, ErrStopped
	}
	e, err := t.reg.find(name)
	if err != nil {
		return nil, err
	}
	return e.admit(t.clock.Now())
}

// Request sends msg to the named actor and waits for its reply, up to ctx's
// deadline (or the tree's request timeout). The correlation id in ctx rides
// in the message header. A reply that is an error is returned as the error.
func (t *Tree) Request(ctx context.Context, name string, msg any) (any, error) {
	call, err := t.Begin(ctx, name, msg)
	if err != nil {
		return nil, err
	}
	return call.Wait(ctx)
}

// Call is a request that has been sent and not yet answered.
type Call struct {
	t       *Tree
	name    string
	pid     *actor.PID
	r       *reply
	timeout time.Duration
}

// Begin sends msg to the named actor now and returns the call to wait on.
// Requests begun one after the other from one goroutine reach the actor in
// that order, so an actor can pipeline dependent requests to another.
func (t *Tree) Begin(ctx context.Context, name string, msg any) (*Call, error) {
	pid, err := t.Lookup(name)
	if err != nil {
		return nil, err
	}
	return t.begin(ctx, pid, name, msg)
}

func (t *Tree) begin(ctx context.Context, pid *actor.PID, name string, msg any) (*Call, error) {
	timeout := t.timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = time.Until(dl)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if timeout <= 0 {
		return nil, context.DeadlineExceeded
	}
	r := t.newReply()
	env := &actor.MessageEnvelope{Message: msg, Sender: r.pid}
	if id := correlation.From(ctx); id != "" {
		env.SetHeader(correlation.Header, id)
	}
	t.system.Root.Send(pid, env)
	return &Call{t: t, name: name, pid: pid, r: r, timeout: timeout}, nil
}

// Wait returns the reply (an error reply as the error), or ctx's error if
// it ends first.
func (c *Call) Wait(ctx context.Context) (any, error) {
	res, err := c.wait(ctx)
	if errors.Is(err, actor.ErrDeadLetter) {
		// The process ended between lookup and delivery: it is being restarted.
		return nil, &UnavailableError{Path: c.name, State: Restarting.String(), RetryAfter: 100 * time.Millisecond}
	}
	return res, err
}

func (c *Call) wait(ctx context.Context) (any, error) {
	res, err := c.t.await(ctx, c.r, c.timeout)
	switch {
	case errors.Is(err, actor.ErrTimeout):
		return nil, fmt.Errorf("%w: %s after %s", ErrTimeout, c.pid.Id, c.timeout.Round(time.Millisecond))
	case err != nil:
		return nil, err
	}
	if rerr, ok := res.(error); ok {
		return nil, rerr
	}
	return res, nil
}

// Send delivers msg to the named actor without waiting.
func (t *Tree) Send(ctx context.Context, name string, msg any) error {
	pid, err := t.Lookup(name)
	if err != nil {
		return err
	}
	env := &actor.MessageEnvelope{Message: msg}
	if id := correlation.From(ctx); id != "" {
		env.SetHeader(correlation.Header, id)
	}
	t.system.Root.Send(pid, env)
	return nil
}

// Ask is Request with the reply's type checked.
func Ask[R any](ctx context.Context, t *Tree, name string, msg any) (R, error) {
	var zero R
	res, err := t.Request(ctx, name, msg)
	if err != nil {
		return zero, err
	}
	r, ok := res.(R)
	if !ok {
		return zero, fmt.Errorf("supervisors: %s answered %T, want %T", name, res, zero)
	}
	return r, nil
}

// ask is a request to a PID, for the tree's own messages.
func (t *Tree) ask(ctx context.Context, pid *actor.PID, msg any) (any, error) {
	c, err := t.begin(ctx, pid, pid.Id, msg)
	if err != nil {
		return nil, err
	}
	return c.wait(ctx)
}

// reply is where the answer to one request arrives: a process of the
// actor system (so an actor can Respond to it) that puts the answer into a
// channel. It replaces protoactor's future, whose waiter cannot be woken
// when the caller gives up: each abandoned request left a goroutine until
// the future's timeout.
//
// A reply that got its answer is reused by a later request (newReply):
// registering a fresh process per request cost about a third of a
// request's CPU (the registry is a locked map keyed by a formatted id),
// and a reused PID keeps protoactor's cached pointer to its process, so
// answering skips the registry too. A reply is reused only once its one
// answer has been taken, and it takes one answer per request (waiting), so
// an answer can reach the wrong request only if an actor answers one
// request twice, which is a bug in that actor. A reply whose caller gave
// up is never reused: its late answer is dropped.
type reply struct {
	system  *actor.ActorSystem
	pid     *actor.PID
	ch      chan any
	timer   *time.Timer
	waiting atomic.Bool // a request waits for its answer
}

// replyPool is how many answered replies a tree keeps for reuse: about the
// requests in flight at once on a busy node.
const replyPool = 1024

func (t *Tree) newReply() *reply {
	var r *reply
	select {
	case r = <-t.replies:
	default:
		r = &reply{system: t.system, ch: make(chan any, 1)}
		r.pid, _ = t.system.ProcessRegistry.Add(r, "future"+t.system.ProcessRegistry.NextId())
	}
	r.waiting.Store(true)
	return r
}

// SendUserMessage implements actor.Process: the first message for the
// request waiting is its answer; any other is dropped.
func (r *reply) SendUserMessage(_ *actor.PID, message any) {
	if !r.waiting.CompareAndSwap(true, false) {
		return
	}
	_, msg, _ := actor.UnwrapEnvelope(message)
	if _, ok := msg.(*actor.DeadLetterResponse); ok {
		msg = actor.ErrDeadLetter
	}
	r.ch <- msg // room for one, and only one message gets here per request
}

// SendSystemMessage implements actor.Process.
func (r *reply) SendSystemMessage(pid *actor.PID, message any) { r.SendUserMessage(pid, message) }

// Stop implements actor.Process.
func (r *reply) Stop(*actor.PID) {}

// await returns r's answer, ErrTimeout after timeout, or the context's
// error if it ends first (a client that went away must not hold its
// handler until the timeout). An answered reply goes back to the pool; one
// given up on leaves the registry, and its late answer is dropped.
func (t *Tree) await(ctx context.Context, r *reply, timeout time.Duration) (any, error) {
	if r.timer == nil {
		r.timer = time.NewTimer(timeout)
	} else {
		r.timer.Reset(timeout)
	}
	select {
	case msg := <-r.ch:
		r.timer.Stop()
		t.reuse(r)
		if err, ok := msg.(error); ok && errors.Is(err, actor.ErrDeadLetter) {
			return nil, actor.ErrDeadLetter
		}
		return msg, nil
	case <-r.timer.C:
		t.abandon(r)
		return nil, actor.ErrTimeout
	case <-ctx.Done():
		r.timer.Stop()
		t.abandon(r)
		return nil, ctx.Err()
	}
}

func (t *Tree) reuse(r *reply) {
	select {
	case t.replies <- r:
	default:
		t.system.ProcessRegistry.Remove(r.pid)
	}
}

func (t *Tree) abandon(r *reply) {
	r.waiting.Store(false)
	t.system.ProcessRegistry.Remove(r.pid)
}

// Ping checks that the named actor's mailbox is being processed. It does
// not use up a half-open actor's probes (those are for real calls).
func (t *Tree) Ping(ctx context.Context, name string) error {
	if t.stopped.Load() {
		return ErrStopped
	}
	e, err := t.reg.find(name)
	if err != nil {
		return err
	}
	pid, err := e.peek(t.clock.Now())
	if err != nil {
		return err
	}
	_, err = t.ask(ctx, pid, &Ping{})
	if errors.Is(err, actor.ErrDeadLetter) {
		return &UnavailableError{Path: e.path, State: Restarting.String(), RetryAfter: 100 * time.Millisecond}
	}
	return err
}

// Kill applies fault injection to the actor at path (or with that unique
// name) through its supervisor. The events it causes (killed, failed,
// restarted, breaker, escalated) carry ctx's correlation id.
func (t *Tree) Kill(ctx context.Context, path string, mode KillMode) error {
	if t.stopped.Load() {
		return ErrStopped
	}
	if mode < KillPanic || mode > KillPoison {
		return fmt.Errorf("%w: %d", ErrBadKillMode, int(mode))
	}
	e, err := t.reg.find(path)
	if err != nil {
		return err
	}
	if e.parent == nil {
		return ErrRootKill
	}
	// The parent must be able to act: not suspended or restarting itself.
	parent, err := e.parent.peek(t.clock.Now())
	if err != nil {
		return err
	}
	_, err = t.ask(ctx, parent, &killRequest{child: e.name, mode: mode, cause: correlation.From(ctx)})
	return err
}

// Snapshot returns the whole tree as it is now.
func (t *Tree) Snapshot() Node {
	t.reg.mu.RLock()
	root := t.reg.root
	t.reg.mu.RUnlock()
	if root == nil {
		return Node{}
	}
	return root.snapshot()
}

// Actor returns the snapshot of one actor (and its subtree).
func (t *Tree) Actor(nameOrPath string) (Node, error) {
	e, err := t.reg.find(nameOrPath)
	if err != nil {
		return Node{}, err
	}
	return e.snapshot(), nil
}

// Path returns the full path of a name or path, or ErrNotFound.
func (t *Tree) Path(nameOrPath string) (string, error) {
	e, err := t.reg.find(nameOrPath)
	if err != nil {
		return "", err
	}
	return e.path, nil
}

// minLevel drops records below a level; it quiets protoactor's own logging.
type minLevel struct {
	slog.Handler
	min slog.Level
}

func (h minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}
func (h minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{h.Handler.WithAttrs(as), h.min}
}
func (h minLevel) WithGroup(n string) slog.Handler { return minLevel{h.Handler.WithGroup(n), h.min} }
