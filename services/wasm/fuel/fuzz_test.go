package fuel_test

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/intercooperative-network/icn-go/services/wasm/fuel"
	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the wat-* seeds of testdata/fuzz/FuzzInstrument from the WAT corpus")

// FuzzInstrument checks that Instrument never panics, rejects only with a
// *ModuleError inside the input, and that for every input it accepts,
// wazero validates the output if and only if it validates the input
// (sameValidity). Instrument checks structure, not types, so it accepts
// some ill-typed inputs; the converse half of the property is what makes
// that safe: no invalid input becomes a valid module, in particular not one
// that names the globals, functions, type or locals the rewriter adds (an
// out-of-range index in the input). Seed corpus:
// testdata/fuzz/FuzzInstrument (the WAT corpus, small edge cases and the
// index attacks of TestOutOfRangeIndices).
func FuzzInstrument(f *testing.F) {
	ctx := context.Background()
	// Validation is the same in both engines; the interpreter compiles
	// faster.
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	f.Cleanup(func() { _ = rt.Close(ctx) })
	f.Fuzz(func(t *testing.T, in []byte) {
		m, err := fuel.Instrument(in)
		if err != nil {
			me, ok := errors.AsType[*fuel.ModuleError](err)
			if !ok || !errors.Is(err, fuel.ErrInvalidModule) {
				t.Fatalf("error %v (%T) is not a *ModuleError", err, err)
			}
			if me.Offset < 0 || me.Offset > len(in) || me.Reason == "" {
				t.Fatalf("error %v: offset outside the input of %d bytes", err, len(in))
			}
			return
		}
		if _, err := fuel.Instrument(m.Binary); err == nil || !strings.Contains(err.Error(), "reserved prefix") {
			t.Fatalf("instrumenting twice: %v", err)
		}
		sameValidity(t, rt, in, m.Binary)
	})
}

// TestFuzzSeedsHoldTheWATCorpus keeps the seeds wat-NAME of FuzzInstrument
// equal to the WAT corpus's NAME.wasm, one for each and no other (go test
// -run TestFuzzSeedsHoldTheWATCorpus -update-seeds rewrites them). The Go
// corpus is not a seed: it is built when the tests run, not committed, and
// weighs megabytes.
func TestFuzzSeedsHoldTheWATCorpus(t *testing.T) {
	modules := map[string][]byte{}
	for _, name := range wasmtest.WATNames(t) {
		modules[name] = wasmtest.WAT(t, name)
	}
	checkSeeds(t, "wat-", modules, "the WAT corpus")
}

// checkSeeds keeps the FuzzInstrument seeds prefix+NAME equal to
// modules[NAME], one for each and no other with that prefix; with
// -update-seeds it writes them first.
func checkSeeds(t *testing.T, prefix string, modules map[string][]byte, from string) {
	t.Helper()
	dir := filepath.Join("testdata", "fuzz", "FuzzInstrument")
	for name, module := range modules {
		data := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", module)
		path := filepath.Join(dir, prefix+name)
		if *updateSeeds {
			if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Errorf("%v (run with -update-seeds)", err)
			continue
		}
		if string(got) != data {
			t.Errorf("%s differs from %s.wasm (run with -update-seeds)", path, name)
		}
	}
	seeds, err := filepath.Glob(filepath.Join(dir, prefix+"*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range seeds {
		if _, ok := modules[strings.TrimPrefix(filepath.Base(p), prefix)]; !ok {
			t.Errorf("%s has no module in %s", p, from)
		}
	}
}

// sameValidity fails unless wazero validates both in and out or neither.
func sameValidity(t *testing.T, rt wazero.Runtime, in, out []byte) {
	ctx := context.Background()
	cm, err := rt.CompileModule(ctx, out)
	if err == nil {
		_ = cm.Close(ctx)
	}
	orig, oerr := rt.CompileModule(ctx, in)
	if oerr == nil {
		_ = orig.Close(ctx)
	}
	switch {
	case oerr == nil && err != nil:
		t.Fatalf("the input validates but its instrumented form does not: %v", err)
	case oerr != nil && err == nil && !wazeroRejectsEmptyCustomTail(oerr):
		t.Fatalf("the input does not validate (%v) but its instrumented form does", oerr)
	}
}

// wazeroRejectsEmptyCustomTail recognises wazero's (v1.12) refusal of a
// valid module whose last section is a custom section with nothing after
// its name: it reads the empty contents with bytes.Reader.Read, which
// returns io.EOF at the end of the module. The rewrite puts sections after
// it, and wazero accepts that: no invalid module made valid (seed
// wazero-empty-custom-tail). Instrument has checked the section sizes, so
// the message cannot come from a section that overruns the module.
func wazeroRejectsEmptyCustomTail(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "failed to read custom section name[") && strings.HasSuffix(msg, ": EOF")
}

// bodyModule wraps a function body (locals declaration, instructions and
// the final end) in a module that gives it something to work with: types
// () -> (), (i32) -> (i32) and (i32 i32) -> (i32), a memory, a funcref
// table holding both functions, a mutable i32 global, and a second
// function (i32) -> (i32) to call.
func bodyModule(body []byte) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	b = append(b, 1, 15, 3, 0x60, 0, 0, 0x60, 1, 0x7f, 1, 0x7f, 0x60, 2, 0x7f, 0x7f, 1, 0x7f) // types
	b = append(b, 3, 3, 2, 0, 1)                                                              // functions
	b = append(b, 4, 4, 1, 0x70, 0, 2)                                                        // table
	b = append(b, 5, 3, 1, 0, 1)                                                              // memory
	b = append(b, 6, 6, 1, 0x7f, 1, 0x41, 0, 0x0b)                                            // global
	b = append(b, 9, 8, 1, 0, 0x41, 0, 0x0b, 2, 0, 1)                                         // elements
	code := appendU32(nil, 2)
	code = appendU32(code, uint32(len(body)))
	code = append(code, body...)
	code = append(code, 4, 0, 0x20, 0, 0x0b)
	b = append(b, 10)
	b = appendU32(b, uint32(len(code)))
	return append(b, code...)
}

func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// FuzzInstrumentBody is FuzzInstrument with the fuzzer's bytes as the body
// of a function in a valid module, so that most inputs decode and many
// validate: it exercises the rewriting of control flow and the index
// checks in code (the module's global is 0, so global 1 would be the fuel
// bank; its functions are 0 and 1, so function 2 would be the refill).
// Seed corpus: testdata/fuzz/FuzzInstrumentBody.
func FuzzInstrumentBody(f *testing.F) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	f.Cleanup(func() { _ = rt.Close(ctx) })
	f.Fuzz(func(t *testing.T, body []byte) {
		in := bodyModule(body)
		m, err := fuel.Instrument(in)
		if err != nil {
			if _, ok := errors.AsType[*fuel.ModuleError](err); !ok {
				t.Fatalf("error %v (%T) is not a *ModuleError", err, err)
			}
			return
		}
		sameValidity(t, rt, in, m.Binary)
	})
}
