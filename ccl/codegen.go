package ccl

import (
	"math"

	"github.com/intercooperative-network/icn-go/ccl/wasmenc"
)

// Memory layout. Address 0 is never a value. The data segment (string,
// DID and constant array literals) starts at dataStart; the heap follows
// it, 8-aligned, and grows by bump allocation (global 0 is its top),
// never freed: an instance lives for one call. A string or DID is a u32
// byte length followed by the bytes (4-aligned); an array is a u32 length,
// 4 bytes of padding, then the elements: i64 for Array<Integer>, the i32
// address of a DID for Array<Did> (8-aligned).
const (
	dataStart  = 8
	arrayHdr   = 8
	heapGlobal = 0
	pageSize   = 65536
)

// Helper functions the generator adds when the code uses them.
const (
	helperAlloc   = iota // (size i32) -> i32: bump-allocate, 8-aligned; traps memory_limit
	helperBytesEq        // (a i32, b i32) -> i32: string or DID equality
	numHelpers
)

// gen generates one module.
type gen struct {
	f       *file
	mod     wasmenc.Module
	hosts   []HostFunc
	imports []string        // host functions imported, in import order
	used    map[string]bool // host functions called, by name
	funcIdx map[*funcDecl]uint32
	wrapIdx map[*funcDecl]uint32 // export wrappers
	helpers [numHelpers]int64    // function index, or -1 until first used
	order   []int                // helpers in the order first used
	nextFn  uint32               // next free function index
	data    []byte               // the data segment, from dataStart
	dataAt  map[string]uint32    // deduplication: content -> address
	errs    ErrorList
	wasi    *wasiFuncs // a WASI command (CompileWASI), or nil
}

// generate compiles a checked file, importing exactly the host functions
// in imports (in that order; the first pass imports them all). It returns
// the module and the host functions the code called.
func generate(f *file, hosts []HostFunc, imports []string) (*wasmenc.Module, map[string]bool, ErrorList) {
	return generateMode(f, hosts, imports, false)
}

// generateMode is generate, or with wasi the WASI command of CompileWASI:
// imports must then be empty, and the module imports fd_write and
// proc_exit, defines trap itself and exports _start.
func generateMode(f *file, hosts []HostFunc, imports []string, wasi bool) (*wasmenc.Module, map[string]bool, ErrorList) {
	g := &gen{
		f: f, hosts: hosts, imports: imports,
		used:    map[string]bool{},
		funcIdx: map[*funcDecl]uint32{},
		wrapIdx: map[*funcDecl]uint32{},
		dataAt:  map[string]uint32{},
	}
	for i := range g.helpers {
		g.helpers[i] = -1
	}
	for _, name := range imports {
		h := g.host(name)
		t := g.mod.TypeIndex(wasmenc.FuncType{Params: h.WasmParams, Results: h.WasmResults})
		g.mod.Imports = append(g.mod.Imports, wasmenc.Import{Module: HostModule, Name: name, Type: t})
	}
	g.nextFn = uint32(len(imports))
	if wasi {
		g.wasiPrologue()
	}
	for _, fd := range f.funcs {
		g.funcIdx[fd] = g.nextFn
		g.nextFn++
	}
	for _, fd := range f.funcs {
		if fd.export && needsWrapper(fd) {
			g.wrapIdx[fd] = g.nextFn
			g.nextFn++
		}
	}
	for _, fd := range f.funcs {
		g.function(fd)
	}
	for _, fd := range f.funcs {
		if _, ok := g.wrapIdx[fd]; ok {
			g.wrapper(fd)
		}
	}
	for i := 0; i < len(g.order); i++ { // a helper may use another
		g.helper(g.order[i])
	}
	if wasi {
		g.wasiStart()
	}
	for _, fd := range f.funcs {
		if !fd.export {
			continue
		}
		idx := g.funcIdx[fd]
		if w, ok := g.wrapIdx[fd]; ok {
			idx = w
		}
		g.mod.Exports = append(g.mod.Exports, wasmenc.Export{Name: fd.name, Kind: wasmenc.ExportFunc, Index: idx})
	}
	heap := align(dataStart+uint32(len(g.data)), 8)
	if heap > MaxMemoryPages*pageSize {
		g.errs = append(g.errs, &Error{Pos: Pos{Filename: f.filename, Line: 1, Col: 1},
			Msg: "the program's literals need more than the memory limit of 16 pages"})
	}
	g.mod.Memory = &wasmenc.Memory{Min: max(1, (heap+pageSize-1)/pageSize), Max: MaxMemoryPages}
	g.mod.Globals = []wasmenc.Global{{Type: wasmenc.I32, Mutable: true, Init: int64(heap)}}
	if len(g.data) > 0 {
		g.mod.Data = []wasmenc.Data{{Offset: dataStart, Bytes: g.data}}
	}
	return &g.mod, g.used, g.errs
}

