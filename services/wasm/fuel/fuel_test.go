package fuel_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/intercooperative-network/icn-go/services/wasm/fuel"
	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
)

// runner runs WASI commands on bare wazero, instrumented or not.
type runner struct {
	rt       wazero.Runtime
	compiled map[string]wazero.CompiledModule
}

func newRunner(tb testing.TB) *runner {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	tb.Cleanup(func() { _ = rt.Close(ctx) })
	return &runner{rt: rt, compiled: map[string]wazero.CompiledModule{}}
}

func (r *runner) compile(tb testing.TB, bin []byte) wazero.CompiledModule {
	tb.Helper()
	if cm, ok := r.compiled[string(bin)]; ok {
		return cm
	}
	cm, err := r.rt.CompileModule(context.Background(), bin)
	if err != nil {
		tb.Fatalf("compile: %v", err)
	}
	r.compiled[string(bin)] = cm
	return cm
}

type outcome struct {
	stdout    string
	exit      uint32
	trapped   bool
	used      uint64
	oof       bool
	exhausted bool
}

// run runs bin's _start with stdin; meter is nil for an original module.
func (r *runner) run(tb testing.TB, bin []byte, stdin []byte, metered bool, fuelLimit uint64) outcome {
	tb.Helper()
	return r.runArgs(tb, bin, nil, stdin, metered, fuelLimit)
}

// runArgs is run with command-line arguments (after the program's name).
func (r *runner) runArgs(tb testing.TB, bin []byte, args []string, stdin []byte, metered bool, fuelLimit uint64) outcome {
	tb.Helper()
	ctx := context.Background()
	cm := r.compile(tb, bin)
	var out bytes.Buffer
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions().
		WithArgs(append([]string{"prog"}, args...)...).
		WithStdin(bytes.NewReader(stdin)).WithStdout(&out)
	mod, err := r.rt.InstantiateModule(ctx, cm, cfg)
	if err != nil {
		tb.Fatalf("instantiate: %v", err)
	}
	defer func() { _ = mod.Close(ctx) }()
	var m *fuel.Meter
	if metered {
		if m, err = fuel.NewMeter(mod); err != nil {
			tb.Fatal(err)
		}
		m.Reset(fuelLimit)
		err = m.Start(ctx)
	}
	if err == nil {
		_, err = mod.ExportedFunction("_start").Call(ctx)
	}
	o := outcome{stdout: out.String()}
	if exit, ok := errors.AsType[*sys.ExitError](err); ok {
		o.exit = exit.ExitCode()
	} else if err != nil {
		o.trapped = true
	}
	if m != nil {
		o.used, o.oof, o.exhausted = m.Used(), m.OutOfFuel(), m.StackExhausted()
	}
	return o
}

func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

func instrument(tb testing.TB, src []byte) []byte {
	tb.Helper()
	m, err := fuel.Instrument(src)
	if err != nil {
		tb.Fatalf("Instrument: %v", err)
	}
	return m.Binary
}

// TestCorpusDifferential: every terminating WAT program prints the same
// and exits the same instrumented, uses the same fuel twice, and the fuel
// is exact: the program completes with exactly that much and runs out
// with one unit less.
func TestCorpusDifferential(t *testing.T) {
	r := newRunner(t)
	for _, tc := range []struct {
		name  string
		stdin []byte
		exit  uint32
	}{
		{"loop", le64(1000), 0},
		{"loop", nil, 0},
		{"sieve", le64(5000), 0},
		{"fib", le64(15), 0},
		{"exit", nil, 3},
		{"features", nil, 0},
		{"stdin", []byte("hello, cooperative world"), 0},
		{"renew", nil, 0},
		{"dispatch", le64(1000), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := wasmtest.WAT(t, tc.name)
			bin := instrument(t, src)
			want := r.run(t, src, tc.stdin, false, 0)
			if want.trapped || want.exit != tc.exit || want.stdout == "" {
				t.Fatalf("original: %+v", want)
			}
			got := r.run(t, bin, tc.stdin, true, 1<<40)
			if got.stdout != want.stdout || got.exit != want.exit || got.trapped || got.oof {
				t.Fatalf("instrumented %+v, original %+v", got, want)
			}
			again := r.run(t, bin, tc.stdin, true, 1<<40)
			if again.used != got.used || got.used == 0 {
				t.Fatalf("fuel used %d then %d", got.used, again.used)
			}
			exact := r.run(t, bin, tc.stdin, true, got.used)
			if exact.oof || exact.stdout != want.stdout || exact.used != got.used {
				t.Fatalf("with exactly %d fuel: %+v", got.used, exact)
			}
			short := r.run(t, bin, tc.stdin, true, got.used-1)
			if !short.oof {
				t.Fatalf("with %d fuel (one short) it did not run out: %+v", got.used-1, short)
			}
		})
	}
}

// TestRefillsKeepLocals: a loop's refills renew the function's locals;
// every bit of every type survives, NaN payloads and negative zeros
// included, across many refills (and across the refills of a callee's
// entry, which renew nothing).
func TestRefillsKeepLocals(t *testing.T) {
	r := newRunner(t)
	src := wasmtest.WAT(t, "renew")
	want := r.run(t, src, nil, false, 0)
	got := r.run(t, instrument(t, src), nil, true, 1<<40)
	if got.stdout != want.stdout || got.trapped || got.oof {
		t.Fatalf("instrumented %+v, original %+v", got, want)
	}
	if got.used < 8*fuel.Chunk {
		t.Fatalf("used %d fuel, fewer than 8 chunks of %d: too few refills to test", got.used, fuel.Chunk)
	}
	lines := strings.Split(strings.TrimSpace(got.stdout), "\n")
	if len(lines) != 7 {
		t.Fatalf("output %q", got.stdout)
	}
	// c, d, e and f are carried unchanged round the loop.
	for i, w := range []string{"000000007fa00001", "fff8000000000001", "0000000080000000", "8000000000000000"} {
		if lines[2+i] != w {
			t.Errorf("line %d: %s, want %s", 3+i, lines[2+i], w)
		}
	}
}

