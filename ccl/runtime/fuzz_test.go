package runtime_test

import (
	"context"
	"errors"
	"testing"

	"github.com/intercooperative-network/icn-go/ccl"
	"github.com/intercooperative-network/icn-go/ccl/runtime"
	"github.com/intercooperative-network/icn-go/ccl/wasmenc"
)

// FuzzLoad feeds Load arbitrary bytes: it never panics, and what it
// refuses is a typed *runtime.Error.
func FuzzLoad(f *testing.F) {
	for _, src := range []string{supermajority, `fn run() -> Integer { return 1; }`,
		`policy seat(i: Integer) -> Did { return member_at(i); }`} {
		out, err := ccl.Compile("f.ccl", []byte(src))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(out.WASM)
	}
	f.Add(handMade("wasi_snapshot_preview1", "fd_write", nil, []wasmenc.ValType{wasmenc.I64}))
	f.Add([]byte("\x00asm\x01\x00\x00\x00"))
	r, err := runtime.New()
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = r.Close(context.Background()) })
	f.Fuzz(func(t *testing.T, bin []byte) {
		if _, err := r.Load(bin); err != nil {
			if _, ok := errors.AsType[*runtime.Error](err); !ok {
				t.Fatalf("Load: an untyped error %v", err)
			}
		}
	})
}