func align(n, a uint32) uint32 { return (n + a - 1) &^ (a - 1) }

func (g *gen) host(name string) *HostFunc {
	for i := range g.hosts {
		if g.hosts[i].Name == name {
			return &g.hosts[i]
		}
	}
	panic("ccl: no host function " + name) // the table and the generator disagree: a bug
}

// hostCall returns the function index of a host import, recording it.
func (g *gen) hostCall(name string) uint32 {
	g.used[name] = true
	if g.wasi != nil && name == "trap" {
		return g.wasi.trap
	}
	for i, n := range g.imports {
		if n == name {
			return uint32(i)
		}
	}
	panic("ccl: host function " + name + " used but not imported") // a bug
}

// helperCall returns the function index of a helper, adding it on first use.
func (g *gen) helperCall(h int) uint32 {
	if g.helpers[h] < 0 {
		g.helpers[h] = int64(g.nextFn)
		g.nextFn++
		g.order = append(g.order, h)
	}
	return uint32(g.helpers[h])
}

// needsWrapper reports whether an exported function's ABI differs from
// its internal signature: Did and String cross the boundary differently.
func needsWrapper(fd *funcDecl) bool {
	if fd.rt.isBytes() {
		return true
	}
	for _, p := range fd.params {
		if p.v.t.isBytes() {
			return true
		}
	}
	return false
}

// addData places bytes in the data segment, aligned, once per content.
func (g *gen) addData(b []byte, alignment uint32) uint32 {
	key := string(rune('0'+alignment)) + string(b)
	if at, ok := g.dataAt[key]; ok {
		return at
	}
	for (dataStart+uint32(len(g.data)))%alignment != 0 {
		g.data = append(g.data, 0)
	}
	at := dataStart + uint32(len(g.data))
	g.data = append(g.data, b...)
	g.dataAt[key] = at
	return at
}

// stringData returns the address of a length-prefixed string.
func (g *gen) stringData(s string) uint32 {
	b := le32(nil, uint32(len(s)))
	return g.addData(append(b, s...), 4)
}

// arrayData returns the address of a constant array.
func (g *gen) arrayData(v constValue) uint32 {
	n := len(v.ints) + len(v.strs)
	b := le32(nil, uint32(n))
	b = le32(b, 0)
	for _, x := range v.ints {
		b = le64(b, uint64(x))
	}
	for _, s := range v.strs {
		b = le32(b, g.stringData(s))
	}
	return g.addData(b, 8)
}

func le32(b []byte, v uint32) []byte {
	return append(b, byte(v), byte(v>>8), byte(v>>16), byte(v>>24))
}

func le64(b []byte, v uint64) []byte { return le32(le32(b, uint32(v)), uint32(v>>32)) }

// fgen generates one function body.
type fgen struct {
	g       *gen
	c       wasmenc.Code
	nparams uint32
	locals  []wasmenc.ValType // after the parameters
	vars    []uint32          // funcDecl.vars index -> local index
	s64     []uint32          // i64 scratch locals, made on demand
	s32     []uint32          // i32 scratch locals
}

func (g *gen) newFunc(params []wasmenc.ValType) *fgen {
	return &fgen{g: g, nparams: uint32(len(params))}
}

func (f *fgen) local(t wasmenc.ValType) uint32 {
	f.locals = append(f.locals, t)
	return f.nparams + uint32(len(f.locals)) - 1
}

// scratch returns the i-th scratch local of type t. A scratch local holds
// a value only between the evaluation of an operation's operands and its
// result, with no other evaluation in between, so nested operations can
// share them.
func (f *fgen) scratch(t wasmenc.ValType, i int) uint32 {
	s := &f.s32
	if t == wasmenc.I64 {
		s = &f.s64
	}
	for len(*s) <= i {
		*s = append(*s, f.local(t))
	}
	return (*s)[i]
}

