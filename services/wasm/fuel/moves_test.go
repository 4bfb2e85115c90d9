package fuel_test

import (
	"strings"
	"testing"

	"github.com/intercooperative-network/icn-go/services/wasm/fuel"
	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
)

// TestMovedChargesKeepFuelExact: moving charges into the segments that
// enter them (settle) writes fewer charges and changes no program's fuel
// by a single unit (a module with no block that qualifies keeps all its
// charges): hand-written modules (dispatch.wat has Go's shape and
// enters its dispatch every way), rustc's and clang's, and Go's.
func TestMovedChargesKeepFuelExact(t *testing.T) {
	type run struct {
		args  []string
		stdin []byte
	}
	stdin := func(s string) run { return run{stdin: []byte(s)} }
	cases := []struct {
		name   string
		module func(testing.TB) []byte
		same   bool // nothing to move
		runs   []run
	}{
		{"dispatch", wat("dispatch"), false, []run{{stdin: le64(1000)}, {stdin: le64(0)}, {stdin: le64(1)}}},
		{"loop", wat("loop"), false, []run{{stdin: le64(1000)}}},
		{"sieve", wat("sieve"), false, []run{{stdin: le64(5000)}}},
		{"fib", wat("fib"), true, []run{{stdin: le64(15)}}},
		{"features", wat("features"), true, []run{{}}},
		{"renew", wat("renew"), true, []run{{}}},
		{"rust-o2", toolchain("rust-o2"), false, []run{stdin("primes 500"), stdin("words 3"), stdin("panic 7")}},
		{"rust-o0", toolchain("rust-o0"), false, []run{stdin("stats 40")}},
		{"c-o2", toolchain("c-o2"), false, []run{stdin("sort 300"), stdin("hash 16")}},
		{"go", wasmtest.Corpus, false, []run{
			{args: []string{"sieve", "20000"}}, {args: []string{"sort", "500"}}, {args: []string{"json", "20"}},
			{args: []string{"sha256", "1"}}, {args: []string{"fib", "15"}}, {args: []string{"loop", "1000"}},
		}},
	}
	r := newRunner(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.module(t)
			moved, nMoved, err := fuel.InstrumentCharges(src, false)
			if err != nil {
				t.Fatal(err)
			}
			kept, nKept, err := fuel.InstrumentCharges(src, true)
			if err != nil {
				t.Fatal(err)
			}
			if nMoved > nKept || (nMoved == nKept) != tc.same {
				t.Errorf("charges written: %d moved, %d kept", nMoved, nKept)
			}
			for _, in := range tc.runs {
				name := strings.Join(in.args, " ") + string(in.stdin)
				want := r.runArgs(t, src, in.args, in.stdin, false, 0)
				got := r.runArgs(t, moved, in.args, in.stdin, true, 1<<40)
				ref := r.runArgs(t, kept, in.args, in.stdin, true, 1<<40)
				if got.stdout != want.stdout || got.exit != want.exit || got.trapped != want.trapped || got.oof {
					t.Fatalf("%s: moved %+v, original %+v", name, got, want)
				}
				if got.used != ref.used || ref.stdout != want.stdout {
					t.Fatalf("%s: fuel used %d with charges moved, %d kept (%+v)", name, got.used, ref.used, ref)
				}
			}
			t.Logf("charges written: %d moved, %d kept", nMoved, nKept)
		})
	}
}

func wat(name string) func(testing.TB) []byte {
	return func(tb testing.TB) []byte { return wasmtest.WAT(tb, name) }
}

func toolchain(name string) func(testing.TB) []byte {
	return func(tb testing.TB) []byte { return toolchainModule(tb, name) }
}
