package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/intercooperative-network/icn-go/ccl"
	"github.com/intercooperative-network/icn-go/ccl/wasmenc"
	"github.com/intercooperative-network/icn-go/services/wasm"
)

const examples = "../../examples/ccl/"

func TestCCLCommands(t *testing.T) {
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{name: "check ok", args: []string{"ccl", "check", examples + "supermajority_2_3.ccl"},
			stdout: "ok " + examples + "supermajority_2_3.ccl\npolicy passes() -> Bool\npolicy vetoed() -> Bool\nimports: member_count, vote_count, votes_cast, trap\n"},
		{name: "check json", args: []string{"-o", "json", "ccl", "check", examples + "rotating_council.ccl"},
			stdout: `{
  "file": "../../examples/ccl/rotating_council.ccl",
  "compiler_version": "ccl-go/1.0.0",
  "exports": [
    {
      "name": "seat",
      "params": [
        {
          "name": "index",
          "type": "Integer"
        }
      ],
      "result": "Did"
    }
  ],
  "imports": [
    "member_count",
    "member_at",
    "now",
    "trap",
    "result"
  ]
}
`},
		{name: "check error", args: []string{"ccl", "check", examples + "errors/timestamp_plus_timestamp.ccl"}, code: exitError,
			stderr: examples + "errors/timestamp_plus_timestamp.ccl:3:16: invalid operation: Timestamp + Timestamp (add a Duration to a Timestamp, or subtract two Timestamps to get a Duration)\n" +
				"icnctl: " + examples + "errors/timestamp_plus_timestamp.ccl: 1 compile error\n"},
		{name: "check missing file", args: []string{"ccl", "check", examples + "nope.ccl"}, code: exitError,
			stderr: "icnctl: open " + examples + "nope.ccl: no such file or directory\n"},
		{name: "check without a file", args: []string{"ccl", "check"}, code: exitUsage,
			stderr: "icnctl: accepts 1 arg(s), received 0\nRun 'icnctl ccl check --help' for usage.\n"},
		{name: "run passes", args: []string{"ccl", "run", examples + "consent.ccl", "--entry", "passes", "--snapshot", examples + "snapshots/circle_delegated.json"},
			stdout: "result: true (Bool)\nfuel used: 88\n"},
		{name: "run price", args: []string{"ccl", "run", examples + "mana_pricing.ccl", "--entry", "price", "--arg", "1500", "--arg", "128", "--arg", "2000"},
			stdout: "result: 9 (Integer)\nfuel used: 334\n"},
		{name: "run seat", args: []string{"ccl", "run", examples + "rotating_council.ccl", "--entry", "seat", "--snapshot", examples + "snapshots/council_day_65.json", "--arg", "0"},
			stdout: "result: did:key:z6MkCarol (Did)\nfuel used: 166\n"},
		{name: "run eligible", args: []string{"ccl", "run", examples + "eligibility.ccl", "--entry", "eligible", "--snapshot", examples + "snapshots/coop.json", "--arg", "did:key:z6MkAlice"},
			stdout: "result: true (Bool)\nfuel used: 125\n"},
		{name: "run run", args: []string{"ccl", "run", examples + "loops_arrays.ccl"},
			stdout: "result: 5530 (Integer)\nfuel used: 3249\n"},
		{name: "run json", args: []string{"-o", "json", "ccl", "run", examples + "loops_arrays.ccl"},
			stdout: "{\n  \"entry\": \"run\",\n  \"result\": 5530,\n  \"type\": \"Integer\",\n  \"fuel_used\": 3249\n}\n"},
		{name: "run require_failed", args: []string{"ccl", "run", examples + "rotating_council.ccl", "--entry", "seat", "--snapshot", examples + "snapshots/council_empty.json", "--arg", "0"},
			code: exitError, stdout: "fuel used: 168\n", stderr: "icnctl: trap require_failed: no members\n"},
		{name: "run trap json", args: []string{"-o", "json", "ccl", "run", examples + "treasury_budget.ccl", "--entry", "passes", "--snapshot", examples + "snapshots/treasury_no_amount.json"},
			code: exitError, stdout: "{\n  \"entry\": \"passes\",\n  \"trap\": {\n    \"kind\": \"missing_param\",\n    \"message\": \"amount\"\n  },\n  \"fuel_used\": 110\n}\n",
			stderr: "icnctl: trap missing_param: amount\n"},
		{name: "run divide_by_zero", args: []string{"ccl", "run", examples + "arithmetic_traps.ccl", "--entry", "div_by_zero", "--arg", "0"},
			code: exitError, stdout: "fuel used: 36\n", stderr: "icnctl: trap divide_by_zero\n"},
		{name: "run fuel_exhausted", args: []string{"ccl", "run", examples + "arithmetic_traps.ccl", "--fuel", "5000"},
			code: exitError, stdout: "fuel used: 5004\n", stderr: "icnctl: trap fuel_exhausted\n"},
		{name: "run compile error", args: []string{"ccl", "run", examples + "errors/missing_semicolon.ccl"}, code: exitError,
			stderr: examples + "errors/missing_semicolon.ccl:3:11: expected ';' after the let statement, found 'return'\n" +
				"icnctl: " + examples + "errors/missing_semicolon.ccl: 1 compile error\n"},
		{name: "run bad arg", args: []string{"ccl", "run", examples + "mana_pricing.ccl", "--entry", "price", "--arg", "x", "--arg", "1", "--arg", "2"},
			code: exitUsage, stderr: "icnctl: --arg 1: \"x\": want a whole number (Integer)\nRun 'icnctl ccl run --help' for usage.\n"},
		{name: "run missing arg", args: []string{"ccl", "run", examples + "mana_pricing.ccl", "--entry", "price", "--arg", "1"},
			code: exitUsage, stderr: "icnctl: price takes 3 arguments (--arg), got 1\nRun 'icnctl ccl run --help' for usage.\n"},
		{name: "run unknown entry", args: []string{"ccl", "run", examples + "supermajority_2_3.ccl", "--entry", "seat"},
			code: exitUsage, stderr: "icnctl: --entry \"seat\": ../../examples/ccl/supermajority_2_3.ccl has the entry points passes, vetoed\nRun 'icnctl ccl run --help' for usage.\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCmd(t, tc.args...)
			if r.code != tc.code || r.stdout != tc.stdout || r.stderr != tc.stderr {
				t.Errorf("icnctl %v:\ncode %d, want %d\nstdout:\n%s\nwant:\n%s\nstderr:\n%s\nwant:\n%s", tc.args, r.code, tc.code, r.stdout, tc.stdout, r.stderr, tc.stderr)
			}
		})
	}
}

