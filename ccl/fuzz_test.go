package ccl

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/intercooperative-network/icn-go/services/wasm/fuel"
)

// FuzzParse checks the front end on any input: parsing and checking never
// panic, every error has a position inside the input whose line and column
// agree with its offset, and a program that checks compiles to a module
// that wazero validates before and after fuel instrumentation. Seed
// corpus: testdata/fuzz/FuzzParse and testdata/corpus.
func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join("testdata", "corpus", "*.ccl"))
	for _, name := range files {
		if src, err := os.ReadFile(name); err == nil {
			f.Add(src)
		}
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	f.Cleanup(func() { _ = rt.Close(ctx) })
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > 1<<16 {
			return
		}
		_, perrs := parse("f.ccl", src)
		checkPositions(t, src, perrs)
		out, err := Compile("f.ccl", src)
		if err != nil {
			list, ok := errors.AsType[ErrorList](err)
			if !ok || len(list) == 0 {
				t.Fatalf("Compile error %v (%T) is not a non-empty ErrorList", err, err)
			}
			checkPositions(t, src, list)
			if len(perrs) > 0 && list.Error() != perrs.Error() {
				t.Fatalf("syntax errors %v, but Compile says %v", perrs, list)
			}
			return
		}
		if len(perrs) > 0 {
			t.Fatalf("parse errors %v, but Compile succeeded", perrs)
		}
		again, err := Compile("f.ccl", src)
		if err != nil || !bytes.Equal(again.WASM, out.WASM) {
			t.Fatalf("a second compilation differs (%v)", err)
		}
		if cm, err := rt.CompileModule(ctx, out.WASM); err != nil {
			t.Fatalf("wazero rejects the output: %v", err)
		} else {
			_ = cm.Close(ctx)
		}
		m, err := fuel.Instrument(out.WASM)
		if err != nil {
			t.Fatalf("fuel.Instrument: %v", err)
		}
		if cm, err := rt.CompileModule(ctx, m.Binary); err != nil {
			t.Fatalf("wazero rejects the instrumented output: %v", err)
		} else {
			_ = cm.Close(ctx)
		}
	})
}

func checkPositions(t *testing.T, src []byte, errs ErrorList) {
	t.Helper()
	for _, e := range errs {
		p := e.Pos
		if e.Msg == "" || p.Filename != "f.ccl" || p.Offset < 0 || p.Offset > len(src) {
			t.Fatalf("error %q: bad position %+v for %d bytes", e.Msg, p, len(src))
		}
		line := 1 + bytes.Count(src[:p.Offset], []byte("\n"))
		col := p.Offset - (bytes.LastIndexByte(src[:p.Offset], '\n') + 1) + 1
		if p.Line != line || p.Col != col {
			t.Fatalf("error %v: offset %d is at %d:%d", e, p.Offset, line, col)
		}
	}
}
