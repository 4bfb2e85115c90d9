package fuel

import "strings"

// Section ids of the binary format.
const (
	secCustom    = 0
	secType      = 1
	secImport    = 2
	secFunction  = 3
	secTable     = 4
	secMemory    = 5
	secGlobal    = 6
	secExport    = 7
	secStart     = 8
	secElement   = 9
	secCode      = 10
	secData      = 11
	secDataCount = 12
	secTag       = 13
)

// rank is the position a known section must respect: each appears at most
// once, in increasing rank (the data count section sits before code).
func rank(id byte) int {
	switch id {
	case secDataCount:
		return 10
	case secCode:
		return 11
	case secData:
		return 12
	}
	return int(id)
}

// maxLocals bounds the locals of one function (parameters included). Real
// toolchains stay in the hundreds; the bound keeps a hostile count from
// making anyone allocate gigabytes.
const maxLocals = 50000

type section struct {
	id         byte
	start, end int // payload
	name       string
}

type body struct {
	start, end int // the function body, after its size
}

// funcRef is a function index outside the code section (in a constant
// expression, an element segment or an export) that names a host function
// the rewriter wraps (see host.go): the output names the wrapper instead.
type funcRef struct {
	start, end int // the index's LEB128 in the input
	fn         uint32
}

// decoded is the structure of a module, with offsets into the input.
type decoded struct {
	src      []byte
	sections []section

	types        []FuncType
	imports      []Import
	importTypes  []uint32 // type index of each imported function
	importHost   []int    // per imported function: its hostFuncs index, or -1
	importFuncs  uint32
	importGlobal uint32
	importTables uint32
	importMems   uint32
	funcTypes    []uint32 // type index of each defined function
	tables       uint32
	mems         uint32
	globals      uint32 // defined
	exports      []Export
	memory       *Limits
	start        int64 // -1 when none
	hasDataCount bool
	dataCount    uint32
	bodies       []body
	dataSegments uint32
	elemSegments uint32
	funcRefs     []funcRef // in input order
}

// The index spaces of the original module. Every index the module uses
// must be below these: the rewriter appends its own globals, functions,
// type and locals right after them, and an original that could name one
// could mint fuel or clear the interrupt.
func (d *decoded) nfuncs() uint32   { return d.importFuncs + uint32(len(d.funcTypes)) }
func (d *decoded) nglobals() uint32 { return d.importGlobal + d.globals }
func (d *decoded) ntables() uint32  { return d.importTables + d.tables }
func (d *decoded) hasMemory() bool  { return d.importMems+d.mems > 0 }

// funcType returns the type of function f (imported or defined), f < nfuncs.
func (d *decoded) funcType(f uint32) FuncType {
	if f < d.importFuncs {
		return d.types[d.importTypes[f]]
	}
	return d.types[d.funcTypes[f-d.importFuncs]]
}

// funcIndex reads a function index outside the code section, checks it
// and records it when it names a wrapped host function.
func (d *decoded) funcIndex(r *reader) (uint32, error) {
	at := r.off
	f, err := r.index("function", d.nfuncs())
	if err != nil {
		return 0, err
	}
	if f < d.importFuncs && d.importHost[f] >= 0 {
		d.funcRefs = append(d.funcRefs, funcRef{start: at, end: r.off, fn: f})
	}
	return f, nil
}

// index reads an index of the given kind and checks it against n.
func (r *reader) index(what string, n uint32) (uint32, error) {
	at := r.off
	i, err := r.u32()
	if err != nil {
		return 0, err
	}
	if i >= n {
		return 0, r.failAt(at, "%s index %d out of range (%d)", what, i, n)
	}
	return i, nil
}

