package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/wasm"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// Name is the subsystem's name in the supervision tree.
const Name = "jobs"

// Names of the subsystems the manager calls.
const (
	dagName       = "dag"
	ledgerName    = "ledger"
	executorsName = "executors"
)

// Config tunes the manager.
type Config struct {
	// Price is what this node bids to run a job, and FuelPrice what it
	// asks per messages.FuelUnit of fuel the run uses on top (the job's
	// fuel limit bounds it); together at most what the job allows.
	Price     uint64
	FuelPrice uint64
	// AssignTimeout bounds how long a job waits for an executor with a
	// free worker before it fails no_bids.
	AssignTimeout time.Duration
	// MaxMemoryMB and MaxTimeout are the largest job this node bids on
	// (its own jobs included): a job asking for more memory or a longer
	// run is left to other nodes. A job that does not say asks for the
	// engine's defaults (256 MiB, 60 s).
	MaxMemoryMB uint32
	MaxTimeout  time.Duration
}

// DefaultConfig is the configuration of a node that does not say.
func DefaultConfig() Config {
	return Config{Price: 10, FuelPrice: 1, AssignTimeout: 30 * time.Second, MaxMemoryMB: 1024, MaxTimeout: 10 * time.Minute}
}

// Engine defaults a job without limits asks for.
const (
	defaultMemoryMB = 256
	defaultRunMS    = 60_000
)

// offer is what this node bids on a job whose bids may cost at most
// bidCap and whose fuel limit is fuel (0: the engine's default): its fuel
// price, and its price lowered so that the run's worst case (all the fuel
// used) fits. ok is false when even the fuel alone does not fit.
func (c Config) offer(bidCap, fuel uint64) (price, fuelPrice uint64, ok bool) {
	worst := messages.JobCost(0, c.FuelPrice, fuelLimit(fuel))
	if worst > bidCap {
		return 0, 0, false
	}
	return min(c.Price, bidCap-worst), c.FuelPrice, true
}

// fuelLimit is a job's fuel limit, the engine's default when it sets none.
func fuelLimit(fuel uint64) uint64 {
	if fuel == 0 {
		return wasm.DefaultLimits().Fuel
	}
	return fuel
}

// refuses says why this node does not bid on a job asking for memoryMB
// and timeoutMS (0: the defaults), or "" when it fits.
func (c Config) refuses(memoryMB uint32, timeoutMS uint64) string {
	if memoryMB == 0 {
		memoryMB = defaultMemoryMB
	}
	if timeoutMS == 0 {
		timeoutMS = defaultRunMS
	}
	switch {
	case c.MaxMemoryMB > 0 && memoryMB > c.MaxMemoryMB:
		return fmt.Sprintf("memory %d MiB over this node's %d MiB", memoryMB, c.MaxMemoryMB)
	case c.MaxTimeout > 0 && timeoutMS > uint64(c.MaxTimeout/time.Millisecond):
		return fmt.Sprintf("timeout %d ms over this node's %s", timeoutMS, c.MaxTimeout)
	}
	return ""
}

// Deps are the manager's collaborators.
type Deps struct {
	// Identity is the node's: its account escrows the jobs' mana, and it is
	// the executor a lone node assigns its jobs to.
	Identity *identity.Identity
	Clock    clock.Clock
	Config   Config
	Logger   *slog.Logger
	Metrics  *Metrics // nil: counted on a registry of its own (tests)

	// testPanic, when set (tests only), is called as a driver takes a step
	// of a job in state (where is the state) and as an assigned run starts
	// (where is "run"), so that a test can make either panic.
	testPanic func(where, job string)
}

// Bounds of the manager's work.
const (
	callTimeout = 30 * time.Second // one dag or ledger request
	runMargin   = 30 * time.Second // over a job's own timeout, for fetching and queueing
	maxBackoff  = time.Second
	maxLost     = 2 // runs again after an executor lost the job: 3 attempts in all
)