func (f *fgen) finish(params, results []wasmenc.ValType) {
	f.c.Op(wasmenc.OpEnd)
	t := f.g.mod.TypeIndex(wasmenc.FuncType{Params: params, Results: results})
	f.g.mod.Funcs = append(f.g.mod.Funcs, wasmenc.Func{Type: t, Locals: f.locals, Body: f.c.Bytes()})
}

// internalSig is a function's signature inside the module: one value a
// parameter.
func internalSig(fd *funcDecl) (params, results []wasmenc.ValType) {
	for _, p := range fd.params {
		params = append(params, p.v.t.wasm())
	}
	return params, []wasmenc.ValType{fd.rt.wasm()}
}

func (g *gen) function(fd *funcDecl) {
	params, results := internalSig(fd)
	f := g.newFunc(params)
	f.vars = make([]uint32, len(fd.vars))
	for i, v := range fd.vars {
		if i < len(fd.params) {
			f.vars[i] = uint32(i)
		} else {
			f.vars[i] = f.local(v.t.wasm())
		}
	}
	f.block(fd.body)
	f.c.Op(wasmenc.OpUnreachable) // every path returned (checked)
	f.finish(params, results)
}

// wrapper generates the export wrapper of fd: it fetches Did and String
// arguments from the host, calls fd, and hands a Did or String result to
// the host.
func (g *gen) wrapper(fd *funcDecl) {
	// The export's signature is fd's: a Did or String is an i32 either way
	// (an address inside, an argument index or a length outside).
	params, results := internalSig(fd)
	f := g.newFunc(params)
	for i, p := range fd.params {
		f.c.LocalGet(uint32(i))
		if p.v.t.isBytes() {
			f.receiveBytes(g.hostCall("arg"))
		}
	}
	f.c.Call(g.funcIdx[fd])
	if fd.rt.isBytes() {
		r := f.scratch(wasmenc.I32, 0)
		f.c.LocalTee(r)
		f.pushBytes()
		f.c.Call(g.hostCall("result"))
		f.c.LocalGet(r)
		f.c.Mem(wasmenc.OpI32Load, 2, 0)
	}
	f.finish(params, results)
}

// receiveBytes calls host function fn, whose other arguments are on the
// stack, with a fresh buffer (buf, cap) after them, and leaves the address
// of the length-prefixed result. The heap is cut back to what the result
// needs.
func (f *fgen) receiveBytes(fn uint32) {
	p, n := f.scratch(wasmenc.I32, 0), f.scratch(wasmenc.I32, 1)
	f.c.I32Const(4 + MaxHostBytes)
	f.c.Call(f.g.helperCall(helperAlloc))
	f.c.LocalTee(p)
	f.c.I32Const(4)
	f.c.Op(wasmenc.OpI32Add)
	f.c.I32Const(MaxHostBytes)
	f.c.Call(fn)
	f.c.LocalSet(n)
	f.c.LocalGet(p)
	f.c.LocalGet(n)
	f.c.Mem(wasmenc.OpI32Store, 2, 0)
	f.c.LocalGet(p) // heap = p + align8(4 + n)
	f.c.LocalGet(n)
	f.c.I32Const(4 + 7)
	f.c.Op(wasmenc.OpI32Add)
	f.c.I32Const(-8)
	f.c.Op(wasmenc.OpI32And, wasmenc.OpI32Add)
	f.c.Index(wasmenc.OpGlobalSet, heapGlobal)
	f.c.LocalGet(p)
}

// pushBytes turns the address of a length-prefixed string on the stack
// into (address of the bytes, length), as host functions take them.
func (f *fgen) pushBytes() {
	s := f.scratch(wasmenc.I32, 0)
	f.c.LocalTee(s)
	f.c.I32Const(4)
	f.c.Op(wasmenc.OpI32Add)
	f.c.LocalGet(s)
	f.c.Mem(wasmenc.OpI32Load, 2, 0)
}

// trap calls icn.trap with a code and no message, then unreachable.
func (f *fgen) trap(code TrapCode) {
	f.c.I32Const(int32(code))
	f.c.I32Const(0)
	f.c.I32Const(0)
	f.c.Call(f.g.hostCall("trap"))
	f.c.Op(wasmenc.OpUnreachable)
}

// trapIf traps with code when the i32 on the stack is not zero.
func (f *fgen) trapIf(code TrapCode) {
	f.c.Block(wasmenc.OpIf, wasmenc.BlockEmpty)
	f.trap(code)
	f.c.Op(wasmenc.OpEnd)
}

