package fuel_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/intercooperative-network/icn-go/services/wasm/fuel"
	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
)

// instance is one instrumented module instance whose exports the tests
// call one by one, each call with fresh fuel.
type instance struct {
	mod    api.Module
	meter  *fuel.Meter
	stdout *bytes.Buffer
}

func (r *runner) instance(t *testing.T, name string, stdin []byte) *instance {
	t.Helper()
	ctx := context.Background()
	cm := r.compile(t, instrument(t, wasmtest.WAT(t, name)))
	var out bytes.Buffer
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions().
		WithStdin(bytes.NewReader(stdin)).WithStdout(&out)
	mod, err := r.rt.InstantiateModule(ctx, cm, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mod.Close(ctx) })
	m, err := fuel.NewMeter(mod)
	if err != nil {
		t.Fatal(err)
	}
	return &instance{mod: mod, meter: m, stdout: &out}
}

// call calls export fn with limit fuel and returns its results and the
// fuel it used.
func (in *instance) call(t *testing.T, limit uint64, fn string, params ...uint64) ([]uint64, uint64, error) {
	t.Helper()
	in.meter.Reset(limit)
	res, err := in.mod.ExportedFunction(fn).Call(context.Background(), params...)
	return res, in.meter.Used(), err
}

// used calls fn with plenty of fuel and returns the fuel it used.
func (in *instance) used(t *testing.T, fn string, params ...uint64) uint64 {
	t.Helper()
	_, u, err := in.call(t, 1<<40, fn, params...)
	if err != nil {
		t.Fatalf("%s%v: %v", fn, params, err)
	}
	return u
}

// TestTableCharges: table.grow, table.fill, table.copy and table.init cost
// CostTableElem more per element of their length operand, like the bulk
// memory instructions cost per byte.
func TestTableCharges(t *testing.T) {
	in := newRunner(t).instance(t, "tables", nil)
	for _, tc := range []struct {
		fn   string
		a, b uint64
	}{
		{"grow", 0, 1000},
		{"fill", 0, 16},
		{"copy", 0, 8},
		{"init", 0, 8},
		{"init", 3, 5},
	} {
		t.Run(tc.fn, func(t *testing.T) {
			ua, ub := in.used(t, tc.fn, tc.a), in.used(t, tc.fn, tc.b)
			if want := (tc.b - tc.a) * fuel.CostTableElem; ub-ua != want {
				t.Fatalf("%s(%d) used %d, %s(%d) %d: %d more, want %d", tc.fn, tc.a, ua, tc.fn, tc.b, ub, ub-ua, want)
			}
		})
	}
}

// TestTableGrowCap: a table grows to MaxTableElements and no further,
// whatever its maximum (none here); a grow beyond fails with -1, costs by
// its delta, and a delta the fuel cannot pay for runs out before the
// table is touched.
func TestTableGrowCap(t *testing.T) {
	in := newRunner(t).instance(t, "tables", nil)
	size := func() uint64 {
		res, _, err := in.call(t, 1<<40, "size")
		if err != nil {
			t.Fatal(err)
		}
		return res[0]
	}
	grow := func(n uint64) int32 {
		res, _, err := in.call(t, 1<<40, "grow", n)
		if err != nil {
			t.Fatal(err)
		}
		return int32(res[0])
	}
	if got := grow(fuel.MaxTableElements - 10); got != 0 {
		t.Fatalf("grow to MaxTableElements-10: %d", got)
	}
	if got := grow(11); got != -1 || size() != fuel.MaxTableElements-10 {
		t.Fatalf("grow past MaxTableElements: %d, size %d", got, size())
	}
	if got := grow(10); got != fuel.MaxTableElements-10 || size() != fuel.MaxTableElements {
		t.Fatalf("grow to exactly MaxTableElements: %d, size %d", got, size())
	}
	if got := grow(0xFFFF_FFFF); got != -1 {
		t.Fatalf("grow by 2^32-1: %d", got)
	}
	_, used, err := in.call(t, 1<<20, "grow", 0xFFFF_FFFF)
	if err == nil || !in.meter.OutOfFuel() || used < 1<<20 {
		t.Fatalf("grow by 2^32-1 with 2^20 fuel: %v, used %d", err, used)
	}
}

// TestTableLimits: more than MaxTables tables or a table larger than
// MaxTableElements is an invalid module.
func TestTableLimits(t *testing.T) {
	var nine []byte
	for range 9 {
		nine = append(nine, 0x70, 0, 0)
	}
	for _, tc := range []struct {
		name, reason string
		in           []byte
	}{
		{"nine tables", "more than 8 tables", mod(sec(4, append([]byte{9}, nine...)...))},
		{"nine imported tables", "more than 8 tables", mod(sec(2, cat([]byte{9}, bytes.Repeat([]byte{1, 'm', 1, 't', 1, 0x70, 0, 0}, 9))...))},
		{"one imported and eight defined", "more than 8 tables",
			mod(sec(2, 1, 1, 'm', 1, 't', 1, 0x70, 0, 0), sec(4, append([]byte{8}, nine[3:]...)...))},
		{"table too large", "more than 1048576", mod(sec(4, 1, 0x70, 0, 0x81, 0x80, 0x40))},
		{"imported table too large", "more than 1048576", mod(sec(2, 1, 1, 'm', 1, 't', 1, 0x70, 1, 0x81, 0x80, 0x40, 0x81, 0x80, 0x40))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := fuel.Instrument(tc.in)
			if !errors.Is(err, fuel.ErrInvalidModule) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("error %v, want one with %q", err, tc.reason)
			}
		})
	}
	if _, err := fuel.Instrument(mod(sec(4, 1, 0x70, 1, 0x80, 0x80, 0x40, 0xff, 0xff, 0xff, 0xff, 0x0f))); err != nil {
		t.Fatalf("a table of MaxTableElements with a larger maximum: %v", err)
	}
}