func TestCCLCompile(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "consent.ccl")
	b, err := os.ReadFile(examples + "consent.ccl")
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, src, string(b))
	want, err := ccl.Compile(src, b)
	if err != nil {
		t.Fatal(err)
	}

	// The default output is next to the source.
	r := runCmd(t, "ccl", "compile", src)
	wasmPath := filepath.Join(dir, "consent.wasm")
	const sum = "1fe6e095cb9e98570a22a3423669651a038db8df6e244c0a9184d22ac58e0529" // testdata/corpus.golden of package ccl
	wantOut := "wrote " + wasmPath + ": 271 bytes, sha256 " + sum + " (ccl-go/1.0.0)\npolicy passes() -> Bool\nimports: member_count, vote_count, votes_cast, trap\n"
	if r.code != 0 || r.stdout != wantOut || r.stderr != "" {
		t.Fatalf("compile: %d\n%s\nwant\n%s\n%s", r.code, r.stdout, wantOut, r.stderr)
	}
	got, err := os.ReadFile(wasmPath)
	if err != nil || !bytes.Equal(got, want.WASM) {
		t.Fatalf("the module differs from ccl.Compile's (%v)", err)
	}

	// -o names the file; the module runs as a .wasm.
	out := filepath.Join(dir, "out.wasm")
	if r := runCmd(t, "ccl", "compile", src, "-o", out); r.code != 0 {
		t.Fatalf("compile -o: %+v", r)
	}
	r = runCmd(t, "ccl", "run", out, "--entry", "passes", "--snapshot", examples+"snapshots/circle_objection.json")
	if r.code != 0 || r.stdout != "result: false (Bool)\nfuel used: 76\n" {
		t.Fatalf("run out.wasm: %+v", r)
	}

	// A compile error writes nothing.
	bad := filepath.Join(dir, "bad.ccl")
	writeFile(t, bad, "fn run() -> Integer { return true; }\n")
	r = runCmd(t, "ccl", "compile", bad)
	if r.code != exitError || r.stderr != bad+":1:30: wrong return type: run returns Integer, not Bool\nicnctl: "+bad+": 1 compile error\n" {
		t.Fatalf("compile error: %+v", r)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad.wasm")); !os.IsNotExist(err) {
		t.Fatalf("bad.wasm: %v", err)
	}

	// --wasi makes a job that prints run()'s result.
	job := filepath.Join(dir, "job.wasm")
	r = runCmd(t, "ccl", "compile", "--wasi", examples+"loops_arrays.ccl", "-o", job)
	if r.code != 0 || !strings.HasSuffix(r.stdout, " (ccl-go/1.0.0)\na WASI command: _start prints the result of run()\n") {
		t.Fatalf("compile --wasi: %+v", r)
	}
	bin, err := os.ReadFile(job)
	if err != nil {
		t.Fatal(err)
	}
	e, err := wasm.New()
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = e.Close(context.Background()) }()
	res, err := e.Run(context.Background(), wasm.Job{Module: bin, Limits: wasm.Limits{Fuel: 1_000_000}})
	if err != nil || string(res.Stdout) != "5530\n" || res.ExitCode != 0 {
		t.Fatalf("the WASI job: %q %q %d %v", res.Stdout, res.Stderr, res.ExitCode, err)
	}
	r = runCmd(t, "ccl", "compile", "--wasi", examples+"consent.ccl", "-o", job)
	if r.code != exitError || r.stderr != examples+"consent.ccl:1:1: a WASI command needs fn run() -> Integer\nicnctl: "+examples+"consent.ccl: 1 compile error\n" {
		t.Fatalf("compile --wasi consent: %+v", r)
	}

	// A module importing WASI is refused before it runs.
	m := &wasmenc.Module{}
	ti := m.TypeIndex(wasmenc.FuncType{Params: []wasmenc.ValType{wasmenc.I32}})
	run := m.TypeIndex(wasmenc.FuncType{Results: []wasmenc.ValType{wasmenc.I64}})
	m.Imports = []wasmenc.Import{{Module: "wasi_snapshot_preview1", Name: "proc_exit", Type: ti}}
	m.Funcs = []wasmenc.Func{{Type: run, Body: []byte{0x42, 0x07, 0x0b}}}
	m.Memory = &wasmenc.Memory{Min: 1, Max: 1}
	m.Exports = []wasmenc.Export{{Name: "run", Kind: wasmenc.ExportFunc, Index: 1}}
	wasi := filepath.Join(dir, "wasi.wasm")
	if err := os.WriteFile(wasi, m.Encode(), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runCmd(t, "ccl", "run", wasi)
	if r.code != exitError || r.stderr != "icnctl: forbidden_import: wasi_snapshot_preview1.proc_exit: only the \"icn\" host module is linked\n" {
		t.Fatalf("run wasi.wasm: %+v", r)
	}
}