func (f *fgen) block(b *block) {
	for _, s := range b.stmts {
		f.stmt(s)
	}
}

func (f *fgen) stmt(s stmt) {
	c := &f.c
	switch s := s.(type) {
	case *block:
		f.block(s)
	case *letStmt:
		f.expr(s.value)
		c.LocalSet(f.vars[s.v.index])
	case *assignStmt:
		f.expr(s.value)
		c.LocalSet(f.vars[s.v.index])
	case *ifStmt:
		f.expr(s.cond)
		c.Block(wasmenc.OpIf, wasmenc.BlockEmpty)
		f.block(s.then)
		if s.els != nil {
			c.Op(wasmenc.OpElse)
			f.stmt(s.els)
		}
		c.Op(wasmenc.OpEnd)
	case *whileStmt:
		c.Block(wasmenc.OpBlock, wasmenc.BlockEmpty)
		c.Block(wasmenc.OpLoop, wasmenc.BlockEmpty)
		f.expr(s.cond)
		c.Op(wasmenc.OpI32Eqz)
		c.Index(wasmenc.OpBrIf, 1)
		f.block(s.body)
		c.Index(wasmenc.OpBr, 0)
		c.Op(wasmenc.OpEnd, wasmenc.OpEnd)
	case *forStmt:
		arr, i := f.local(wasmenc.I32), f.local(wasmenc.I32)
		f.expr(s.iter)
		c.LocalSet(arr)
		c.I32Const(0)
		c.LocalSet(i)
		c.Block(wasmenc.OpBlock, wasmenc.BlockEmpty)
		c.Block(wasmenc.OpLoop, wasmenc.BlockEmpty)
		c.LocalGet(i)
		c.LocalGet(arr)
		c.Mem(wasmenc.OpI32Load, 2, 0)
		c.Op(wasmenc.OpI32GeU)
		c.Index(wasmenc.OpBrIf, 1)
		c.LocalGet(arr)
		c.LocalGet(i)
		f.loadElem(s.iter.typ())
		c.LocalSet(f.vars[s.v.index])
		f.block(s.body)
		c.LocalGet(i)
		c.I32Const(1)
		c.Op(wasmenc.OpI32Add)
		c.LocalSet(i)
		c.Index(wasmenc.OpBr, 0)
		c.Op(wasmenc.OpEnd, wasmenc.OpEnd)
	case *returnStmt:
		f.expr(s.value)
		c.Op(wasmenc.OpReturn)
	case *requireStmt:
		f.expr(s.cond)
		c.Op(wasmenc.OpI32Eqz)
		c.Block(wasmenc.OpIf, wasmenc.BlockEmpty)
		c.I32Const(int32(TrapRequireFailed))
		if s.msg != nil {
			f.expr(s.msg)
			f.pushBytes()
		} else {
			c.I32Const(0)
			c.I32Const(0)
		}
		c.Call(f.g.hostCall("trap"))
		c.Op(wasmenc.OpUnreachable, wasmenc.OpEnd)
	case *exprStmt:
		f.expr(s.call)
		c.Op(wasmenc.OpDrop)
	}
}

// loadElem loads element i (an i32) of the array at address a, both on
// the stack, unchecked.
func (f *fgen) loadElem(t Type) {
	c := &f.c
	if t == ArrayDid {
		c.I32Const(2)
		c.Op(wasmenc.OpI32Shl, wasmenc.OpI32Add)
		c.Mem(wasmenc.OpI32Load, 2, arrayHdr)
		return
	}
	c.I32Const(3)
	c.Op(wasmenc.OpI32Shl, wasmenc.OpI32Add)
	c.Mem(wasmenc.OpI64Load, 3, arrayHdr)
}

// constant pushes a constant's value.
func (f *fgen) constant(t Type, v constValue) {
	switch {
	case t.isI64():
		f.c.I64Const(v.i)
	case t == Bool:
		f.c.I32Const(int32(v.i))
	case t.isBytes():
		f.c.I32Const(int32(f.g.stringData(v.s)))
	case t.isArray():
		f.c.I32Const(int32(f.g.arrayData(v)))
	}
}

