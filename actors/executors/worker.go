package executors

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/messages/correlation"
	"github.com/intercooperative-network/icn-go/services/wasm"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// errWorkerStopped is the cause of a run cancelled because its worker is
// being restarted or stopped.
var errWorkerStopped = errors.New("executors: worker stopped")

// errRunCancelled is the cause of a run stopped because its job was
// cancelled: the job fails cancelled, not executor_lost.
var errRunCancelled = errors.New("executors: the job was cancelled")

// worker runs one job at a time, off its own goroutine so that it keeps
// answering status requests and, above all, processes a kill: a worker
// that is restarted or stopped cancels its run, whose goroutine then
// reports executor_lost to the pool.
type worker struct {
	name   string
	deps   Deps
	since  time.Time
	tree   *supervisors.Tree
	self   *actor.PID
	sys    *actor.ActorSystem
	job    *ticket // the job in flight, nil when idle
	cancel context.CancelCauseFunc
}

// ranDone tells the worker that its goroutine for t has ended.
type ranDone struct{ t *ticket }

// Receive implements actor.Actor.
func (w *worker) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		w.since, w.tree, w.self, w.sys = w.deps.Clock.Now(), supervisors.TreeOf(c), c.Self(), c.ActorSystem()
	case *actor.Restarting, *actor.Stopping:
		if w.cancel != nil {
			w.cancel(errWorkerStopped)
		}
	case *assign:
		w.start(c, m)
	case *stopRun:
		if w.job == m.t && w.cancel != nil {
			w.cancel(errRunCancelled)
		}
	case *ranDone:
		if w.job == m.t {
			w.job, w.cancel = nil, nil
		}
	case *messages.StatusRequest:
		d := map[string]string{"state": "idle"}
		if w.job != nil {
			d["state"], d["job"] = "running", w.job.job.JobID
		}
		c.Respond(&messages.SubsystemStatus{Name: w.name, Ready: true, Since: w.since, Details: d})
	}
}

// start runs the job in a goroutine that always reports to the pool.
func (w *worker) start(c actor.Context, a *assign) {
	if w.job != nil {
		// The pool gives a worker one job at a time; this one is only
		// possible if a report was lost, so refuse rather than overcommit.
		c.Send(a.pool, &finished{t: a.t, reply: fmt.Errorf("%w: %s is busy", messages.ErrNoCapacity, w.name)})
		return
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	if a.t.corr != "" {
		ctx = correlation.With(ctx, a.t.corr)
	}
	w.job, w.cancel = a.t, cancel
	self, sys, pool := w.self, w.sys, a.pool
	go func() {
		reply := w.execute(ctx, a.t.job)
		cancel(nil)
		sys.Root.Send(self, &ranDone{t: a.t})
		sys.Root.Send(pool, &finished{t: a.t, reply: reply})
	}()
}

// execute fetches, runs, stores and signs; it returns the receipt or the
// error for the job's sender. It touches no worker state (it runs off the
// actor's goroutine) and turns a panic into executor_lost.
func (w *worker) execute(ctx context.Context, m *messages.RunJob) (reply any) {
	defer func() {
		if r := recover(); r != nil {
			w.deps.Logger.Error("job panicked", "worker", w.name, "job", m.JobID, "panic", r)
			reply = lost(m.JobID, fmt.Sprintf("the worker panicked: %v", r))
		}
	}()
	module, err := readModule(ctx, w.tree, m.Module)
	if err != nil {
		if errors.Is(err, messages.ErrBlockNotFound) || errors.Is(err, block.ErrInvalidModule) {
			return w.failed(m, messages.ReasonInvalidModule, fmt.Sprintf("module %s: %v", m.Module, err))
		}
		return w.failed(m, reason(ctx, err), fmt.Sprintf("reading module %s: %v", m.Module, err))
	}
	var put []block.Block
	input := m.InputCID
	var stdin []byte
	if input.Defined() {
		b, err := w.get(ctx, input)
		if errors.Is(err, messages.ErrBlockNotFound) {
			return fmt.Errorf("%w: input %s: %w", messages.ErrInvalidJob, input, err)
		} else if err != nil {
			return w.failed(m, reason(ctx, err), fmt.Sprintf("reading input %s: %v", input, err))
		}
		stdin = b.Data()
	} else {
		b, err := block.NewRaw(m.Input)
		if err != nil {
			return fmt.Errorf("%w: %w", messages.ErrInvalidJob, err)
		}
		put, input, stdin = append(put, b), b.CID(), m.Input
	}

	res, cpu, err := w.run(ctx, wasm.Job{
		Key: m.Module.String(), Module: module, Stdin: stdin, Args: m.Args, Env: m.Env,
		Limits: limits(m.Limits),
	})
	if res.Compile > 0 { // this run compiled the module: once per cache miss, whatever came of it
		w.deps.Metrics.compiles.Observe(res.Compile.Seconds())
	}
	if err == nil || !errors.Is(err, wasm.ErrInvalidModule) && !errors.Is(err, wasm.ErrForbiddenImport) {
		w.deps.Metrics.runs.Observe(res.Wall.Seconds()) // a module refused before it ran is no run
	}
	if err != nil {
		return w.failed(m, reason(ctx, err), err.Error())
	}

	out, err := block.NewRaw(res.Stdout)
	if err != nil {
		return w.failed(m, messages.ReasonOutputTooLarge, err.Error())
	}
	stderr := res.Stderr
	if n := len(stderr); n > messages.MaxReceiptStderr {
		stderr = stderr[n-messages.MaxReceiptStderr:]
	}
	rb, r, err := SignReceipt(w.deps.Identity, messages.JobReceipt{
		JobID: m.JobID, Module: m.Module, Input: input, Output: out.CID(), ExitCode: res.ExitCode, FuelUsed: res.FuelUsed,
		CostTableVersion: uint32(res.CostTableVersion), WallMS: uint64(res.Wall.Milliseconds()), CPUMicros: uint64(cpu.Microseconds()), PeakMemoryBytes: res.PeakMemoryBytes, Stderr: stderr, Time: w.deps.Clock.Now(),
	})
	if err != nil {
		return w.failed(m, messages.ReasonExecutorLost, fmt.Sprintf("signing the receipt: %v", err))
	}
	put = append(put, out, rb)
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), callTimeout)
	defer cancel()
	// The run is over: storing its result is not cut short by a kill, so
	// that a receipt the caller may still get is always in the dag.
	if _, err := w.tree.Request(dctx, dagName, &messages.PutBlocks{Blocks: put}); err != nil {
		return w.failed(m, messages.ReasonExecutorLost, fmt.Sprintf("storing the result: %v", err))
	}
	result := resultOK
	if r.ExitCode != 0 {
		result = resultExitCode
	}
	w.deps.Metrics.jobs.WithLabelValues(result).Inc()
	return r
}