// Spec is the jobs supervisor: one_for_one over dynamic children (none
// yet: see the manager), with the manager behaviour answering the
// subsystem's messages.
func Spec(d Deps) *supervisors.Spec {
	if d.Config == (Config{}) {
		d.Config = DefaultConfig()
	}
	if d.Config.AssignTimeout <= 0 {
		d.Config.AssignTimeout = DefaultConfig().AssignTimeout
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	if d.Metrics == nil {
		m, err := NewMetrics(prometheus.NewRegistry())
		if err != nil {
			panic(err) // a fresh registry holds no names to clash with
		}
		d.Metrics = m
	}
	return &supervisors.Spec{
		Strategy: supervisors.OneForOne,
		Behavior: func(children supervisors.Children) actor.Actor {
			return &manager{Deps: d, children: children, jobs: map[string]*job{}, boxes: newBidBoxes(), runs: newAssignedRuns(),
				freed: newFreedSignal(), log: d.Logger.With("actor", Name)}
		},
	}
}

// manager holds every job this node has submitted.
//
// One actor holds them all rather than one child actor per job: a job's
// state is its record in the dag, and its progress is one goroutine (a
// driver) that waits on the ledger and the executors. A per-job actor would
// add a mailbox and a restart policy per job but no isolation the dag's
// compare-and-swap does not already give: a restarted manager reloads every
// record and resumes every unfinished job from its last persisted state.
// The manager's own goroutine only keeps the map that reads are answered
// from; every dag, ledger and executor call is made by a driver.
type manager struct {
	Deps
	children supervisors.Children
	log      *slog.Logger
	self     *actor.PID
	sys      *actor.ActorSystem
	tree     *supervisors.Tree
	since    time.Time
	ready    bool
	jobs     map[string]*job
	boxes    *bidBoxes     // the open bidding windows of this incarnation's drivers
	runs     *assignedRuns // the jobs other nodes assigned to this one
	freed    *freedSignal  // wakes the jobs waiting for a free worker

	life    context.Context // cancelled when this incarnation stops
	stopAll context.CancelFunc
	drivers sync.WaitGroup
}

// job is the manager's view of one job.
type job struct {
	status  messages.JobStatus
	cancel  context.CancelCauseFunc // nil once the driver is done
	cancels []*actor.PID            // callers waiting for a cancel to land
}

// Messages from the manager's goroutines to the manager. owner drops those
// of an earlier incarnation.
type (
	loaded struct {
		owner *manager
		jobs  []*driver
	}
	updated struct {
		owner  *manager
		status messages.JobStatus
		done   bool // the driver has stopped
		drop   bool // the job was refused at submit: forget it
	}
)

// errCancelRequested is the cause a driver's run context ends with when a
// member cancels the job (as opposed to the node stopping).
var errCancelRequested = errors.New("jobs: cancel requested")

// Receive implements actor.Actor.
func (m *manager) Receive(c actor.Context) {
	switch msg := c.Message().(type) {
	case *actor.Started:
		m.Metrics.resetActive() // this incarnation counts its jobs as it loads them
		m.start(c)
	case *actor.Stopping, *actor.Restarting:
		m.stop()
	case *loaded:
		if msg.owner == m {
			m.onLoaded(msg)
		}
	case *updated:
		if msg.owner == m {
			m.onUpdated(msg)
		}
	case *messages.GossipIn:
		m.onAnnounce(msg)
	case *messages.PeerRequestIn:
		// Served whether or not this node's own jobs are loaded: the
		// requests touch none of them.
		m.onPeerRequest(c, msg)
	case *messages.StatusRequest:
		c.Respond(&messages.SubsystemStatus{Name: Name, Ready: m.ready, Since: m.since,
			Details: map[string]string{"active_jobs": strconv.Itoa(m.active()), "jobs": strconv.Itoa(len(m.jobs))}})
	case *messages.SubmitJob, *messages.GetJob, *messages.ListJobs, *messages.CancelJob:
		if !m.ready {
			c.Respond(&supervisors.UnavailableError{Path: Name, State: "loading", RetryAfter: time.Second})
			return
		}
		m.handle(c)
	}
}

func (m *manager) active() int {
	n := 0
	for _, j := range m.jobs {
		if !messages.JobFinal(j.status.State) {
			n++
		}
	}
	return n
}

// start loads the job records off the actor's goroutine; until they are
// loaded, job requests answer 503 (loading).
func (m *manager) start(c actor.Context) {
	m.self, m.sys, m.tree = c.Self(), c.ActorSystem(), supervisors.TreeOf(c)
	m.since = m.Clock.Now()
	m.life, m.stopAll = context.WithCancel(context.Background())
	ctx := m.life
	m.goSafe("", "loading the jobs", func() {
		backoff := 50 * time.Millisecond
		for {
			ds, err := m.loadAll(ctx)
			if err == nil {
				m.sys.Root.Send(m.self, &loaded{owner: m, jobs: ds})
				return
			}
			m.log.Warn("jobs: cannot load the jobs yet; retrying", "err", err, "in", backoff)
			if !sleep(ctx, backoff) {
				return
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	}, nil)
}

// stop ends every driver and waits for them, so that the next incarnation
// never races one of this one's on a job's ref. A driver waiting on a call
// returns as soon as its context ends.
func (m *manager) stop() {
	for _, j := range m.jobs {
		// The next incarnation resumes the job; the cancel may be asked again.
		for _, p := range j.cancels {
			m.sys.Root.Send(p, &supervisors.UnavailableError{Path: Name, State: "restarting", RetryAfter: time.Second})
		}
		j.cancels = nil
	}
	if m.stopAll != nil {
		m.stopAll()
		m.drivers.Wait()
	}
}

func (m *manager) onLoaded(l *loaded) {
	m.ready = true
	for _, d := range l.jobs {
		j := &job{status: d.status()}
		m.jobs[d.id] = j
		m.Metrics.moved("", j.status.State)
		if !messages.JobFinal(d.rec.State) || !d.rec.Settled {
			m.launch(j, d)
		}
	}
	m.log.Debug("jobs loaded", "jobs", len(m.jobs), "resumed", m.active())
}

// launch starts a job's driver.
func (m *manager) launch(j *job, d *driver) {
	run, cancel := context.WithCancelCause(m.life)
	j.cancel = cancel
	d.m, d.life, d.run = m, m.life, run
	// drive recovers its steps' panics and restarts the job itself (see
	// driver.drive); this is for a panic outside a step, which leaves the
	// job to the next incarnation.
	m.goSafe(d.id, "driver", d.drive, func(error) { d.stopped() })
}

// goSafe runs f on one of this incarnation's goroutines. A panic in f is
// recovered, logged and counted rather than ending the process (a
// supervisor would have restarted an actor), then handed to onPanic when it
// is set, to answer whoever waits on f.
func (m *manager) goSafe(job, what string, f func(), onPanic func(error)) {
	m.drivers.Go(func() {
		defer func() {
			if v := recover(); v != nil {
				err := m.panicked(job, what, v, debug.Stack())
				if onPanic != nil {
					onPanic(err)
				}
			}
		}()
		f()
	})
}

// panicked logs and counts a recovered panic, and returns it as an error.
func (m *manager) panicked(job, what string, v any, stack []byte) error {
	m.Metrics.panics.Inc()
	m.log.Error("jobs: panic recovered", "job", job, "in", what, "panic", v, "stack", string(stack))
	return fmt.Errorf("jobs: %s of job %s panicked: %v", what, job, v)
}

func (m *manager) onUpdated(u *updated) {
	j := m.jobs[u.status.ID]
	if j == nil {
		return
	}
	if u.drop {
		m.Metrics.moved(j.status.State, "")
		delete(m.jobs, u.status.ID)
	} else {
		m.Metrics.moved(j.status.State, u.status.State)
		j.status = u.status
	}
	if u.done && j.cancel != nil {
		j.cancel(nil)
		j.cancel = nil
	}
	if messages.JobFinal(u.status.State) || u.drop {
		for _, p := range j.cancels {
			switch {
			case u.drop:
				m.sys.Root.Send(p, fmt.Errorf("%w: %s was refused at submit", messages.ErrUnknownJob, u.status.ID))
			case u.status.State == messages.JobCancelled:
				m.sys.Root.Send(p, &u.status)
			default:
				m.sys.Root.Send(p, fmt.Errorf("%w: %s is %s", messages.ErrJobFinished, u.status.ID, u.status.State))
			}
		}
		j.cancels = nil
	}
}

func (m *manager) handle(c actor.Context) {
	switch msg := c.Message().(type) {
	case *messages.SubmitJob:
		m.submit(c, msg)
	case *messages.GetJob:
		j := m.jobs[msg.ID]
		if j == nil || j.status.State == "" { // "": being recorded, its id not given out yet
			c.Respond(fmt.Errorf("%w: %s", messages.ErrUnknownJob, msg.ID))
			return
		}
		s := j.status
		c.Respond(&s)
	case *messages.ListJobs:
		c.Respond(m.list(msg))
	case *messages.CancelJob:
		j := m.jobs[msg.ID]
		switch {
		case j == nil || j.status.State == "":
			c.Respond(fmt.Errorf("%w: %s", messages.ErrUnknownJob, msg.ID))
		case messages.JobFinal(j.status.State):
			c.Respond(fmt.Errorf("%w: %s is %s", messages.ErrJobFinished, msg.ID, j.status.State))
		default:
			// The driver records the cancel (it alone writes the job's
			// ref) and the reply comes when it has.
			if c.Sender() != nil {
				j.cancels = append(j.cancels, c.Sender())
			}
			j.cancel(errCancelRequested)
		}
	}
}

func (m *manager) submit(c actor.Context, msg *messages.SubmitJob) {
	spec, err := normalize(msg.Spec)
	if err != nil {
		c.Respond(err)
		return
	}
	b, err := encodeSpec(spec)
	if err != nil {
		c.Respond(fmt.Errorf("%w: %w", messages.ErrInvalidSpec, err))
		return
	}
	id := b.CID().String()
	if j := m.jobs[id]; j != nil {
		// The same spec is the same job: a resubmission answers it.
		s := j.status
		c.Respond(&s)
		return
	}
	j := &job{status: messages.JobStatus{ID: id, Spec: spec}}
	m.jobs[id] = j
	m.launch(j, &driver{id: id, spec: spec, specBlock: b, submitter: c.Sender()})
}

func (m *manager) list(msg *messages.ListJobs) *messages.JobList {
	limit := msg.Limit
	if limit <= 0 || limit > messages.MaxListedJobs {
		limit = messages.MaxListedJobs
	}
	ids := make([]string, 0, len(m.jobs))
	for id, j := range m.jobs {
		if id > msg.After && (msg.State == "" || j.status.State == msg.State) && j.status.State != "" {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := &messages.JobList{Jobs: []messages.JobStatus{}}
	if len(ids) > limit {
		ids, out.More = ids[:limit], true
	}
	for _, id := range ids {
		out.Jobs = append(out.Jobs, m.jobs[id].status)
	}
	return out
}

// sleep waits d (real time: it paces calls to other actors) or until ctx
// ends, reporting whether it slept.
// freedSignal tells the jobs waiting for a free worker that one may have
// freed: each run that ends on this node fires it. Without it, waiting
// jobs slept through a doubling backoff while workers stood idle (100 jobs
// in flight on 2 workers ran at about 100 jobs/s).
type freedSignal struct {
	mu sync.Mutex
	ch chan struct{}
}

func newFreedSignal() *freedSignal { return &freedSignal{ch: make(chan struct{})} }

// wait is the channel the next fire closes; take it before asking for a
// worker, so a run that ends in between is not missed.
func (f *freedSignal) wait() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ch
}

func (f *freedSignal) fire() {
	f.mu.Lock()
	defer f.mu.Unlock()
	close(f.ch)
	f.ch = make(chan struct{})
}

// sleepOrFreed waits d, or until a worker frees, or ctx ends (false).
func sleepOrFreed(ctx context.Context, d time.Duration, freed <-chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-freed:
		return true
	case <-t.C:
		return true
	}
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