// literal returns the value of an expression the generator can place in
// the data segment: a literal, a negated integer literal or a constant.
func literal(e expr) (constValue, bool) {
	switch e := e.(type) {
	case *intLit:
		return constValue{i: int64(e.val)}, true
	case *durationLit:
		return constValue{i: e.val}, true
	case *didLit:
		return constValue{s: e.val}, true
	case *ident:
		if e.c != nil && e.c.ok {
			return e.c.val, true
		}
	case *unaryExpr:
		if lit, ok := e.x.(*intLit); ok && e.op == tMinus {
			return constValue{i: -int64(lit.val)}, true // 1<<63 wraps to MinInt64
		}
	}
	return constValue{}, false
}

func (f *fgen) expr(e expr) {
	c := &f.c
	switch e := e.(type) {
	case *ident:
		if e.v != nil {
			c.LocalGet(f.vars[e.v.index])
			return
		}
		f.constant(e.t, e.c.val)
	case *intLit:
		c.I64Const(int64(e.val))
	case *durationLit:
		c.I64Const(e.val)
	case *boolLit:
		c.I32Const(int32(b2i(e.val)))
	case *stringLit:
		c.I32Const(int32(f.g.stringData(e.val)))
	case *didLit:
		c.I32Const(int32(f.g.stringData(e.val)))
	case *arrayLit:
		f.arrayLit(e)
	case *unaryExpr:
		if lit, ok := e.x.(*intLit); ok && e.op == tMinus {
			c.I64Const(-int64(lit.val))
			return
		}
		f.expr(e.x)
		if e.op == tNot {
			c.Op(wasmenc.OpI32Eqz)
			return
		}
		s := f.scratch(wasmenc.I64, 0)
		c.LocalTee(s)
		c.I64Const(math.MinInt64)
		c.Op(wasmenc.OpI64Eq)
		f.trapIf(TrapOverflow)
		c.I64Const(0)
		c.LocalGet(s)
		c.Op(wasmenc.OpI64Sub)
	case *binaryExpr:
		f.binary(e)
	case *callExpr:
		f.call(e)
	case *indexExpr:
		a, i := f.scratch(wasmenc.I32, 0), f.scratch(wasmenc.I64, 0)
		f.expr(e.x)
		f.expr(e.index)
		c.LocalSet(i)
		c.LocalSet(a)
		c.LocalGet(i) // i >= len as unsigned: also catches i < 0
		c.LocalGet(a)
		c.Mem(wasmenc.OpI32Load, 2, 0)
		c.Op(wasmenc.OpI64ExtendI32, wasmenc.OpI64GeU)
		f.trapIf(TrapIndexOutOfBounds)
		c.LocalGet(a)
		c.LocalGet(i)
		c.Op(wasmenc.OpI32WrapI64)
		f.loadElem(e.x.typ())
	}
}

func (f *fgen) arrayLit(e *arrayLit) {
	c := &f.c
	v := constValue{ints: []int64{}}
	all := true
	for _, x := range e.elems {
		xv, ok := literal(x)
		if !ok {
			all = false
			break
		}
		if e.t == ArrayDid {
			v.strs = append(v.strs, xv.s)
		} else {
			v.ints = append(v.ints, xv.i)
		}
	}
	if all {
		c.I32Const(int32(f.g.arrayData(v)))
		return
	}
	size, store, align := uint32(8), byte(wasmenc.OpI64Store), uint32(3)
	if e.t == ArrayDid {
		size, store, align = 4, wasmenc.OpI32Store, 2
	}
	p := f.local(wasmenc.I32) // not scratch: the elements are evaluated while it is live
	c.I32Const(int32(arrayHdr + size*uint32(len(e.elems))))
	c.Call(f.g.helperCall(helperAlloc))
	c.LocalTee(p)
	c.I32Const(int32(len(e.elems)))
	c.Mem(wasmenc.OpI32Store, 2, 0)
	for i, x := range e.elems {
		c.LocalGet(p)
		f.expr(x)
		c.Mem(store, align, arrayHdr+size*uint32(i))
	}
	c.LocalGet(p)
}