// run runs a job on the engine with this goroutine locked to its thread,
// so that the thread's CPU clock counts the run and nothing else (the
// engine runs the module on the calling goroutine). The compilation a
// cache miss does on the way is not the run's: its time is taken off.
func (w *worker) run(ctx context.Context, j wasm.Job) (wasm.Result, time.Duration, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before := threadCPU()
	res, err := w.deps.Engine.Run(ctx, j)
	cpu := threadCPU() - before - res.Compile
	return res, max(cpu, 0), err
}

// get reads a block from the dag, fetching it from other nodes if needed.
func (w *worker) get(ctx context.Context, c cid.Cid) (block.Block, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	r, err := supervisors.Ask[*messages.GetBlockReply](ctx, w.tree, dagName, &messages.GetBlock{CID: c, Fetch: true})
	if err != nil {
		return block.Block{}, err
	}
	return r.Block, nil
}

// failed counts a failure and makes its error. executor_lost is counted by
// the pool, which produces it too.
func (w *worker) failed(m *messages.RunJob, why, detail string) *messages.JobFailure {
	if why != messages.ReasonExecutorLost {
		w.deps.Metrics.jobs.WithLabelValues(why).Inc()
	}
	return &messages.JobFailure{JobID: m.JobID, Reason: why, Detail: detail}
}

// reason maps a run's error to a failure reason. A run cut short by the
// worker's own stop (or the engine's close) is executor_lost: the job did
// nothing wrong and may run elsewhere. A trap is exit_code: the module
// ended abnormally, as a crashed native program would, so it is the job's
// fault, like a non-zero exit (which is a receipt, not a failure: the job
// manager decides it is exit_code, and the output is still worth keeping).
func reason(ctx context.Context, err error) string {
	switch {
	case errors.Is(context.Cause(ctx), errRunCancelled):
		return messages.ReasonCancelled
	case ctx.Err() != nil, errors.Is(err, wasm.ErrClosed):
		return messages.ReasonExecutorLost
	case errors.Is(err, wasm.ErrTimeout):
		return messages.ReasonTimeout
	case errors.Is(err, wasm.ErrOutOfFuel):
		return messages.ReasonFuel
	case errors.Is(err, wasm.ErrMemory):
		return messages.ReasonMemory
	case errors.Is(err, wasm.ErrInvalidModule):
		return messages.ReasonInvalidModule
	case errors.Is(err, wasm.ErrForbiddenImport):
		return messages.ReasonForbiddenImport
	case errors.Is(err, wasm.ErrOutputTooLarge):
		return messages.ReasonOutputTooLarge
	case errors.Is(err, wasm.ErrTrap):
		return messages.ReasonExitCode
	}
	return messages.ReasonExecutorLost
}
