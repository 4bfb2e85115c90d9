package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/sys"

	"github.com/intercooperative-network/icn-go/services/wasm/fuel"
)

// Job is one run of a WASI preview 1 command.
type Job struct {
	// Key identifies the module's bytes (e.g. their CID) and keys the
	// cache of instrumented, compiled modules: two different modules must
	// never share a key. Empty means the engine hashes Module.
	Key string
	// Module is the WebAssembly binary.
	Module []byte
	// Stdin is the whole standard input.
	Stdin []byte
	// Args are the program's arguments; argv[0] is "job".
	Args []string
	// Env is the environment (passed sorted by name).
	Env map[string]string
	// Limits bound the run; zero fields take the engine's defaults.
	Limits Limits
}

// Result is what a run produced. Runs that fail return the Result so far
// along with the error.
type Result struct {
	// Stdout and Stderr are the output, cut at Limits.MaxOutputBytes.
	Stdout, Stderr []byte
	// ExitCode is the code given to proc_exit (0 when _start returned).
	ExitCode uint32
	// FuelUsed is the fuel the run used: the same for the same module,
	// input and limits on any machine. When the run ran out, it exceeds
	// Limits.Fuel by at most one metered block (or one bulk memory
	// operation, which costs by size). It is not reproducible after
	// ErrTimeout, a cancelled context or ErrClosed.
	FuelUsed uint64
	// CostTableVersion is the fuel.CostTableVersion FuelUsed is measured
	// in: fuel is comparable only between runs of the same version.
	CostTableVersion int
	// Wall is the time spent instantiating and running (not compiling).
	Wall time.Duration
	// PeakMemoryBytes is the largest the linear memory grew.
	PeakMemoryBytes uint64
	// Compile is the time this run spent instrumenting and compiling the
	// module (a miss of the engine's memory cache, cold or served by the
	// WithCacheDir disk cache); zero when the module was in memory, or
	// another run compiled it. It is positive after a compilation that
	// failed too (ErrInvalidModule).
	Compile time.Duration
}

// The clock a module sees: virtual and deterministic. It starts at
// virtualEpoch, advances by clockTick on every read and by the requested
// duration on every sleep (which also waits that long for real, so that a
// sleeping job occupies its worker and meets the Timeout).
const (
	virtualEpoch = 1735689600 * int64(time.Second) // 2025-01-01T00:00:00Z
	clockTick    = int64(time.Microsecond)
)

// Run runs the module's _start with the job's input and limits. A non-zero
// exit is not an error. The errors callers branch on are the package's
// sentinels (see errors.go); ctx's cancellation stops the run too and is
// returned wrapped. The module may import WASI preview 1 only.
func (e *Engine) Run(ctx context.Context, j Job) (Result, error) {
	return e.run(ctx, j, bytes.NewReader(j.Stdin))
}

func (e *Engine) run(ctx context.Context, j Job, stdin io.Reader) (Result, error) {
	x := execution{
		key: j.Key, module: j.Module, limits: j.Limits, fn: "_start",
		stdin: stdin, args: append([]string{"job"}, j.Args...), env: j.Env,
	}
	o, err := e.execute(ctx, &x)
	return Result{
		Stdout: o.stdout, Stderr: o.stderr, ExitCode: o.exitCode, FuelUsed: o.fuelUsed,
		CostTableVersion: o.costTable, Wall: o.wall, PeakMemoryBytes: o.peakMemory, Compile: o.compile,
	}, err
}

// Call invokes one exported function of a module that is not a WASI
// command: the CCL policy runtime evaluates a policy this way. The module
// may import WASI preview 1 (with empty stdin, no arguments, output kept
// in CallResult) and the host modules given to New with WithHostModule,
// whose functions get a context derived from ctx that is cancelled when
// the run stops. Limits, fuel and errors are those of Run. A proc_exit is
// an ErrTrap when its code is not zero, when it comes from the module's
// start function (the function was never called), or when the function
// has results (it returned none); only a function without results may
// end with proc_exit(0).
func (e *Engine) Call(ctx context.Context, c Call) (CallResult, error) {
	x := execution{
		key: c.Key, module: c.Module, limits: c.Limits, fn: c.Function, params: c.Params,
		hosts: true, stdin: bytes.NewReader(nil), args: []string{"call"},
	}
	o, err := e.execute(ctx, &x)
	switch {
	case err != nil || !o.exited:
	case o.exitCode != 0:
		err = fmt.Errorf("%w: exited with code %d", ErrTrap, o.exitCode)
	case !o.called:
		err = fmt.Errorf("%w: the start function exited (code 0) before %q was called", ErrTrap, c.Function)
	case o.hasResults:
		err = fmt.Errorf("%w: %q exited (code 0) without returning its results", ErrTrap, c.Function)
	}
	if err != nil {
		o.results = nil
	}
	return CallResult{
		Results: o.results, Stdout: o.stdout, Stderr: o.stderr, FuelUsed: o.fuelUsed,
		CostTableVersion: o.costTable, Wall: o.wall, PeakMemoryBytes: o.peakMemory, Compile: o.compile,
	}, err
}