// decode checks the structure of the whole module and records what the
// rewriter needs. It does not type-check function bodies; that is left to
// the validation of the rewritten module (see Instrument).
func decode(src []byte) (*decoded, error) {
	r := &reader{b: src}
	if len(src) < 8 || string(src[:4]) != "\x00asm" {
		return nil, r.failf("not a WebAssembly module (bad magic)")
	}
	if string(src[4:8]) != "\x01\x00\x00\x00" {
		return nil, r.failAt(4, "unsupported binary version % x (only core modules, version 1)", src[4:8])
	}
	r.off = 8
	d := &decoded{src: src, start: -1}
	last := 0
	for !r.eof() {
		idOff := r.off
		id, _ := r.byte()
		size, err := r.u32()
		if err != nil {
			return nil, err
		}
		if uint64(size) > uint64(len(src)-r.off) {
			return nil, r.failf("section %d size %d exceeds the %d bytes left", id, size, len(src)-r.off)
		}
		s := section{id: id, start: r.off, end: r.off + int(size)}
		if id != secCustom {
			if id > secTag {
				return nil, r.failAt(idOff, "unknown section id %d", id)
			}
			if id == secTag {
				return nil, r.failAt(idOff, "tag section: exception handling is not supported")
			}
			if rank(id) <= last {
				return nil, r.failAt(idOff, "section %d out of order or repeated", id)
			}
			last = rank(id)
		}
		sr := &reader{b: src[:s.end], off: s.start}
		switch id {
		case secCustom:
			s.name, err = sr.name()
			sr.off = s.end
		case secType:
			err = d.typeSection(sr)
		case secImport:
			err = d.importSection(sr)
		case secFunction:
			err = d.functionSection(sr)
		case secTable:
			err = d.tableSection(sr)
		case secMemory:
			err = d.memorySection(sr)
		case secGlobal:
			err = d.globalSection(sr)
		case secExport:
			err = d.exportSection(sr)
		case secStart:
			var f uint32
			f, err = sr.u32()
			d.start = int64(f)
		case secElement:
			err = d.elementSection(sr)
		case secDataCount:
			d.dataCount, err = sr.u32()
			d.hasDataCount = true
		case secCode:
			err = d.codeSection(sr)
		case secData:
			err = d.dataSection(sr)
		}
		if err != nil {
			return nil, err
		}
		if sr.off != s.end {
			return nil, sr.failf("section %d has %d bytes left over", id, s.end-sr.off)
		}
		r.off = s.end
		d.sections = append(d.sections, s)
	}
	if len(d.funcTypes) != len(d.bodies) {
		return nil, r.failf("function section declares %d functions but the code section has %d bodies", len(d.funcTypes), len(d.bodies))
	}
	for i, t := range d.funcTypes {
		if int(t) >= len(d.types) {
			return nil, r.failAt(d.bodies[i].start, "function %d has type index %d out of range", i, t)
		}
	}
	if d.hasDataCount && d.dataCount != d.dataSegments {
		return nil, r.failf("data count %d differs from the %d data segments", d.dataCount, d.dataSegments)
	}
	if d.start >= 0 {
		if uint64(d.start) >= uint64(d.nfuncs()) {
			return nil, r.failf("start function %d out of range", d.start)
		}
		if ft := d.funcType(uint32(d.start)); len(ft.Params)+len(ft.Results) != 0 {
			return nil, r.failf("start function %d has type %v, not () -> ()", d.start, ft)
		}
	}
	if d.importMems+d.mems > 1 {
		return nil, r.failf("multiple memories are not supported")
	}
	return d, nil
}

func (r *reader) valueType() (ValueType, error) {
	c, err := r.byte()
	if err != nil {
		return 0, err
	}
	switch t := ValueType(c); t {
	case I32, I64, F32, F64, FuncRef, ExternRef:
		return t, nil
	case 0x7B:
		return 0, r.failAt(r.off-1, "v128 (SIMD) is not supported")
	}
	return 0, r.failAt(r.off-1, "unknown value type 0x%02x", c)
}

func (r *reader) refType() (ValueType, error) {
	c, err := r.byte()
	if err != nil {
		return 0, err
	}
	if t := ValueType(c); t == FuncRef || t == ExternRef {
		return t, nil
	}
	return 0, r.failAt(r.off-1, "unknown reference type 0x%02x", c)
}

func (r *reader) limits(memory bool) (Limits, error) {
	flagOff := r.off
	flag, err := r.byte()
	if err != nil {
		return Limits{}, err
	}
	var l Limits
	switch flag {
	case 0x00, 0x01:
	case 0x02, 0x03:
		return l, r.failAt(flagOff, "shared memory (threads) is not supported")
	default:
		return l, r.failAt(flagOff, "unsupported limits flag 0x%02x (64-bit memories and tables are not supported)", flag)
	}
	if l.Min, err = r.u32(); err != nil {
		return l, err
	}
	if flag == 0x01 {
		if l.Max, err = r.u32(); err != nil {
			return l, err
		}
		l.HasMax = true
		if l.Max < l.Min {
			return l, r.failAt(flagOff, "limits maximum %d below minimum %d", l.Max, l.Min)
		}
	}
	if memory && (l.Min > 65536 || l.HasMax && l.Max > 65536) {
		return l, r.failAt(flagOff, "memory larger than 65536 pages")
	}
	if !memory && l.Min > MaxTableElements {
		return l, r.failAt(flagOff, "table of %d elements: more than %d", l.Min, MaxTableElements)
	}
	return l, nil
}

