package ccl

import (
	"fmt"

	"github.com/intercooperative-network/icn-go/ccl/wasmenc"
)

// WASIModule is the module a WASI command made by CompileWASI imports
// from (its only imports: fd_write and proc_exit).
const WASIModule = "wasi_snapshot_preview1"

// wasiScratch is the size of the scratch area of a WASI command: four
// iovecs, the count fd_write writes, and the digits of an i64.
const wasiScratch = 64

// wasiFuncs are the function indices and addresses of a WASI command.
type wasiFuncs struct {
	fdWrite, procExit, trap uint32
	scratch                 uint32 // the scratch area's address
}

// CompileWASI compiles a whole program (fn run() -> Integer) to a WASI
// preview 1 command, to be run as an ordinary mesh job: its _start calls
// run and prints the result in decimal and a newline on standard output.
// A trap prints "trap KIND[: message]" and a newline on standard error and
// exits with code 1. The program may call no host function: a job has no
// snapshot. The output is deterministic, as Compile's; Output.Imports is
// empty (the module imports WASI's fd_write and proc_exit only).
func CompileWASI(filename string, src []byte) (*Output, error) {
	f, errs := front(filename, src)
	if len(errs) > 0 {
		return nil, errs
	}
	var run *funcDecl
	for _, fd := range f.funcs {
		if fd.name == "run" && fd.export {
			run = fd
		}
	}
	if run == nil || len(run.params) != 0 || run.rt != Integer {
		return nil, ErrorList{{Pos: Pos{Filename: filename, Line: 1, Col: 1},
			Msg: "a WASI command needs fn run() -> Integer"}}
	}
	all := HostFuncs()
	names := make([]string, len(all))
	for i, h := range all {
		names[i] = h.Name
	}
	_, used, errs := generate(f, all, names)
	if len(errs) > 0 {
		return nil, errs
	}
	for _, n := range names {
		if used[n] && n != "trap" {
			return nil, ErrorList{{Pos: run.pos,
				Msg: fmt.Sprintf("a WASI command cannot call the host function %s: a job has no snapshot", n)}}
		}
	}
	mod, _, errs := generateMode(f, all, nil, true)
	if len(errs) > 0 {
		return nil, errs
	}
	ex := Export{Name: "run", Result: Integer}
	ex.WasmParams, ex.WasmResults = internalSig(run)
	return &Output{WASM: mod.Encode(), Exports: []Export{ex}}, nil
}

// wasiPrologue imports fd_write and proc_exit and defines trap, the
// functions right after the (no) icn imports.
func (g *gen) wasiPrologue() {
	i32 := wasmenc.I32
	w := &wasiFuncs{fdWrite: g.nextFn, procExit: g.nextFn + 1, trap: g.nextFn + 2}
	g.wasi = w
	t := g.mod.TypeIndex(wasmenc.FuncType{Params: []wasmenc.ValType{i32, i32, i32, i32}, Results: []wasmenc.ValType{i32}})
	g.mod.Imports = append(g.mod.Imports, wasmenc.Import{Module: WASIModule, Name: "fd_write", Type: t})
	t = g.mod.TypeIndex(wasmenc.FuncType{Params: []wasmenc.ValType{i32}})
	g.mod.Imports = append(g.mod.Imports, wasmenc.Import{Module: WASIModule, Name: "proc_exit", Type: t})
	g.nextFn += 3

	w.scratch = g.addData(make([]byte, wasiScratch), 8)
	// The names of the trap codes 0 to 7, and a table of (address,
	// length) by code.
	const codes = 8
	var table []byte
	for c := range codes {
		name := "trap " + TrapCode(c).String()
		table = le32(le32(table, g.addData([]byte(name), 1)), uint32(len(name)))
	}
	tbl := g.addData(table, 8)
	colon, nl := g.addData([]byte(": "), 1), g.addData([]byte("\n"), 1)

	// trap(code, msg, len): write "trap NAME[: msg]\n" to stderr, exit 1.
	params := []wasmenc.ValType{i32, i32, i32}
	f := g.newFunc(params)
	c, s := &f.c, int32(w.scratch)
	c.LocalGet(0)
	c.I32Const(codes)
	c.Op(wasmenc.OpI32GeU)
	c.Block(wasmenc.OpIf, wasmenc.BlockEmpty)
	c.I32Const(0)
	c.LocalSet(0)
	c.Op(wasmenc.OpEnd)
	c.I32Const(s) // iovec 0: the name
	c.LocalGet(0)
	c.I32Const(3)
	c.Op(wasmenc.OpI32Shl)
	c.Mem(wasmenc.OpI64Load, 3, tbl)
	c.Mem(wasmenc.OpI64Store, 3, 0)
	c.I32Const(s) // iovec 1: ": " when there is a message
	c.I32Const(int32(colon))
	c.Mem(wasmenc.OpI32Store, 2, 8)
	c.I32Const(s)
	c.LocalGet(2)
	c.I32Const(0)
	c.Op(wasmenc.OpI32Ne)
	c.I32Const(1)
	c.Op(wasmenc.OpI32Shl)
	c.Mem(wasmenc.OpI32Store, 2, 12)
	c.I32Const(s) // iovec 2: the message
	c.LocalGet(1)
	c.Mem(wasmenc.OpI32Store, 2, 16)
	c.I32Const(s)
	c.LocalGet(2)
	c.Mem(wasmenc.OpI32Store, 2, 20)
	c.I32Const(s) // iovec 3: the newline
	c.I32Const(int32(nl))
	c.Mem(wasmenc.OpI32Store, 2, 24)
	c.I32Const(s)
	c.I32Const(1)
	c.Mem(wasmenc.OpI32Store, 2, 28)
	c.I32Const(2) // stderr
	c.I32Const(s)
	c.I32Const(4)
	c.I32Const(s + 32)
	c.Call(w.fdWrite)
	c.Op(wasmenc.OpDrop)
	c.I32Const(1)
	c.Call(w.procExit)
	f.finish(params, nil)
}