// TestFuelScalesWithWork: the loop's fuel grows linearly with its
// iterations (each costs the same).
func TestFuelScalesWithWork(t *testing.T) {
	r := newRunner(t)
	bin := instrument(t, wasmtest.WAT(t, "loop"))
	u := func(n uint64) uint64 { return r.run(t, bin, le64(n), true, 1<<40).used }
	a, b, c := u(1000), u(2000), u(3000)
	if b-a != c-b || b <= a {
		t.Fatalf("fuel for 1000, 2000, 3000 iterations: %d, %d, %d", a, b, c)
	}
	if per := (b - a) / 1000; per < 5 || per > 40 {
		t.Fatalf("one iteration of about ten instructions costs %d", per)
	}
}

// TestRunaways: an infinite loop and a memory.grow loop run out of fuel,
// infinite recursion exhausts the stack budget (also through frames that
// wazero makes large); all trap.
func TestRunaways(t *testing.T) {
	r := newRunner(t)
	for _, tc := range []struct {
		name           string
		fuel           uint64
		oof, exhausted bool
	}{
		{"infinite", 50_000_000, true, false},
		{"grow", 1_000_000, true, false},
		{"recurse", fuel.MaxFuel, false, true},
		// large native frames: the budget, not wazero's limit, stops it
		{"deepframes", fuel.MaxFuel, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := r.run(t, instrument(t, wasmtest.WAT(t, tc.name)), nil, true, tc.fuel)
			if !got.trapped || got.oof != tc.oof || got.exhausted != tc.exhausted {
				t.Fatalf("%+v", got)
			}
			if tc.oof && (got.used < tc.fuel || got.used > tc.fuel+fuel.Chunk) {
				t.Fatalf("used %d of %d", got.used, tc.fuel)
			}
		})
	}
}

// TestInterrupt: Interrupt from another goroutine stops a module spinning
// with plenty of fuel.
func TestInterrupt(t *testing.T) {
	ctx := context.Background()
	r := newRunner(t)
	cm, err := r.rt.CompileModule(ctx, instrument(t, wasmtest.WAT(t, "infinite")))
	if err != nil {
		t.Fatal(err)
	}
	mod, err := r.rt.InstantiateModule(ctx, cm, wazero.NewModuleConfig().WithName("").WithStartFunctions())
	if err != nil {
		t.Fatal(err)
	}
	m, err := fuel.NewMeter(mod)
	if err != nil {
		t.Fatal(err)
	}
	m.Reset(fuel.MaxFuel)
	done := make(chan error, 1)
	go func() {
		_, err := mod.ExportedFunction("_start").Call(ctx)
		done <- err
	}()
	// Wait until the loop has refilled a few times: it is spinning.
	bank := mod.ExportedGlobal(fuel.ExportFuel)
	deadline := time.Now().Add(10 * time.Second)
	for bank.Get() > fuel.MaxFuel-10*fuel.Chunk {
		if time.Now().After(deadline) {
			t.Fatal("the loop does not seem to run")
		}
		runtime.Gosched()
	}
	m.Interrupt()
	if err := <-done; err == nil {
		t.Fatal("the module ran to completion")
	}
	if m.OutOfFuel() {
		t.Fatal("an interrupted module reports running out of fuel")
	}
}

// TestStartFunction: a start section becomes an export the host calls
// after setting the fuel.
func TestStartFunction(t *testing.T) {
	m, err := fuel.Instrument(wasmtest.WAT(t, "features"))
	if err != nil {
		t.Fatal(err)
	}
	if !m.HasStart {
		t.Fatal("HasStart is false")
	}
	for _, ex := range m.Exports {
		if ex.Name == fuel.ExportStart {
			t.Fatal("the instrumentation's exports are listed")
		}
	}
}

func TestModuleInfo(t *testing.T) {
	m, err := fuel.Instrument(wasmtest.WAT(t, "loop"))
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Imports) != 3 || m.Imports[0].Module != "wasi_snapshot_preview1" || m.Imports[0].Name != "fd_write" ||
		m.Imports[0].Kind != fuel.KindFunc || len(m.Imports[0].Type.Params) != 4 || m.Imports[0].Type.Results[0] != fuel.I32 {
		t.Fatalf("imports %+v", m.Imports)
	}
	if m.Memory == nil || m.Memory.Min != 1 || m.Memory.HasMax {
		t.Fatalf("memory %+v", m.Memory)
	}
	if m.HasStart {
		t.Fatal("HasStart is true")
	}
}

// TestDeterministicOutput: the rewriter is a function of its input.
func TestDeterministicOutput(t *testing.T) {
	for _, name := range wasmtest.WATNames(t) {
		src := wasmtest.WAT(t, name)
		a, b := instrument(t, src), instrument(t, src)
		if !bytes.Equal(a, b) {
			t.Fatalf("%s: two rewrites differ", name)
		}
	}
}