// Call is one invocation of an exported function.
type Call struct {
	// Key and Module are as in Job.
	Key    string
	Module []byte
	// Function is the exported function to call with Params (encoded as
	// wazero's api.Encode* do).
	Function string
	Params   []uint64
	// Limits bound the call; zero fields take the engine's defaults.
	Limits Limits
}

// CallResult is what a Call produced.
type CallResult struct {
	// Results are the function's results (decode with api.Decode*).
	Results []uint64
	// Stdout and Stderr hold what the module wrote through WASI, if any.
	Stdout, Stderr []byte
	// FuelUsed, CostTableVersion, Wall, PeakMemoryBytes and Compile are
	// as in Result.
	FuelUsed         uint64
	CostTableVersion int
	Wall             time.Duration
	PeakMemoryBytes  uint64
	Compile          time.Duration
}

// execution is one instantiation and invocation, Run's or Call's.
type execution struct {
	key    string
	module []byte
	limits Limits
	fn     string
	params []uint64
	hosts  bool // host modules may be imported
	stdin  io.Reader
	args   []string
	env    map[string]string
}

type outcome struct {
	stdout, stderr []byte
	exited         bool // the module called proc_exit
	called         bool // the function was called (the start function did not exit)
	hasResults     bool // the function has results
	exitCode       uint32
	results        []uint64
	fuelUsed       uint64
	costTable      int // the version fuelUsed is measured in
	wall           time.Duration
	peakMemory     uint64
	compile        time.Duration // this run compiled the module (see Result.Compile)
}

