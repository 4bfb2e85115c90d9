package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/intercooperative-network/icn-go/ccl"
	"github.com/intercooperative-network/icn-go/ccl/runtime"
)

// check, compile and run work locally: they compile with package ccl and
// run with ccl/runtime, and never talk to a node. publish and eval
// (ccl_node.go) are the node's.

func (a *app) cclCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "ccl",
		Short: "CCL contracts: check, compile and run locally; publish to a node and evaluate there",
		Long: `ccl works on Cooperative Contract Language programs. check, compile and run
work on this machine, with no node; publish and eval use a node's contracts
API with the api token. The language, the host functions, the traps and
the snapshot format are described in docs/ccl.md.

Compile errors are printed one a line as file:line:col: message (exit 1).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.cclCheckCmd(), a.cclCompileCmd(), a.cclRunCmd(), a.cclPublishCmd(), a.cclEvalCmd())
	return cmd
}

// compileFile reads and compiles a CCL file; compile errors are printed
// to w, one a line, and make the error.
func compileFile(w io.Writer, file string) (*ccl.Output, error) {
	return compileWith(w, file, ccl.Compile)
}

// compileWith is compileFile with another compiler (ccl.CompileWASI).
func compileWith(w io.Writer, file string, compile func(string, []byte) (*ccl.Output, error)) (*ccl.Output, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	out, err := compile(file, src)
	if list, ok := errors.AsType[ccl.ErrorList](err); ok {
		for _, e := range list {
			fmt.Fprintln(w, clean(e.Error()))
		}
		if len(list) == 1 {
			return nil, fmt.Errorf("%s: 1 compile error", file)
		}
		return nil, fmt.Errorf("%s: %d compile errors", file, len(list))
	}
	return out, err
}

// signature formats an export as CCL declares it.
func signature(ex ccl.Export) string {
	params := make([]string, len(ex.Params))
	for i, p := range ex.Params {
		params[i] = p.Name + ": " + p.Type.String()
	}
	kind := "policy"
	if ex.Name == "run" {
		kind = "fn"
	}
	return fmt.Sprintf("%s %s(%s) -> %s", kind, ex.Name, strings.Join(params, ", "), ex.Result)
}

// cclSummary is what check prints with -o json.
type cclSummary struct {
	File     string      `json:"file"`
	Compiler string      `json:"compiler_version"`
	Exports  []cclExport `json:"exports"`
	Imports  []string    `json:"imports"`
	WASM     *cclWASM    `json:"wasm,omitempty"`
}

type cclExport struct {
	Name   string     `json:"name"`
	Params []cclParam `json:"params"`
	Result string     `json:"result"`
}

type cclParam struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type cclWASM struct {
	Path   string `json:"path"`
	Bytes  int    `json:"bytes"`
	SHA256 string `json:"sha256"`
}

func summarize(file string, out *ccl.Output) cclSummary {
	s := cclSummary{File: file, Compiler: ccl.Version, Exports: []cclExport{}, Imports: out.Imports}
	if s.Imports == nil {
		s.Imports = []string{}
	}
	for _, ex := range out.Exports {
		e := cclExport{Name: ex.Name, Params: []cclParam{}, Result: ex.Result.String()}
		for _, p := range ex.Params {
			e.Params = append(e.Params, cclParam{Name: p.Name, Type: p.Type.String()})
		}
		s.Exports = append(s.Exports, e)
	}
	return s
}

func renderSummary(w io.Writer, out *ccl.Output) {
	for _, ex := range out.Exports {
		fmt.Fprintln(w, signature(ex))
	}
	imports := "none"
	if len(out.Imports) > 0 {
		imports = strings.Join(out.Imports, ", ")
	}
	fmt.Fprintf(w, "imports: %s\n", imports)
}

func (a *app) cclCheckCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "check FILE",
		Short: "Parse and type-check a CCL program: its errors with positions, or its entry points and imports",
		Long: `check compiles FILE and prints either every compile error, one a line as
file:line:col: message (exit 1), or "ok FILE", the exported entry points
with their signatures and the host functions the module imports.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			out, err := compileFile(cmd.ErrOrStderr(), args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if a.json() {
				return writeValue(w, summarize(args[0], out))
			}
			fmt.Fprintf(w, "ok %s\n", clean(args[0]))
			renderSummary(w, out)
			return nil
		},
	}
}

