package wasm

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"go.uber.org/goleak"

	"github.com/intercooperative-network/icn-go/services/wasm/fuel"
	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
)

// TestIndexAttacks: a job that names the fuel globals or the refill
// function by an index past its own (invalid in the original, valid after
// a naive rewrite) is an invalid module; it never runs, so it cannot mint
// fuel or clear the interrupt.
func TestIndexAttacks(t *testing.T) {
	e, err := New(WithCacheDir(wasmtest.CacheDir(t)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// Bounded: an attack that worked may run forever.
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := e.Close(ctx); err != nil {
			t.Error(err)
		}
	})
	// (type () -> ()) (func $start ...) (export "_start" (func 0)), with
	// start's body: no locals, then body, then end.
	job := func(body ...byte) []byte {
		b := []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x07\x0a\x01\x06_start\x00\x00")
		b = append(b, 0x0a, byte(len(body)+4), 1, byte(len(body)+2), 0)
		b = append(b, body...)
		return append(b, 0x0b)
	}
	big := []byte{0x42, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f} // i64.const 2^62-1
	loop := []byte{0x03, 0x40, 0x0c, 0x00, 0x0b}                              // loop br 0 end
	for _, tc := range []struct {
		name string
		mod  []byte
	}{
		{"set the fuel bank", job(append(append(append([]byte{}, big...), 0x24, 0), loop...)...)},
		{"set the chunk", job(append(append(append([]byte{}, big...), 0x24, 1), loop...)...)},
		{"clear the interrupt in the loop", job(0x03, 0x40, 0x41, 0, 0x24, 2, 0x0c, 0, 0x0b)},
		{"set the counter local", job(append(append(append([]byte{}, big...), 0x21, 0), loop...)...)},
		{"call the refill", job(append(append(append([]byte{}, big...), 0x10, 1, 0x1a), loop...)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			errc := make(chan error, 1)
			go func() {
				_, err := e.Run(context.Background(), Job{Module: tc.mod, Limits: Limits{Fuel: 1000, Timeout: time.Second}})
				errc <- err
			}()
			var err error
			select {
			case err = <-errc:
			case <-time.After(10 * time.Second):
				t.Fatal("the job outlived its fuel and its timeout")
			}
			if !errors.Is(err, ErrInvalidModule) {
				t.Fatalf("error %v, want ErrInvalidModule", err)
			}
			if _, ok := errors.AsType[*fuel.ModuleError](err); !ok {
				t.Fatalf("error %v: not rejected by the rewriter", err)
			}
		})
	}
}