func (e *Engine) execute(ctx context.Context, x *execution) (outcome, error) {
	var o outcome
	lim := x.limits.withDefaults(e.defaults)
	// Host functions run with runCtx: stopping the run cancels it, so that
	// one blocked on its context returns.
	runCtx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)
	st := newStopper()
	st.cancel = cancelRun
	if err := e.begin(st); err != nil {
		return o, err
	}
	defer e.end(st)

	en, took, err := e.lookup(ctx, x.key, x.module)
	o.compile = took
	if err != nil {
		return o, err
	}
	defer e.release(en)
	o.costTable = en.key.version
	if err := e.checkImports(en.mod.Imports, x.hosts); err != nil {
		return o, err
	}
	if !hasFunc(en.mod.Exports, x.fn) {
		return o, fmt.Errorf("%w: no exported function %q", ErrInvalidModule, x.fn)
	}
	if m := en.mod.Memory; m != nil && m.Min > lim.MemoryPages {
		return o, fmt.Errorf("%w: the module needs %d pages at start, the limit is %d", ErrMemory, m.Min, lim.MemoryPages)
	}

	start := time.Now()
	timer := time.AfterFunc(lim.Timeout, func() { st.stop(reasonTimeout) })
	defer timer.Stop()
	stopOnCancel := context.AfterFunc(ctx, func() { st.stop(reasonCanceled) })
	defer stopOnCancel()

	mem := &linearMemory{limit: uint64(lim.MemoryPages) << 16, onLimit: func() { st.stop(reasonMemory) }}
	stdout := &cappedWriter{max: lim.MaxOutputBytes, onOverflow: func() { st.stop(reasonOutput) }}
	stderr := &cappedWriter{max: lim.MaxOutputBytes, onOverflow: func() { st.stop(reasonOutput) }}
	stdin := x.stdin
	if _, ok := stdin.(*bytes.Reader); !ok {
		stdin = &interruptibleReader{r: stdin, done: st.done}
	}
	clk := &virtualClock{done: st.done}
	cfg := wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions().
		WithStdin(stdin).
		WithStdout(stdout).
		WithStderr(stderr).
		WithArgs(x.args...).
		WithWalltime(clk.walltime, 1).
		WithNanotime(clk.nanotime, 1).
		WithNanosleep(clk.sleep)
	keys := make([]string, 0, len(x.env))
	for k := range x.env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		cfg = cfg.WithEnv(k, x.env[k])
	}

	finish := func(err error) (outcome, error) {
		o.stdout, o.stderr = stdout.buf.Bytes(), stderr.buf.Bytes()
		o.wall = time.Since(start)
		o.peakMemory = mem.peak
		return o, err
	}

	ictx := experimental.WithMemoryAllocator(runCtx, experimental.MemoryAllocatorFunc(mem.allocate))
	mod, err := e.rt.InstantiateModule(ictx, en.compiled, cfg)
	if err != nil {
		if r := st.disarm(); r != reasonNone {
			return finish(r.err(ctx, lim))
		}
		return finish(fmt.Errorf("wasm: instantiate: %w", err))
	}
	defer func() { _ = mod.Close(context.Background()) }()
	meter, err := fuel.NewMeter(mod)
	if err != nil {
		return finish(err)
	}
	meter.Reset(lim.Fuel)
	st.arm(meter)

	fn := mod.ExportedFunction(x.fn)
	o.hasResults = len(fn.Definition().ResultTypes()) > 0
	err = meter.Start(runCtx)
	if err == nil {
		o.called = true
		o.results, err = fn.Call(runCtx, x.params...)
	}

	if ctx.Err() != nil {
		// Cancelled while the call ended (a host function may have returned
		// because its context ended): the AfterFunc may not have run yet.
		st.stop(reasonCanceled)
	}
	reason := st.disarm()
	o.fuelUsed = meter.Used()
	if reason != reasonNone {
		o.results = nil
		if st.remainingKnown {
			o.fuelUsed = uint64(int64(lim.Fuel) - st.remaining)
		}
		return finish(reason.err(ctx, lim))
	}
	switch {
	case meter.OutOfFuel():
		o.results = nil
		return finish(fmt.Errorf("%w: limit %d", ErrOutOfFuel, lim.Fuel))
	case meter.StackExhausted():
		return finish(ErrStackOverflow)
	case err == nil:
		return finish(nil)
	}
	if exit, ok := errors.AsType[*sys.ExitError](err); ok {
		o.exited, o.exitCode = true, exit.ExitCode()
		return finish(nil)
	}
	return finish(fmt.Errorf("%w: %w", ErrTrap, err))
}

func hasFunc(exports []fuel.Export, name string) bool {
	for _, ex := range exports {
		if ex.Name == name && ex.Kind == fuel.KindFunc {
			return true
		}
	}
	return false
}

type stopReason int

const (
	reasonNone stopReason = iota
	reasonTimeout
	reasonCanceled
	reasonClosed
	reasonOutput
	reasonMemory
)

// cause is what a stopped run's context reports as its cause.
func (r stopReason) cause() error {
	switch r {
	case reasonTimeout:
		return ErrTimeout
	case reasonCanceled:
		return context.Canceled
	case reasonClosed:
		return ErrClosed
	case reasonOutput:
		return ErrOutputTooLarge
	case reasonMemory:
		return ErrMemory
	}
	return nil
}

func (r stopReason) err(ctx context.Context, lim Limits) error {
	switch r {
	case reasonTimeout:
		return fmt.Errorf("%w: after %s", ErrTimeout, lim.Timeout)
	case reasonCanceled:
		return fmt.Errorf("wasm: run cancelled: %w", context.Cause(ctx))
	case reasonClosed:
		return ErrClosed
	case reasonOutput:
		return fmt.Errorf("%w: limit %d bytes", ErrOutputTooLarge, lim.MaxOutputBytes)
	case reasonMemory:
		return fmt.Errorf("%w: limit %d pages", ErrMemory, lim.MemoryPages)
	}
	return nil
}

// stopper ends a run early, from the module's own goroutine (output or
// memory over the limit, inside a host call) or from another one (timeout,
// cancellation, Close). The first reason wins. It wakes a host call that
// waits (sleep, a blocking stdin) and interrupts the module through its
// meter, under mu, so that it never touches the meter after the run.
type stopper struct {
	mu             sync.Mutex
	reason         stopReason
	done           chan struct{}
	cancel         context.CancelCauseFunc // the run's context, given to host functions
	meter          *fuel.Meter
	remaining      int64 // fuel left when stopped with the module armed
	remainingKnown bool
}