func (a *app) cclCompileCmd() *cobra.Command {
	var (
		outPath string
		wasi    bool
	)
	cmd := &cobra.Command{
		Use:   "compile FILE [-o out.wasm] [--wasi]",
		Short: "Compile a CCL program to a WebAssembly module",
		Long: `compile writes FILE's module to out.wasm (default: FILE with the extension
.wasm) and prints its path, size and SHA-256. The same source and compiler
version always give the same bytes.

With --wasi the module is a WASI preview 1 command, to be submitted as an
ordinary mesh job: its _start calls fn run() -> Integer and prints the
result and a newline on standard output; a trap prints "trap KIND[: message]"
on standard error and exits with code 1. Such a program may call no host
function (a job has no snapshot).

Here -o names the output file; the output format of the other commands
does not apply.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			compile := ccl.Compile
			if wasi {
				compile = ccl.CompileWASI
			}
			out, err := compileWith(cmd.ErrOrStderr(), args[0], compile)
			if err != nil {
				return err
			}
			if outPath == "" {
				outPath = strings.TrimSuffix(args[0], filepath.Ext(args[0])) + ".wasm"
			}
			if err := os.WriteFile(outPath, out.WASM, 0o644); err != nil {
				return err
			}
			sum := sha256.Sum256(out.WASM)
			w := cmd.OutOrStdout()
			fmt.Fprintf(w, "wrote %s: %d bytes, sha256 %s (%s)\n", clean(outPath), len(out.WASM), hex.EncodeToString(sum[:]), ccl.Version)
			if wasi {
				fmt.Fprintln(w, "a WASI command: _start prints the result of run()")
				return nil
			}
			renderSummary(w, out)
			return nil
		},
	}
	// The same name as the global --output, so that it shadows it here.
	cmd.Flags().StringVarP(&outPath, "output", "o", "", "the module's file (default: FILE with .wasm)")
	cmd.Flags().BoolVar(&wasi, "wasi", false, "make a WASI command whose _start prints the result of run()")
	return cmd
}

// cclRunResult is what run prints with -o json.
type cclRunResult struct {
	Entry    string   `json:"entry"`
	Result   any      `json:"result,omitempty"`
	Type     string   `json:"type,omitempty"`
	Trap     *cclTrap `json:"trap,omitempty"`
	FuelUsed uint64   `json:"fuel_used"`
}

type cclTrap struct {
	Kind    string `json:"kind"`
	Message string `json:"message,omitempty"`
}

// jsonValue is a value as JSON: a number, a bool or a string.
func jsonValue(v runtime.Value) any {
	switch v.Type {
	case ccl.Integer, ccl.Timestamp, ccl.Duration:
		return v.Int
	case ccl.Bool:
		return v.Bool
	}
	return v.Str
}

func (a *app) cclRunCmd() *cobra.Command {
	var (
		entry, snapPath string
		cliArgs         []string
		fuel            uint64
	)
	cmd := &cobra.Command{
		Use:   "run FILE --entry NAME [--snapshot snapshot.json] [--arg VALUE]...",
		Short: "Run an entry point of a CCL program (or of a compiled .wasm) against a snapshot, locally",
		Long: `run compiles FILE (or loads it, when it ends in .wasm: then only the
entry points the runtime knows, eligible, passes, vetoed, price, seat and
run, can be called), calls --entry with the --arg values (one per
parameter, in order: a whole number, true or false, a DID, or text) against
the --snapshot (JSON, see docs/ccl.md; default: empty), fuel-metered, and
prints the result and the fuel used.

A trap (require_failed, overflow, divide_by_zero, index_out_of_bounds,
missing_param, memory_limit, fuel_exhausted) prints the fuel used and exits
1 with the trap; a module importing anything outside the icn host table is
refused as forbidden_import.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			var snap *runtime.Frozen
			if snapPath != "" {
				b, err := os.ReadFile(snapPath)
				if err != nil {
					return err
				}
				if snap, err = runtime.ParseSnapshot(b); err != nil {
					return fmt.Errorf("%s: %w", snapPath, err)
				}
			}
			rt, err := runtime.New(runtime.WithFuel(fuel))
			if err != nil {
				return err
			}
			defer func() { _ = rt.Close(cmd.Context()) }()
			var p *runtime.Policy
			if strings.HasSuffix(file, ".wasm") {
				bin, err := os.ReadFile(file)
				if err != nil {
					return err
				}
				if p, err = rt.Load(bin); err != nil {
					return err
				}
			} else {
				out, err := compileFile(cmd.ErrOrStderr(), file)
				if err != nil {
					return err
				}
				if p, err = rt.LoadOutput(out); err != nil {
					return err
				}
			}
			e, ok := p.Entry(entry)
			if !ok {
				var names []string
				for _, e := range p.Entries() {
					names = append(names, e.Name)
				}
				return usageErrorf("--entry %q: %s has the entry points %s", entry, file, strings.Join(names, ", "))
			}
			if len(cliArgs) != len(e.Params) {
				return usageErrorf("%s takes %d arguments (--arg), got %d", entry, len(e.Params), len(cliArgs))
			}
			vals := make([]runtime.Value, len(cliArgs))
			for i, s := range cliArgs {
				v, err := runtime.ParseValue(e.Params[i], s)
				if err != nil {
					return usageErrorf("--arg %d: %v", i+1, err)
				}
				vals[i] = v
			}
			res, err := p.Call(cmd.Context(), entry, snap, vals...)
			trap, trapped := errors.AsType[*runtime.Trap](err)
			if err != nil && !trapped {
				return err
			}
			w := cmd.OutOrStdout()
			if a.json() {
				r := cclRunResult{Entry: entry, FuelUsed: res.FuelUsed}
				if trapped {
					r.Trap = &cclTrap{Kind: trap.Kind.String(), Message: trap.Message}
				} else {
					r.Result, r.Type = jsonValue(res.Value), res.Value.Type.String()
				}
				b, jerr := json.Marshal(r)
				if jerr != nil {
					return jerr
				}
				if werr := writeJSON(w, b); werr != nil {
					return werr
				}
			} else {
				if !trapped {
					fmt.Fprintf(w, "result: %s (%s)\n", clean(res.Value.String()), res.Value.Type)
				}
				fmt.Fprintf(w, "fuel used: %d\n", res.FuelUsed)
			}
			if trapped {
				return fmt.Errorf("trap %w", trap)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&entry, "entry", "run", "the entry point to call")
	f.StringVar(&snapPath, "snapshot", "", "the snapshot's JSON file (default: an empty snapshot)")
	f.StringArrayVar(&cliArgs, "arg", nil, "an argument of the entry point, in order (repeat the flag)")
	f.Uint64Var(&fuel, "fuel", runtime.DefaultFuel, "the fuel the call may use")
	return cmd
}
