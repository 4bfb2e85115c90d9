package executors

import (
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/correlation"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/wasm"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// Name is the subsystem's name in the supervision tree.
const Name = "executors"

// WorkerClass groups the workers in metric labels (/icn/executors/worker).
const WorkerClass = "worker"

// dagName is the dag actor, where workers read modules and inputs and
// store outputs and receipts.
const dagName = "dag"

// Bounds of a job's work besides the run itself.
const (
	// callTimeout bounds one dag request (a module fetched from another
	// node included).
	callTimeout = 30 * time.Second
	// lostGrace is added to a job's own bound (four dag calls before the
	// run, one after, and the run's timeout) before the pool gives up on a
	// worker that never reported and answers executor_lost: a backstop,
	// since a worker's goroutine always reports unless a message is lost.
	lostGrace = 5 * time.Second
)

// Deps are what the pool and its workers need; Metrics are shared by every
// incarnation.
type Deps struct {
	Engine   *wasm.Engine
	Identity *identity.Identity // signs receipts
	Clock    clock.Clock
	Metrics  *Metrics
	Logger   *slog.Logger
}

// Spec is the executor pool: one_for_one over workers named worker-0 ...
// worker-(n-1); a worker that fails is restarted alone.
func Spec(workers int, d Deps) *supervisors.Spec {
	s := &supervisors.Spec{
		Strategy: supervisors.OneForOne,
	}
	names := make([]string, 0, workers)
	for i := range workers {
		name := fmt.Sprintf("worker-%d", i)
		names = append(names, name)
		s.Children = append(s.Children, supervisors.ChildSpec{
			Name: name, Class: WorkerClass, Restart: supervisors.Permanent,
			New: func() actor.Actor { return &worker{name: name, deps: d} },
		})
	}
	s.Behavior = func(ch supervisors.Children) actor.Actor {
		p := &pool{deps: d, children: ch}
		for _, n := range names {
			p.slots = append(p.slots, &slot{name: n})
		}
		return p
	}
	return s
}

// ticket is one job handed to a worker. The pool and the worker's report
// compare tickets by pointer, so a late report from a worker of an earlier
// pool incarnation, or of a job already answered, can never answer
// another job.
type ticket struct {
	job    *messages.RunJob
	sender *actor.PID // nil: nobody waits (a Send, not a Request)
	slot   int
	corr   string
	timer  clock.Timer
}

// slot is one worker as the pool sees it.
type slot struct {
	name string
	job  *ticket // nil when free
}

// Messages between the pool and its workers.
type (
	// assign gives a worker a job.
	assign struct {
		t    *ticket
		pool *actor.PID
	}
	// finished is a worker's report: the reply for the job's sender.
	finished struct {
		t     *ticket
		reply any // *messages.JobReceipt or an error
	}
	// overdue fires when a job outlived its bound without a report.
	overdue struct{ t *ticket }
	// stopRun tells a worker to abandon t's run (the job was cancelled).
	stopRun struct{ t *ticket }
)

// pool is the behaviour of the executors supervisor: it hands each RunJob
// to a free worker, at most one job per worker, and answers the job's
// sender once with what the worker reports, or executor_lost.
type pool struct {
	deps     Deps
	children supervisors.Children
	slots    []*slot
	since    time.Time
	self     *actor.PID
	sys      *actor.ActorSystem
}

// Receive implements actor.Actor.
func (p *pool) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		p.since, p.self, p.sys = p.deps.Clock.Now(), c.Self(), c.ActorSystem()
	case *actor.Restarting, *actor.Stopping:
		// This incarnation's bookkeeping dies with it (and protoactor stops
		// the workers): answer every job in flight now rather than leave
		// its sender waiting for a reply that can no longer come.
		for _, s := range p.slots {
			if s.job != nil {
				p.answer(c, s.job, lost(s.job.job.JobID, "the executor pool stopped"))
			}
		}
	case *messages.RunJob:
		p.run(c, m)
	case *messages.CancelRun:
		p.cancel(c, m)
	case *finished:
		if p.current(m.t) {
			p.answer(c, m.t, m.reply)
		}
	case *overdue:
		if p.current(m.t) {
			p.deps.Logger.Warn("worker never reported; answering executor_lost", "worker", p.slots[m.t.slot].name, "job", m.t.job.JobID)
			p.answer(c, m.t, lost(m.t.job.JobID, "the worker did not report in time"))
		}
	case *messages.StatusRequest:
		busy := 0
		for _, s := range p.slots {
			if s.job != nil {
				busy++
			}
		}
		// Ready even with no workers: a node that executes nothing is a
		// valid node, and its readiness must not depend on it.
		c.Respond(&messages.SubsystemStatus{Name: Name, Ready: true, Since: p.since,
			Details: map[string]string{"workers": strconv.Itoa(len(p.slots)), "busy": strconv.Itoa(busy),
				"free": strconv.Itoa(len(p.slots) - busy)}})
	}
}