func (d *decoded) typeSection(r *reader) error {
	n, err := r.count("type", 3)
	if err != nil {
		return err
	}
	d.types = make([]FuncType, 0, n)
	for range n {
		form, err := r.byte()
		if err != nil {
			return err
		}
		if form != 0x60 {
			return r.failAt(r.off-1, "type form 0x%02x is not a function type (GC types are not supported)", form)
		}
		var ft FuncType
		for _, list := range []*[]ValueType{&ft.Params, &ft.Results} {
			m, err := r.count("value type", 1)
			if err != nil {
				return err
			}
			if m > 0 {
				*list = make([]ValueType, m)
			}
			for j := range m {
				if (*list)[j], err = r.valueType(); err != nil {
					return err
				}
			}
		}
		d.types = append(d.types, ft)
	}
	return nil
}

func (d *decoded) importSection(r *reader) error {
	n, err := r.count("import", 4)
	if err != nil {
		return err
	}
	for range n {
		var im Import
		if im.Module, err = r.name(); err != nil {
			return err
		}
		if im.Name, err = r.name(); err != nil {
			return err
		}
		kindOff := r.off
		kind, err := r.byte()
		if err != nil {
			return err
		}
		im.Kind = ExternKind(kind)
		switch im.Kind {
		case KindFunc:
			t, err := r.u32()
			if err != nil {
				return err
			}
			if int(t) >= len(d.types) {
				return r.failAt(kindOff+1, "imported function has type index %d out of range", t)
			}
			im.Type = d.types[t]
			d.importFuncs++
			d.importTypes = append(d.importTypes, t)
			d.importHost = append(d.importHost, lookupHostFunc(im))
		case KindTable:
			if _, err := r.refType(); err != nil {
				return err
			}
			if im.Limits, err = r.limits(false); err != nil {
				return err
			}
			d.importTables++
			if d.importTables > MaxTables {
				return r.failAt(kindOff, "more than %d tables", MaxTables)
			}
		case KindMemory:
			if im.Limits, err = r.limits(true); err != nil {
				return err
			}
			l := im.Limits
			d.memory = &l
			d.importMems++
		case KindGlobal:
			if _, err := r.valueType(); err != nil {
				return err
			}
			if err := r.mutability(); err != nil {
				return err
			}
			d.importGlobal++
		case 4:
			return r.failAt(kindOff, "tag import: exception handling is not supported")
		default:
			return r.failAt(kindOff, "unknown import kind 0x%02x", kind)
		}
		d.imports = append(d.imports, im)
	}
	return nil
}

func (r *reader) mutability() error {
	c, err := r.byte()
	if err != nil {
		return err
	}
	if c > 1 {
		return r.failAt(r.off-1, "bad global mutability 0x%02x", c)
	}
	return nil
}

func (d *decoded) functionSection(r *reader) error {
	n, err := r.count("function", 1)
	if err != nil {
		return err
	}
	d.funcTypes = make([]uint32, n)
	for i := range n {
		if d.funcTypes[i], err = r.u32(); err != nil {
			return err
		}
	}
	return nil
}

func (d *decoded) tableSection(r *reader) error {
	at := r.off
	n, err := r.count("table", 2)
	if err != nil {
		return err
	}
	if uint64(d.importTables)+uint64(n) > MaxTables {
		return r.failAt(at, "more than %d tables", MaxTables)
	}
	for range n {
		if r.off < len(r.b) && r.b[r.off] == 0x40 {
			return r.failf("table with an initializer (function references) is not supported")
		}
		if _, err := r.refType(); err != nil {
			return err
		}
		if _, err := r.limits(false); err != nil {
			return err
		}
	}
	d.tables = n
	return nil
}

func (d *decoded) memorySection(r *reader) error {
	n, err := r.count("memory", 2)
	if err != nil {
		return err
	}
	for range n {
		l, err := r.limits(true)
		if err != nil {
			return err
		}
		d.memory = &l
	}
	d.mems = n
	return nil
}

func (d *decoded) globalSection(r *reader) error {
	n, err := r.count("global", 3)
	if err != nil {
		return err
	}
	for i := range n {
		if _, err := r.valueType(); err != nil {
			return err
		}
		if err := r.mutability(); err != nil {
			return err
		}
		// Only the globals before this one exist yet (wazero allows the
		// imported ones only).
		if err := d.constExpr(r, d.importGlobal+i); err != nil {
			return err
		}
	}
	d.globals = n
	return nil
}