func newStopper() *stopper { return &stopper{done: make(chan struct{})} }

func (s *stopper) stop(r stopReason) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reason != reasonNone {
		return
	}
	s.reason = r
	close(s.done)
	if s.cancel != nil {
		s.cancel(r.cause())
	}
	if s.meter != nil {
		s.interruptLocked()
	}
}

// interruptLocked records the fuel left, which is exact when stopped from
// a host call on the module's goroutine (the module synced its counter
// before calling), then interrupts.
func (s *stopper) interruptLocked() {
	s.remaining, s.remainingKnown = s.meter.Remaining(), true
	s.meter.Interrupt()
}

// arm lets stop interrupt the module from now on.
func (s *stopper) arm(m *fuel.Meter) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.meter = m
	if s.reason != reasonNone {
		s.interruptLocked()
	}
}

// disarm ends the run for the stopper and returns why it stopped, if it did.
func (s *stopper) disarm() stopReason {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.meter = nil
	return s.reason
}

// cappedWriter keeps at most max bytes; the write that overflows keeps
// what fits, stops the run and fails (the module sees an I/O error).
type cappedWriter struct {
	buf        bytes.Buffer
	max        int
	overflowed bool
	onOverflow func()
}

var errOutputLimit = errors.New("output limit reached")

func (w *cappedWriter) Write(p []byte) (int, error) {
	if w.overflowed {
		return 0, errOutputLimit
	}
	if room := w.max - w.buf.Len(); len(p) > room {
		w.buf.Write(p[:room])
		w.overflowed = true
		w.onOverflow()
		return room, errOutputLimit
	}
	return w.buf.Write(p)
}

// virtualClock is the module's clock (see virtualEpoch). It is used from
// the module's goroutine only.
type virtualClock struct {
	ns   int64
	done <-chan struct{}
}

func (c *virtualClock) walltime() (int64, int32) {
	c.ns += clockTick
	t := virtualEpoch + c.ns
	return t / int64(time.Second), int32(t % int64(time.Second))
}

func (c *virtualClock) nanotime() int64 {
	c.ns += clockTick
	return c.ns
}

func (c *virtualClock) sleep(ns int64) {
	if ns <= 0 {
		return
	}
	c.ns += ns
	t := time.NewTimer(time.Duration(ns))
	defer t.Stop()
	select {
	case <-t.C:
	case <-c.done:
	}
}

// linearMemory backs the module's memory and enforces the page limit:
// growing past it fails (memory.grow returns -1) and stops the run.
type linearMemory struct {
	buf     []byte
	limit   uint64
	peak    uint64
	onLimit func()
}

func (m *linearMemory) allocate(_, _ uint64) experimental.LinearMemory { return m }

// Reallocate implements experimental.LinearMemory.
func (m *linearMemory) Reallocate(size uint64) []byte {
	if size > m.limit {
		m.onLimit()
		return nil
	}
	if size > uint64(cap(m.buf)) {
		c := max(size, 2*uint64(cap(m.buf)))
		c = min(c, m.limit)
		b := make([]byte, size, c)
		copy(b, m.buf)
		m.buf = b
	} else {
		m.buf = m.buf[:size]
	}
	m.peak = max(m.peak, size)
	return m.buf
}

// Free implements experimental.LinearMemory.
func (m *linearMemory) Free() { m.buf = nil }

// interruptibleReader lets a stop wake a module blocked reading a stdin
// that may block (Run's stdin never does).
type interruptibleReader struct {
	r    io.Reader
	done <-chan struct{}
}

type readResult struct {
	n   int
	err error
}

func (r *interruptibleReader) Read(p []byte) (int, error) {
	select {
	case <-r.done:
		return 0, io.ErrUnexpectedEOF
	default:
	}
	buf := make([]byte, len(p))
	ch := make(chan readResult, 1)
	go func() {
		n, err := r.r.Read(buf)
		ch <- readResult{n, err}
	}()
	select {
	case rr := <-ch:
		copy(p, buf[:rr.n])
		return rr.n, rr.err
	case <-r.done:
		return 0, io.ErrUnexpectedEOF
	}
}
