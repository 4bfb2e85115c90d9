package ccl_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"testing"

	"github.com/intercooperative-network/icn-go/ccl"
	"github.com/intercooperative-network/icn-go/services/wasm"
)

// TestCompileWASI runs WASI commands made by CompileWASI as ordinary
// jobs: the result on stdout, a trap on stderr with exit code 1.
func TestCompileWASI(t *testing.T) {
	e, err := wasm.New()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	loops, err := os.ReadFile("testdata/corpus/loops.ccl")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, src      string
		stdout, stderr string
		exit           uint32
	}{
		{name: "corpus loops", src: string(loops), stdout: "5530\n"},
		{name: "zero", src: `fn run() -> Integer { return 0; }`, stdout: "0\n"},
		{name: "negative", src: `fn run() -> Integer { return -42; }`, stdout: "-42\n"},
		{name: "max", src: `fn run() -> Integer { return 9223372036854775807; }`, stdout: "9223372036854775807\n"},
		{name: "min", src: `fn run() -> Integer { return -9223372036854775808; }`, stdout: "-9223372036854775808\n"},
		{name: "arrays", src: `fn run() -> Integer { let s = 0; for x in [1, 2, 3] { s = s * 10 + x; } let a = [s, s]; return a[1] + len(a); }`,
			stdout: "125\n"},
		{name: "overflow", src: `fn run() -> Integer { let x = 9223372036854775807; return x + 1; }`, stderr: "trap overflow\n", exit: 1},
		{name: "require", src: `fn run() -> Integer { require(1 > 2, "one is not more than two"); return 1; }`,
			stderr: "trap require_failed: one is not more than two\n", exit: 1},
		{name: "require without message", src: `fn run() -> Integer { require(false); return 1; }`, stderr: "trap require_failed\n", exit: 1},
		{name: "index", src: `fn run() -> Integer { let i = 5; return [1][i]; }`, stderr: "trap index_out_of_bounds\n", exit: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := ccl.CompileWASI("job.ccl", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			again, _ := ccl.CompileWASI("job.ccl", []byte(tc.src))
			if !bytes.Equal(out.WASM, again.WASM) {
				t.Error("two compilations differ")
			}
			validate(t, out.WASM)
			r, err := e.Run(context.Background(), wasm.Job{Module: out.WASM, Limits: wasm.Limits{Fuel: 10_000_000}})
			if err != nil {
				t.Fatal(err)
			}
			if string(r.Stdout) != tc.stdout || string(r.Stderr) != tc.stderr || r.ExitCode != tc.exit {
				t.Errorf("stdout %q stderr %q exit %d; want %q %q %d", r.Stdout, r.Stderr, r.ExitCode, tc.stdout, tc.stderr, tc.exit)
			}
		})
	}
	for _, tc := range []struct{ src, want string }{
		{`fn run() -> Integer { return member_count(); }`, "job.ccl:1:1: a WASI command cannot call the host function member_count: a job has no snapshot"},
		{`policy passes() -> Bool { return true; }`, "job.ccl:1:1: a WASI command needs fn run() -> Integer"},
		{`fn run() -> Integer { return true; }`, "job.ccl:1:30: wrong return type: run returns Integer, not Bool"},
	} {
		_, err := ccl.CompileWASI("job.ccl", []byte(tc.src))
		if l, ok := errors.AsType[ccl.ErrorList](err); !ok || l[0].Error() != tc.want {
			t.Errorf("%s: %v, want %s", tc.src, err, tc.want)
		}
	}
}