// TestHostContextCancelled: a host function blocked on its context returns
// when the run stops, for each way a run stops from outside, and sees why.
func TestHostContextCancelled(t *testing.T) {
	release := make(chan struct{}) // unblocks the host function if the context never ends
	t.Cleanup(func() { close(release) })
	causes := make(chan error, 1)
	entered := make(chan struct{}, 1) // the host function is running
	waiter := func(b wazero.HostModuleBuilder) wazero.HostModuleBuilder {
		return b.NewFunctionBuilder().WithFunc(func(ctx context.Context) int32 {
			entered <- struct{}{}
			select {
			case <-ctx.Done():
				causes <- context.Cause(ctx)
				return 1
			case <-release:
				causes <- nil
				return 0
			}
		}).Export("wait")
	}
	mod := wasmtest.WAT(t, "hostwait")
	for _, tc := range []struct {
		name  string
		want  error
		limit time.Duration
		stop  func(e *Engine, cancel context.CancelFunc)
	}{
		{name: "timeout", want: ErrTimeout, limit: 200 * time.Millisecond},
		{name: "close", want: ErrClosed, stop: func(e *Engine, _ context.CancelFunc) { _ = e.Close(context.Background()) }},
		{name: "cancel", want: context.Canceled, stop: func(_ *Engine, cancel context.CancelFunc) { cancel() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEngine(t, WithHostModule("icn", waiter))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			errc := make(chan error, 1)
			go func() {
				_, err := e.Call(ctx, Call{Module: mod, Function: "wait", Limits: Limits{Timeout: tc.limit}})
				errc <- err
			}()
			// Stopped once the host function runs: stopped earlier, the
			// run ends before it and there is no host context to check.
			select {
			case <-entered:
			case <-time.After(10 * time.Second):
				t.Fatal("the host function was never called")
			}
			if tc.stop != nil {
				tc.stop(e, cancel)
			}
			select {
			case err := <-errc:
				if !errors.Is(err, tc.want) {
					t.Fatalf("error %v, want %v", err, tc.want)
				}
			case <-time.After(10 * time.Second):
				release <- struct{}{}
				t.Fatal("the host function was not cancelled")
			}
			select {
			case cause := <-causes:
				if !errors.Is(cause, tc.want) {
					t.Fatalf("the host function's context ended with %v, want %v", cause, tc.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the host function never returned")
			}
		})
	}
}

// waitActive waits until a run is in flight on e.
func waitActive(t *testing.T, e *Engine) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.mu.Lock()
		n := len(e.active)
		e.mu.Unlock()
		if n > 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the run never started")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestMemoryLimitFuelExact: after a memory.grow over the limit, FuelUsed
// is exact: the same on every run and engine, enough to reach the failed
// grow (given exactly that much the run still fails for memory), and one
// unit less runs out of fuel before the grow.
func TestMemoryLimitFuelExact(t *testing.T) {
	e1, e2 := newEngine(t), newEngine(t)
	j := Job{Module: wasmtest.WAT(t, "grow"), Limits: Limits{MemoryPages: 100}}
	r, err := e1.Run(context.Background(), j)
	if !errors.Is(err, ErrMemory) {
		t.Fatalf("error %v", err)
	}
	used := r.FuelUsed
	for i, e := range []*Engine{e1, e2} {
		if r, err := e.Run(context.Background(), j); !errors.Is(err, ErrMemory) || r.FuelUsed != used {
			t.Fatalf("run %d: %v, fuel used %d, first run %d", i, err, r.FuelUsed, used)
		}
	}
	// 99 grows of one page at 4096 units a page, at least.
	if used < 99<<fuel.GrowPageShift {
		t.Fatalf("fuel used %d", used)
	}
	j.Limits.Fuel = used
	if r, err := e1.Run(context.Background(), j); !errors.Is(err, ErrMemory) || r.FuelUsed != used {
		t.Fatalf("with exactly %d fuel: %v, used %d", used, err, r.FuelUsed)
	}
	j.Limits.Fuel = used - 1
	if _, err := e1.Run(context.Background(), j); !errors.Is(err, ErrOutOfFuel) {
		t.Fatalf("with %d fuel: %v", used-1, err)
	}
}

// TestCallAfterExit: a Call whose module exits instead of returning the
// function's results is an ErrTrap, never a success without results; a
// function without results may end with proc_exit(0).
func TestCallAfterExit(t *testing.T) {
	e := newEngine(t)
	callexit, startexit := wasmtest.WAT(t, "callexit"), wasmtest.WAT(t, "startexit")
	for _, tc := range []struct {
		name   string
		mod    []byte
		fn     string
		params []uint64
		want   error
		result []uint64
	}{
		{"start function exits 0", startexit, "answer", nil, ErrTrap, nil},
		{"function with a result exits 0", callexit, "exit_with_result", []uint64{0}, ErrTrap, nil},
		{"function with a result exits 3", callexit, "exit_with_result", []uint64{3}, ErrTrap, nil},
		{"function without results exits 3", callexit, "exit", []uint64{3}, ErrTrap, nil},
		{"function without results exits 0", callexit, "exit", []uint64{0}, nil, nil},
		{"function returns", callexit, "answer", nil, nil, []uint64{42}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for range 2 { // the second time from the cache
				r, err := e.Call(context.Background(), Call{Module: tc.mod, Function: tc.fn, Params: tc.params})
				if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
					t.Fatalf("error %v, want %v", err, tc.want)
				}
				if len(r.Results) != len(tc.result) || len(tc.result) > 0 && r.Results[0] != tc.result[0] {
					t.Fatalf("results %v, want %v", r.Results, tc.result)
				}
			}
		})
	}
	// A job whose start function exits ends there, as on bare wazero.
	if r, err := e.Run(context.Background(), Job{Module: startexit}); err != nil || r.ExitCode != 0 {
		t.Fatalf("run: %v, exit code %d", err, r.ExitCode)
	}
}

// TestCloseExpiredContext: Close with a context that is already done still
// releases everything, at once when no run is in flight, and as soon as
// the runs it stopped end otherwise; no goroutine outlives it.
func TestCloseExpiredContext(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	expired, cancel := context.WithCancel(context.Background())
	cancel()
	loop := wasmtest.WAT(t, "loop")
	empty := []byte("\x00asm\x01\x00\x00\x00")
	// released reports whether e's runtime is closed and its cache empty.
	released := func(e *Engine) bool {
		e.mu.Lock()
		n := len(e.entries)
		e.mu.Unlock()
		cm, err := e.rt.CompileModule(context.Background(), empty)
		if err == nil {
			_ = cm.Close(context.Background())
		}
		return err != nil && n == 0
	}
	for i := range 20 {
		e, err := New(WithCacheDir(wasmtest.CacheDir(t)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Run(context.Background(), Job{Module: loop, Stdin: le64(10)}); err != nil {
			t.Fatal(err)
		}
		if err := e.Close(expired); err != nil {
			t.Fatalf("close %d with nothing in flight: %v", i, err)
		}
		if !released(e) {
			t.Fatalf("close %d: not released", i)
		}
	}

	// With a run in flight: Close cannot wait, but stops it, and the
	// release follows the run's end.
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := e.Run(context.Background(), Job{Module: wasmtest.WAT(t, "infinite"), Limits: Limits{Fuel: fuel.MaxFuel}})
		errc <- err
	}()
	waitActive(t, e)
	if err := e.Close(expired); !errors.Is(err, context.Canceled) {
		t.Fatalf("close with a run in flight: %v", err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("the run in flight: %v", err)
	}
	// The release runs in the background once the run has ended: wait for
	// it before probing the runtime (compiling while wazero closes it is a
	// race inside wazero, not a check).
	select {
	case <-e.released:
	case <-time.After(10 * time.Second):
		t.Fatal("not released after the run ended")
	}
	if !released(e) {
		t.Fatal("released, but the runtime still compiles or the cache holds modules")
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatalf("second close: %v", err)
	}
}