// run validates a job and hands it to a free worker.
func (p *pool) run(c actor.Context, m *messages.RunJob) {
	if err := validate(m); err != nil {
		c.Respond(err)
		return
	}
	for i, s := range p.slots {
		if s.job != nil {
			continue
		}
		pid := p.children.PID(s.name)
		if pid == nil {
			continue // between processes, or its breaker is open
		}
		t := &ticket{job: m, sender: c.Sender(), slot: i, corr: c.MessageHeader().Get(correlation.Header)}
		self, sys := p.self, p.sys
		t.timer = p.deps.Clock.AfterFunc(bound(m), func() { sys.Root.Send(self, &overdue{t: t}) })
		s.job = t
		p.deps.Metrics.busy.Inc()
		c.Send(pid, &assign{t: t, pool: p.self})
		return
	}
	c.Respond(fmt.Errorf("%w: %d workers", messages.ErrNoCapacity, len(p.slots)))
}

// cancel stops the runs of a job: each worker running it abandons the
// run, and the job's sender is answered cancelled when the worker reports.
func (p *pool) cancel(c actor.Context, m *messages.CancelRun) {
	n := 0
	for _, s := range p.slots {
		if s.job == nil || s.job.job.JobID != m.JobID {
			continue
		}
		if pid := p.children.PID(s.name); pid != nil {
			c.Send(pid, &stopRun{t: s.job})
			n++
		}
	}
	c.Respond(&messages.CancelRunReply{Cancelled: n > 0})
}

// current reports whether t is the job its slot runs now.
func (p *pool) current(t *ticket) bool {
	return t.slot < len(p.slots) && p.slots[t.slot].job == t
}

// answer frees t's worker and sends its reply, once.
func (p *pool) answer(c actor.Context, t *ticket, reply any) {
	p.slots[t.slot].job = nil
	t.timer.Stop()
	p.deps.Metrics.busy.Dec()
	if f, ok := reply.(*messages.JobFailure); ok && f.Reason == messages.ReasonExecutorLost {
		p.deps.Metrics.jobs.WithLabelValues(messages.ReasonExecutorLost).Inc()
	}
	if t.sender != nil {
		c.Send(t.sender, reply)
	}
}

// validate checks what can be checked without the dag.
func validate(m *messages.RunJob) error {
	switch {
	case m.JobID == "":
		return fmt.Errorf("%w: no job id", messages.ErrInvalidJob)
	case !m.Module.Defined():
		return fmt.Errorf("%w: no module", messages.ErrInvalidJob)
	case len(m.Input) > messages.MaxJobInput:
		return fmt.Errorf("%w: input of %d bytes (max %d)", messages.ErrInvalidJob, len(m.Input), messages.MaxJobInput)
	case len(m.Input) > 0 && m.InputCID.Defined():
		return fmt.Errorf("%w: both an inline input and an input CID", messages.ErrInvalidJob)
	}
	return nil
}

// bound is how long the pool waits for a worker's report on m.
func bound(m *messages.RunJob) time.Duration {
	run := limits(m.Limits).Timeout
	if run <= 0 {
		run = wasm.DefaultLimits().Timeout
	}
	// Before the run: the module's block, a chunked module's fetch and
	// its reading, and the input; after it: the put.
	return 5*callTimeout + run + lostGrace
}

// maxTimeout caps JobLimits.TimeoutMS so that it converts without
// overflow; a job manager never asks for anything near it.
const maxTimeout = 24 * time.Hour

// limits converts a job's limits to the engine's; zero stays zero (the
// engine's default).
func limits(l messages.JobLimits) wasm.Limits {
	pages := uint64(l.MemoryMB) * 16 // 64 KiB pages per MiB
	if pages > 65536 {
		pages = 65536 // all of a 32-bit memory
	}
	timeout := maxTimeout
	if l.TimeoutMS < uint64(maxTimeout/time.Millisecond) {
		timeout = time.Duration(l.TimeoutMS) * time.Millisecond
	}
	return wasm.Limits{Fuel: l.Fuel, MemoryPages: uint32(pages), Timeout: timeout, MaxOutputBytes: l.MaxOutputBytes}
}

// lost is the failure of a job whose executor went away.
func lost(jobID, detail string) *messages.JobFailure {
	return &messages.JobFailure{JobID: jobID, Reason: messages.ReasonExecutorLost, Detail: detail}
}