func (d *decoded) exportSection(r *reader) error {
	n, err := r.count("export", 3)
	if err != nil {
		return err
	}
	d.exports = make([]Export, 0, n)
	for range n {
		nameOff := r.off
		var e Export
		if e.Name, err = r.name(); err != nil {
			return err
		}
		if strings.HasPrefix(e.Name, reservedPrefix) {
			return r.failAt(nameOff, "export name %q uses the reserved prefix %q", e.Name, reservedPrefix)
		}
		kind, err := r.byte()
		if err != nil {
			return err
		}
		if kind > 3 {
			return r.failAt(r.off-1, "unknown export kind 0x%02x", kind)
		}
		e.Kind = ExternKind(kind)
		switch e.Kind {
		case KindFunc:
			e.Index, err = d.funcIndex(r)
		case KindTable:
			e.Index, err = r.index("table", d.ntables())
		case KindMemory:
			e.Index, err = r.index("memory", d.importMems+d.mems)
		case KindGlobal:
			e.Index, err = r.index("global", d.nglobals())
		}
		if err != nil {
			return err
		}
		d.exports = append(d.exports, e)
	}
	return nil
}

// constExpr reads a constant expression up to and including its end. It
// may read globals below nglobals and any function.
func (d *decoded) constExpr(r *reader, nglobals uint32) error {
	for {
		opOff := r.off
		op, err := r.byte()
		if err != nil {
			return err
		}
		switch op {
		case 0x0B:
			return nil
		case 0x41:
			_, err = r.sleb(32)
		case 0x42:
			_, err = r.sleb(64)
		case 0x43:
			_, err = r.bytes(4)
		case 0x44:
			_, err = r.bytes(8)
		case 0x23: // global.get
			_, err = r.index("global", nglobals)
		case 0xD2: // ref.func
			_, err = d.funcIndex(r)
		case 0xD0: // ref.null
			_, err = r.refType()
		case 0x6A, 0x6B, 0x6C, 0x7C, 0x7D, 0x7E: // extended constant expressions
		default:
			return r.failAt(opOff, "opcode 0x%02x not allowed in a constant expression", op)
		}
		if err != nil {
			return err
		}
	}
}

func (d *decoded) elementSection(r *reader) error {
	n, err := r.count("element segment", 2)
	if err != nil {
		return err
	}
	for range n {
		flagOff := r.off
		flags, err := r.u32()
		if err != nil {
			return err
		}
		if flags > 7 {
			return r.failAt(flagOff, "unknown element segment flags %d", flags)
		}
		if flags&1 == 0 { // active: a table (0 unless given) and an offset expression
			table := uint32(0)
			at := r.off
			if flags&2 != 0 {
				if table, err = r.u32(); err != nil {
					return err
				}
			}
			if table >= d.ntables() {
				return r.failAt(at, "element segment for table index %d out of range (%d)", table, d.ntables())
			}
			if err := d.constExpr(r, d.nglobals()); err != nil {
				return err
			}
		}
		exprs := flags&4 != 0
		if flags&3 != 0 { // element kind or reference type follows
			if exprs {
				if _, err := r.refType(); err != nil {
					return err
				}
			} else {
				k, err := r.byte()
				if err != nil {
					return err
				}
				if k != 0 {
					return r.failAt(r.off-1, "unknown element kind 0x%02x", k)
				}
			}
		}
		m, err := r.count("element", 1)
		if err != nil {
			return err
		}
		for range m {
			if exprs {
				err = d.constExpr(r, d.nglobals())
			} else {
				_, err = d.funcIndex(r)
			}
			if err != nil {
				return err
			}
		}
	}
	d.elemSegments = n
	return nil
}

func (d *decoded) dataSection(r *reader) error {
	n, err := r.count("data segment", 2)
	if err != nil {
		return err
	}
	for range n {
		flagOff := r.off
		flags, err := r.u32()
		if err != nil {
			return err
		}
		if flags == 0 || flags == 2 {
			if !d.hasMemory() {
				return r.failAt(flagOff, "active data segment but no memory")
			}
		}
		switch flags {
		case 0:
			err = d.constExpr(r, d.nglobals())
		case 1:
		case 2:
			var mem uint32
			if mem, err = r.u32(); err == nil && mem != 0 {
				return r.failAt(flagOff, "data segment for memory %d: multiple memories are not supported", mem)
			}
			if err == nil {
				err = d.constExpr(r, d.nglobals())
			}
		default:
			return r.failAt(flagOff, "unknown data segment flags %d", flags)
		}
		if err != nil {
			return err
		}
		size, err := r.u32()
		if err != nil {
			return err
		}
		if _, err := r.bytes(size); err != nil {
			return err
		}
	}
	d.dataSegments = n
	return nil
}

func (d *decoded) codeSection(r *reader) error {
	n, err := r.count("function body", 2)
	if err != nil {
		return err
	}
	d.bodies = make([]body, 0, n)
	for range n {
		size, err := r.u32()
		if err != nil {
			return err
		}
		start := r.off
		if _, err := r.bytes(size); err != nil {
			return err
		}
		if size == 0 {
			return r.failAt(start, "empty function body")
		}
		d.bodies = append(d.bodies, body{start: start, end: r.off})
	}
	return nil
}