// opI32Store8 is i32.store8.
const opI32Store8 = 0x3A

// wasiStart defines and exports _start: run's result in decimal and a
// newline on stdout. It also exports the memory, as WASI expects.
func (g *gen) wasiStart() {
	var run *funcDecl
	for _, fd := range g.f.funcs {
		if fd.name == "run" {
			run = fd
		}
	}
	w := g.wasi
	f := g.newFunc(nil)
	v, p, neg := f.local(wasmenc.I64), f.local(wasmenc.I32), f.local(wasmenc.I32)
	c, s := &f.c, int32(w.scratch)
	c.Call(g.funcIdx[run])
	c.LocalSet(v)
	c.LocalGet(v) // neg = v < 0; digits come from -|v|, which cannot overflow
	c.I64Const(0)
	c.Op(wasmenc.OpI64LtS)
	c.LocalSet(neg)
	c.LocalGet(neg)
	c.Op(wasmenc.OpI32Eqz)
	c.Block(wasmenc.OpIf, wasmenc.BlockEmpty)
	c.I64Const(0)
	c.LocalGet(v)
	c.Op(wasmenc.OpI64Sub)
	c.LocalSet(v)
	c.Op(wasmenc.OpEnd)
	c.I32Const(s + wasiScratch - 1)
	c.LocalTee(p)
	c.I32Const('\n')
	c.Mem(opI32Store8, 0, 0)
	c.Block(wasmenc.OpLoop, wasmenc.BlockEmpty)
	c.LocalGet(p)
	c.I32Const(1)
	c.Op(wasmenc.OpI32Sub)
	c.LocalTee(p)
	c.I32Const('0')
	c.I64Const(0)
	c.LocalGet(v)
	c.I64Const(10)
	c.Op(wasmenc.OpI64RemS, wasmenc.OpI64Sub, wasmenc.OpI32WrapI64, wasmenc.OpI32Add)
	c.Mem(opI32Store8, 0, 0)
	c.LocalGet(v)
	c.I64Const(10)
	c.Op(wasmenc.OpI64DivS)
	c.LocalTee(v)
	c.I64Const(0)
	c.Op(wasmenc.OpI64Ne)
	c.Index(wasmenc.OpBrIf, 0)
	c.Op(wasmenc.OpEnd)
	c.LocalGet(neg)
	c.Block(wasmenc.OpIf, wasmenc.BlockEmpty)
	c.LocalGet(p)
	c.I32Const(1)
	c.Op(wasmenc.OpI32Sub)
	c.LocalTee(p)
	c.I32Const('-')
	c.Mem(opI32Store8, 0, 0)
	c.Op(wasmenc.OpEnd)
	c.I32Const(s) // the iovec: (p, end - p)
	c.LocalGet(p)
	c.Mem(wasmenc.OpI32Store, 2, 0)
	c.I32Const(s)
	c.I32Const(s + wasiScratch)
	c.LocalGet(p)
	c.Op(wasmenc.OpI32Sub)
	c.Mem(wasmenc.OpI32Store, 2, 4)
	c.I32Const(1) // stdout
	c.I32Const(s)
	c.I32Const(1)
	c.I32Const(s + 32)
	c.Call(w.fdWrite)
	c.Op(wasmenc.OpDrop)
	f.finish(nil, nil)
	g.mod.Exports = append(g.mod.Exports,
		wasmenc.Export{Name: "_start", Kind: wasmenc.ExportFunc, Index: g.nextFn},
		wasmenc.Export{Name: "memory", Kind: wasmenc.ExportMemory, Index: 0})
	g.nextFn++
}