// TestHostCallCharges: the WASI functions that work in proportion to
// their arguments cost in proportion to them, called directly or through
// a table.
func TestHostCallCharges(t *testing.T) {
	in := newRunner(t).instance(t, "hostcalls", bytes.Repeat([]byte("x"), 1<<16))
	in.used(t, "iovecs", 100, 1000)
	for _, tc := range []struct {
		fn   string
		a, b uint64
		want uint64
	}{
		{"random", 0, 4096, 4096 >> fuel.RandomByteShift},
		{"random_indirect", 0, 4096, 4096 >> fuel.RandomByteShift},
		{"write", 0, 1, fuel.CostIOVec + 1000>>fuel.BulkByteShift},
		{"write", 0, 100, 100*fuel.CostIOVec + 100*1000>>fuel.BulkByteShift},
		{"read", 0, 10, 10*fuel.CostIOVec + 10*1000>>fuel.BulkByteShift},
		{"poll", 0, 50, 50 * fuel.CostSubscription},
	} {
		t.Run(tc.fn, func(t *testing.T) {
			ua, ub := in.used(t, tc.fn, tc.a), in.used(t, tc.fn, tc.b)
			if ub-ua != tc.want {
				t.Fatalf("%s(%d) used %d, %s(%d) %d: %d more, want %d", tc.fn, tc.a, ua, tc.fn, tc.b, ub, ub-ua, tc.want)
			}
		})
	}
	// iovecs past the end of memory are not summed (fd_write fails with
	// EFAULT), and cost their count only.
	u0 := in.used(t, "write", 0)
	in.used(t, "iovecs", 100, 0)
	_, u, err := in.call(t, 1<<40, "write", 1<<20)
	if err != nil || u-u0 != (1<<20)*fuel.CostIOVec {
		t.Fatalf("write of 2^20 iovecs from 65536: %v, used %d more", err, u-u0)
	}
}

// TestHostCallNotRunWithoutFuel: the charge comes before the host
// function, which does not run when the module cannot pay.
func TestHostCallNotRunWithoutFuel(t *testing.T) {
	in := newRunner(t).instance(t, "hostcalls", nil)
	in.used(t, "iovecs", 1, 60000)
	full := in.used(t, "write", 1)
	if in.stdout.Len() != 60000 {
		t.Fatalf("wrote %d bytes", in.stdout.Len())
	}
	in.stdout.Reset()
	if _, _, err := in.call(t, full-1, "write", 1); err == nil || !in.meter.OutOfFuel() || in.stdout.Len() != 0 {
		t.Fatalf("with one unit too few: %v, out of fuel %v, wrote %d bytes", err, in.meter.OutOfFuel(), in.stdout.Len())
	}
	full = in.used(t, "random", 60000)
	mem, _ := in.mod.Memory().Read(1024, 60000)
	clear(mem)
	if _, _, err := in.call(t, full-1, "random", 60000); err == nil || !in.meter.OutOfFuel() || bytes.Count(mem, []byte{0}) != len(mem) {
		t.Fatalf("with one unit too few: %v, out of fuel %v", err, in.meter.OutOfFuel())
	}
}

// TestStackWeight: a frame's weight includes its function's deepest
// operand stack, so a function that keeps 32 values on the stack across
// its recursive call recurses less deep than one that keeps none, by the
// documented formula (no parameters or locals).
func TestStackWeight(t *testing.T) {
	in := newRunner(t).instance(t, "stack", nil)
	depth := in.mod.ExportedGlobal("depth").(api.MutableGlobal)
	for _, tc := range []struct {
		fn       string
		maxStack uint64
	}{{"shallow", 2}, {"deep", 32}} {
		t.Run(tc.fn, func(t *testing.T) {
			depth.Set(0)
			_, _, err := in.call(t, fuel.MaxFuel, tc.fn)
			if err == nil || !in.meter.StackExhausted() {
				t.Fatalf("%v, stack exhausted %v", err, in.meter.StackExhausted())
			}
			weight := fuel.FrameBase + 8 + tc.maxStack
			if got, want := depth.Get(), uint64(fuel.StackBudget)/weight; got != want {
				t.Fatalf("%d frames, want %d (weight %d)", got, want, weight)
			}
		})
	}
}

// TestGuardsChargeWhatFollowsWithWhatPrecedes: the code after a guard (an
// if without else whose then-arm traps) is charged with the code before
// it, not as a segment of its own; so a run that passes the guard pays
// the same, and one that traps at it pays for the code after it too.
func TestGuardsChargeWhatFollowsWithWhatPrecedes(t *testing.T) {
	in := newRunner(t).instance(t, "guards", nil)
	short, long := in.used(t, "short", 1), in.used(t, "long", 1)
	extra := long - short // the four adds after the guard
	if extra == 0 {
		t.Fatal("the code after the guard cost nothing")
	}
	trapAt := func(fn string) uint64 {
		_, used, err := in.call(t, 1<<40, fn, 0)
		if err == nil {
			t.Fatalf("%s(0) did not trap", fn)
		}
		return used
	}
	if ts, tl := trapAt("short"), trapAt("long"); tl-ts != extra {
		t.Fatalf("trapping at the guard: short used %d, long %d; want long to pay the %d after the guard too", ts, tl, extra)
	}
}
