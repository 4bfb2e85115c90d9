package fuel_test

import (
	"os"
	"path/filepath"
	"testing"
)

// toolchainDir holds modules built by other compilers than Go's, committed
// with their sources and build.sh (see its README.md).
var toolchainDir = filepath.Join("testdata", "toolchains")

// toolchainSeeds are the modules of toolchainDir small enough to be seeds
// of FuzzInstrument, as toolchain-NAME.
var toolchainSeeds = []string{"c-o2", "c-o2-features", "c-o2-multivalue"}

func toolchainModule(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(toolchainDir, name+".wasm"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestToolchainDifferential: modules built by rustc and clang for
// wasm32-wasi, with and without the post-MVP features, are accepted by
// Instrument and, instrumented, print the same, exit the same and trap the
// same as on bare wazero, use the same fuel twice, and complete with
// exactly that fuel but not one unit less.
func TestToolchainDifferential(t *testing.T) {
	type input struct {
		stdin   string
		exit    uint32
		trapped bool
	}
	rust := []input{
		{stdin: "words 3"},
		{stdin: "stats 40"},
		{stdin: "primes 500"},
		{stdin: "exit 3", exit: 3},
		{stdin: "panic 7", trapped: true}, // a panic aborts: unreachable
		{stdin: "words x", exit: 2},
	}
	c := []input{
		{stdin: "sort 300"},
		{stdin: "hash 16"},
		{stdin: "mem 8"},
		{stdin: "exit 5", exit: 5},
		{stdin: "nothing", exit: 2},
	}
	r := newRunner(t)
	for _, tc := range []struct {
		module string
		inputs []input
	}{
		{"rust-o2", rust},
		{"rust-o0", rust},
		{"rust-o2-features", rust},
		{"c-o2", c},
		{"c-o2-features", c},
		{"c-o2-multivalue", c},
	} {
		t.Run(tc.module, func(t *testing.T) {
			src := toolchainModule(t, tc.module)
			bin := instrument(t, src)
			for _, in := range tc.inputs {
				t.Run(in.stdin, func(t *testing.T) {
					stdin := []byte(in.stdin)
					want := r.run(t, src, stdin, false, 0)
					// Only the failures print nothing (to stdout).
					if want.exit != in.exit || want.trapped != in.trapped || (want.stdout == "") != (in.exit == 2 || in.trapped) {
						t.Fatalf("original: %+v", want)
					}
					got := r.run(t, bin, stdin, true, 1<<40)
					if got.stdout != want.stdout || got.exit != want.exit || got.trapped != want.trapped || got.oof {
						t.Fatalf("instrumented %+v, original %+v", got, want)
					}
					again := r.run(t, bin, stdin, true, 1<<40)
					if again.used != got.used || got.used == 0 {
						t.Fatalf("fuel used %d then %d", got.used, again.used)
					}
					exact := r.run(t, bin, stdin, true, got.used)
					if exact.oof || exact.stdout != want.stdout || exact.used != got.used {
						t.Fatalf("with exactly %d fuel: %+v", got.used, exact)
					}
					short := r.run(t, bin, stdin, true, got.used-1)
					if !short.oof {
						t.Fatalf("with %d fuel (one short) it did not run out: %+v", got.used-1, short)
					}
					t.Logf("fuel %d, exit %d, trapped %v, stdout %q", got.used, got.exit, got.trapped, got.stdout)
				})
			}
		})
	}
}

// TestFuzzSeedsHoldTheToolchainModules keeps the seeds toolchain-NAME of
// FuzzInstrument equal to toolchainDir's NAME.wasm for the modules of
// toolchainSeeds, and no other (-update-seeds rewrites them, as for the
// WAT corpus). The Rust modules, of 200 KB and more, are not seeds.
func TestFuzzSeedsHoldTheToolchainModules(t *testing.T) {
	modules := map[string][]byte{}
	for _, name := range toolchainSeeds {
		modules[name] = toolchainModule(t, name)
	}
	checkSeeds(t, "toolchain-", modules, toolchainDir)
}
