package wasmtest_test

import (
	"context"
	"testing"

	"github.com/tetratelabs/wazero"
	"go.uber.org/goleak"

	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestShifted: a shifted module is valid whatever sections it has (with
// or without globals, imported or not), and it computes the same.
func TestShifted(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntime(ctx)
	t.Cleanup(func() { _ = rt.Close(ctx) })
	for _, name := range wasmtest.WATNames(t) {
		src := wasmtest.WAT(t, name)
		for _, k := range []int{0, 1, 7} {
			m, err := wasmtest.Shifted(src, k)
			if err != nil {
				t.Fatalf("%s, k=%d: %v", name, k, err)
			}
			if len(m) <= len(src) {
				t.Errorf("%s, k=%d: %d bytes, the original %d", name, k, len(m), len(src))
			}
			if _, err := rt.CompileModule(ctx, m); err != nil {
				t.Errorf("%s, k=%d: %v", name, k, err)
			}
		}
	}
	// The WAT corpus is WASI programs; this module's one function is
	// called directly.
	src := []byte("\x00asm\x01\x00\x00\x00" +
		"\x01\x06\x01\x60\x01\x7f\x01\x7f" + // type: (i32) -> i32
		"\x03\x02\x01\x00" + // one function of type 0
		"\x07\x07\x01\x03add\x00\x00" + // export "add"
		"\x0a\x09\x01\x07\x00\x20\x00\x41\x02\x6a\x0b") // local.get 0; i32.const 2; i32.add
	for _, k := range []int{0, 3} {
		m, err := wasmtest.Shifted(src, k)
		if err != nil {
			t.Fatal(err)
		}
		mod, err := rt.Instantiate(ctx, m)
		if err != nil {
			t.Fatalf("k=%d: %v", k, err)
		}
		got, err := mod.ExportedFunction("add").Call(ctx, 40)
		if err != nil || len(got) != 1 || got[0] != 42 {
			t.Errorf("k=%d: add(40) = %v, %v", k, got, err)
		}
		_ = mod.Close(ctx)
	}
	if _, err := wasmtest.Shifted([]byte("\x00asm"), 1); err == nil {
		t.Error("a truncated module was shifted")
	}
}
