package ccl

import (
	"github.com/intercooperative-network/icn-go/ccl/wasmenc"
)

// Version is the compiler's version, to be recorded next to what it
// compiled: the same source and Version give byte-identical WebAssembly.
// Change it whenever the output for some source changes.
const Version = "ccl-go/1.0.0"

// MaxSourceBytes is the largest source Compile accepts.
const MaxSourceBytes = 1 << 20

// Output is a compiled program.
type Output struct {
	// WASM is the module: no start function, one memory of at most
	// MaxMemoryPages pages, imports from HostModule only.
	WASM []byte
	// Exports are the exported functions (policies and run), in source
	// order.
	Exports []Export
	// Imports are the host functions the module imports, in import order
	// (the order of HostFuncs).
	Imports []string
}

// Export is an exported function: its CCL signature and the WebAssembly
// signature the runtime calls it with.
type Export struct {
	Name   string
	Params []Param
	Result Type
	// WasmParams and WasmResults are the export's signature.
	WasmParams, WasmResults []wasmenc.ValType
}

// Param is a named parameter.
type Param struct {
	Name string
	Type Type
}

// Compile compiles a CCL program. filename is used in error positions
// only. On error it returns a nil Output and an ErrorList with every
// error found, in source order (the syntax errors only, when there are
// any).
func Compile(filename string, src []byte) (*Output, error) {
	f, errs := front(filename, src)
	if len(errs) > 0 {
		return nil, errs
	}
	all := HostFuncs()
	names := make([]string, len(all))
	for i, h := range all {
		names[i] = h.Name
	}
	// Import indices come first in the index space, so the generator runs
	// twice: once importing everything to learn what the code calls, then
	// importing exactly that.
	_, used, errs := generate(f, all, names)
	if len(errs) > 0 {
		return nil, errs
	}
	var imports []string
	for _, n := range names {
		if used[n] {
			imports = append(imports, n)
		}
	}
	mod, used2, _ := generate(f, all, imports)
	if len(used2) != len(imports) {
		panic("ccl: the two generator passes disagree") // a bug
	}
	out := &Output{WASM: mod.Encode(), Imports: imports}
	for _, fd := range f.funcs {
		if !fd.export {
			continue
		}
		ex := Export{Name: fd.name, Result: fd.rt}
		for _, p := range fd.params {
			ex.Params = append(ex.Params, Param{Name: p.name, Type: p.v.t})
		}
		ex.WasmParams, ex.WasmResults = internalSig(fd)
		out.Exports = append(out.Exports, ex)
	}
	return out, nil
}

// Check parses and checks a program without generating code; the error
// is an ErrorList, as Compile's.
func Check(filename string, src []byte) error {
	if _, errs := front(filename, src); len(errs) > 0 {
		return errs
	}
	return nil
}

// front parses and checks.
func front(filename string, src []byte) (*file, ErrorList) {
	if len(src) > MaxSourceBytes {
		return nil, ErrorList{{Pos: Pos{Filename: filename, Line: 1, Col: 1},
			Msg: "the source is larger than the limit of 1 MiB"}}
	}
	f, errs := parse(filename, src)
	if len(errs) > 0 {
		return nil, errs
	}
	if errs := check(f); len(errs) > 0 {
		return nil, errs
	}
	return f, nil
}