func (f *fgen) binary(e *binaryExpr) {
	c := &f.c
	switch e.op {
	case tAndAnd:
		f.expr(e.x)
		c.Block(wasmenc.OpIf, wasmenc.BlockI32)
		f.expr(e.y)
		c.Op(wasmenc.OpElse)
		c.I32Const(0)
		c.Op(wasmenc.OpEnd)
		return
	case tOrOr:
		f.expr(e.x)
		c.Block(wasmenc.OpIf, wasmenc.BlockI32)
		c.I32Const(1)
		c.Op(wasmenc.OpElse)
		f.expr(e.y)
		c.Op(wasmenc.OpEnd)
		return
	}
	f.expr(e.x)
	f.expr(e.y)
	t := e.x.typ()
	switch e.op {
	case tEq, tNe:
		switch {
		case t.isI64():
			c.Op(wasmenc.OpI64Eq)
		case t.isBytes():
			c.Call(f.g.helperCall(helperBytesEq))
		default:
			c.Op(wasmenc.OpI32Eq)
		}
		if e.op == tNe {
			c.Op(wasmenc.OpI32Eqz)
		}
	case tLt:
		c.Op(wasmenc.OpI64LtS)
	case tLe:
		c.Op(wasmenc.OpI64LeS)
	case tGt:
		c.Op(wasmenc.OpI64GtS)
	case tGe:
		c.Op(wasmenc.OpI64GeS)
	default:
		f.arith(e.op)
	}
}

// arith emits checked i64 arithmetic on the two operands on the stack.
func (f *fgen) arith(op tokenKind) {
	c := &f.c
	a, b, r := f.scratch(wasmenc.I64, 0), f.scratch(wasmenc.I64, 1), f.scratch(wasmenc.I64, 2)
	c.LocalSet(b)
	c.LocalSet(a)
	switch op {
	case tPlus, tMinus:
		// a+b overflows iff a and b have one sign and r the other:
		// ((a^r) & (b^r)) < 0; a-b iff a and b differ in sign and r
		// differs from a: ((a^b) & (a^r)) < 0.
		c.LocalGet(a)
		c.LocalGet(b)
		if op == tPlus {
			c.Op(wasmenc.OpI64Add)
		} else {
			c.Op(wasmenc.OpI64Sub)
		}
		c.LocalSet(r)
		c.LocalGet(a)
		if op == tPlus {
			c.LocalGet(r)
			c.Op(wasmenc.OpI64Xor)
			c.LocalGet(b)
		} else {
			c.LocalGet(b)
			c.Op(wasmenc.OpI64Xor)
			c.LocalGet(a)
		}
		c.LocalGet(r)
		c.Op(wasmenc.OpI64Xor, wasmenc.OpI64And)
		c.I64Const(0)
		c.Op(wasmenc.OpI64LtS)
		f.trapIf(TrapOverflow)
		c.LocalGet(r)
	case tStar:
		// overflow iff {a, b} = {-1, MinInt64}, or a != 0 and r/a != b
		f.isMinusOneTimesMin(a, b)
		f.isMinusOneTimesMin(b, a)
		c.Op(wasmenc.OpI32Or)
		f.trapIf(TrapOverflow)
		c.LocalGet(a)
		c.LocalGet(b)
		c.Op(wasmenc.OpI64Mul)
		c.LocalSet(r)
		c.LocalGet(a)
		c.Op(wasmenc.OpI64Eqz)
		c.Block(wasmenc.OpIf, wasmenc.BlockI32)
		c.I32Const(0)
		c.Op(wasmenc.OpElse)
		c.LocalGet(r)
		c.LocalGet(a)
		c.Op(wasmenc.OpI64DivS)
		c.LocalGet(b)
		c.Op(wasmenc.OpI64Ne)
		c.Op(wasmenc.OpEnd)
		f.trapIf(TrapOverflow)
		c.LocalGet(r)
	case tSlash, tPercent:
		c.LocalGet(b)
		c.Op(wasmenc.OpI64Eqz)
		f.trapIf(TrapDivideByZero)
		if op == tSlash {
			f.isMinusOneTimesMin(b, a) // MinInt64 / -1
			f.trapIf(TrapOverflow)
		}
		c.LocalGet(a)
		c.LocalGet(b)
		if op == tSlash {
			c.Op(wasmenc.OpI64DivS)
		} else {
			c.Op(wasmenc.OpI64RemS) // MinInt64 % -1 is 0: no trap
		}
	}
}

// isMinusOneTimesMin pushes (x == -1) & (y == MinInt64).
func (f *fgen) isMinusOneTimesMin(x, y uint32) {
	c := &f.c
	c.LocalGet(x)
	c.I64Const(-1)
	c.Op(wasmenc.OpI64Eq)
	c.LocalGet(y)
	c.I64Const(math.MinInt64)
	c.Op(wasmenc.OpI64Eq, wasmenc.OpI32And)
}

func (f *fgen) call(e *callExpr) {
	c := &f.c
	switch {
	case e.builtin: // len
		f.expr(e.args[0])
		c.Mem(wasmenc.OpI32Load, 2, 0)
		c.Op(wasmenc.OpI64ExtendI32)
	case e.fn != nil:
		for _, a := range e.args {
			f.expr(a)
		}
		c.Call(f.g.funcIdx[e.fn])
	default:
		for _, a := range e.args {
			f.expr(a)
			if a.typ().isBytes() {
				f.pushBytes()
			}
		}
		fn := f.g.hostCall(e.host.Name)
		if e.host.Result.isBytes() {
			f.receiveBytes(fn)
			return
		}
		c.Call(fn)
	}
}

// helper generates the body of a helper function.
func (g *gen) helper(h int) {
	i32 := wasmenc.I32
	switch h {
	case helperAlloc:
		params := []wasmenc.ValType{i32}
		f := g.newFunc(params)
		c := &f.c
		p, end := f.local(i32), f.local(i32)
		c.Index(wasmenc.OpGlobalGet, heapGlobal)
		c.LocalTee(p)
		c.LocalGet(0)
		c.I32Const(7)
		c.Op(wasmenc.OpI32Add)
		c.I32Const(-8)
		c.Op(wasmenc.OpI32And, wasmenc.OpI32Add)
		c.LocalTee(end)
		c.MemorySize()
		c.I32Const(16)
		c.Op(wasmenc.OpI32Shl, wasmenc.OpI32GtU)
		c.Block(wasmenc.OpIf, wasmenc.BlockEmpty)
		c.LocalGet(end) // grow by ceil(end / page) - size pages
		c.I32Const(pageSize - 1)
		c.Op(wasmenc.OpI32Add)
		c.I32Const(16)
		c.Op(wasmenc.OpI32ShrU)
		c.MemorySize()
		c.Op(wasmenc.OpI32Sub)
		c.MemoryGrow()
		c.I32Const(-1)
		c.Op(wasmenc.OpI32Eq)
		f.trapIf(TrapMemoryLimit)
		c.Op(wasmenc.OpEnd)
		c.LocalGet(end)
		c.Index(wasmenc.OpGlobalSet, heapGlobal)
		c.LocalGet(p)
		f.finish(params, []wasmenc.ValType{i32})
	case helperBytesEq:
		params := []wasmenc.ValType{i32, i32}
		f := g.newFunc(params)
		c := &f.c
		n, i := f.local(i32), f.local(i32)
		c.LocalGet(0) // the same address: equal
		c.LocalGet(1)
		c.Op(wasmenc.OpI32Eq)
		c.Block(wasmenc.OpIf, wasmenc.BlockEmpty)
		c.I32Const(1)
		c.Op(wasmenc.OpReturn, wasmenc.OpEnd)
		c.LocalGet(0)
		c.Mem(wasmenc.OpI32Load, 2, 0)
		c.LocalTee(n)
		c.LocalGet(1)
		c.Mem(wasmenc.OpI32Load, 2, 0)
		c.Op(wasmenc.OpI32Ne)
		c.Block(wasmenc.OpIf, wasmenc.BlockEmpty)
		c.I32Const(0)
		c.Op(wasmenc.OpReturn, wasmenc.OpEnd)
		c.Block(wasmenc.OpBlock, wasmenc.BlockEmpty)
		c.Block(wasmenc.OpLoop, wasmenc.BlockEmpty)
		c.LocalGet(i)
		c.LocalGet(n)
		c.Op(wasmenc.OpI32GeU)
		c.Index(wasmenc.OpBrIf, 1)
		for _, s := range []uint32{0, 1} {
			c.LocalGet(s)
			c.LocalGet(i)
			c.Op(wasmenc.OpI32Add)
			c.Mem(wasmenc.OpI32Load8U, 0, 4)
		}
		c.Op(wasmenc.OpI32Ne)
		c.Block(wasmenc.OpIf, wasmenc.BlockEmpty)
		c.I32Const(0)
		c.Op(wasmenc.OpReturn, wasmenc.OpEnd)
		c.LocalGet(i)
		c.I32Const(1)
		c.Op(wasmenc.OpI32Add)
		c.LocalSet(i)
		c.Index(wasmenc.OpBr, 0)
		c.Op(wasmenc.OpEnd, wasmenc.OpEnd)
		c.I32Const(1)
		f.finish(params, []wasmenc.ValType{i32})
	}
}
