package wasmenc

// ValType is a value type; the byte is its binary encoding (the same as
// wazero's api.ValueType).
type ValType byte

// The value types the encoder emits.
const (
	I32 ValType = 0x7F
	I64 ValType = 0x7E
)

// String returns the text-format name of the type.
func (t ValType) String() string {
	switch t {
	case I32:
		return "i32"
	case I64:
		return "i64"
	}
	return "invalid"
}

// FuncType is a function signature.
type FuncType struct {
	Params  []ValType
	Results []ValType
}

func (f FuncType) equal(g FuncType) bool {
	return sameTypes(f.Params, g.Params) && sameTypes(f.Results, g.Results)
}

func sameTypes(a, b []ValType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Import is an imported function. Imported functions take the first
// indices of the function index space, in order.
type Import struct {
	Module, Name string
	Type         uint32 // index into Module.Types
}

// Func is a function defined by the module; its index is the number of
// imports plus its position in Module.Funcs.
type Func struct {
	Type   uint32    // index into Module.Types
	Locals []ValType // locals after the parameters, in order
	Body   []byte    // the instructions, ending with End
}

// Memory is the module's one linear memory, in 64 KiB pages.
type Memory struct {
	Min, Max uint32
}

// Global is a global initialised with a constant.
type Global struct {
	Type    ValType
	Mutable bool
	Init    int64 // i32.const or i64.const, by Type
}

// ExportKind is the kind of an export.
type ExportKind byte

// Export kinds.
const (
	ExportFunc   ExportKind = 0x00
	ExportMemory ExportKind = 0x02
	ExportGlobal ExportKind = 0x03
)

// Export names a function, memory or global.
type Export struct {
	Name  string
	Kind  ExportKind
	Index uint32
}

// Data is an active data segment of memory 0.
type Data struct {
	Offset uint32
	Bytes  []byte
}

// Module is a module to encode. The zero value is an empty module.
type Module struct {
	Types   []FuncType
	Imports []Import
	Funcs   []Func
	Memory  *Memory
	Globals []Global
	Exports []Export
	Data    []Data
}

// TypeIndex returns the index of t in m.Types, adding it if needed.
func (m *Module) TypeIndex(t FuncType) uint32 {
	for i, u := range m.Types {
		if u.equal(t) {
			return uint32(i)
		}
	}
	m.Types = append(m.Types, FuncType{
		Params:  append([]ValType(nil), t.Params...),
		Results: append([]ValType(nil), t.Results...),
	})
	return uint32(len(m.Types) - 1)
}

// Section ids, in the order they must appear.
const (
	secType     = 1
	secImport   = 2
	secFunction = 3
	secMemory   = 5
	secGlobal   = 6
	secExport   = 7
	secCode     = 10
	secData     = 11
)

// Encode returns the binary module. Empty sections are left out. It does
// not validate the module.
func (m *Module) Encode() []byte {
	out := []byte{0x00, 0x61, 0x73, 0x6D, 0x01, 0x00, 0x00, 0x00}
	var p []byte
	if len(m.Types) > 0 {
		p = AppendU32(p[:0], uint32(len(m.Types)))
		for _, t := range m.Types {
			p = append(p, 0x60)
			p = appendTypes(p, t.Params)
			p = appendTypes(p, t.Results)
		}
		out = appendSection(out, secType, p)
	}
	if len(m.Imports) > 0 {
		p = AppendU32(p[:0], uint32(len(m.Imports)))
		for _, im := range m.Imports {
			p = AppendName(p, im.Module)
			p = AppendName(p, im.Name)
			p = append(p, 0x00) // a function
			p = AppendU32(p, im.Type)
		}
		out = appendSection(out, secImport, p)
	}
	if len(m.Funcs) > 0 {
		p = AppendU32(p[:0], uint32(len(m.Funcs)))
		for _, f := range m.Funcs {
			p = AppendU32(p, f.Type)
		}
		out = appendSection(out, secFunction, p)
	}
	if m.Memory != nil {
		p = append(p[:0], 1, 0x01) // one memory, with a maximum
		p = AppendU32(p, m.Memory.Min)
		p = AppendU32(p, m.Memory.Max)
		out = appendSection(out, secMemory, p)
	}
	if len(m.Globals) > 0 {
		p = AppendU32(p[:0], uint32(len(m.Globals)))
		for _, g := range m.Globals {
			p = append(p, byte(g.Type))
			if g.Mutable {
				p = append(p, 1)
			} else {
				p = append(p, 0)
			}
			if g.Type == I64 {
				p = AppendS64(append(p, OpI64Const), g.Init)
			} else {
				p = AppendS32(append(p, OpI32Const), int32(g.Init))
			}
			p = append(p, OpEnd)
		}
		out = appendSection(out, secGlobal, p)
	}
	if len(m.Exports) > 0 {
		p = AppendU32(p[:0], uint32(len(m.Exports)))
		for _, e := range m.Exports {
			p = AppendName(p, e.Name)
			p = append(p, byte(e.Kind))
			p = AppendU32(p, e.Index)
		}
		out = appendSection(out, secExport, p)
	}
	if len(m.Funcs) > 0 {
		p = AppendU32(p[:0], uint32(len(m.Funcs)))
		var body []byte
		for _, f := range m.Funcs {
			body = appendLocals(body[:0], f.Locals)
			body = append(body, f.Body...)
			p = AppendU32(p, uint32(len(body)))
			p = append(p, body...)
		}
		out = appendSection(out, secCode, p)
	}
	if len(m.Data) > 0 {
		p = AppendU32(p[:0], uint32(len(m.Data)))
		for _, d := range m.Data {
			p = append(p, 0x00) // active, memory 0
			p = AppendS32(append(p, OpI32Const), int32(d.Offset))
			p = append(p, OpEnd)
			p = AppendU32(p, uint32(len(d.Bytes)))
			p = append(p, d.Bytes...)
		}
		out = appendSection(out, secData, p)
	}
	return out
}

func appendTypes(b []byte, ts []ValType) []byte {
	b = AppendU32(b, uint32(len(ts)))
	for _, t := range ts {
		b = append(b, byte(t))
	}
	return b
}

// appendLocals appends the locals declaration: runs of one type grouped.
func appendLocals(b []byte, ls []ValType) []byte {
	groups := 0
	for i := range ls {
		if i == 0 || ls[i] != ls[i-1] {
			groups++
		}
	}
	b = AppendU32(b, uint32(groups))
	for i := 0; i < len(ls); {
		j := i
		for j < len(ls) && ls[j] == ls[i] {
			j++
		}
		b = AppendU32(b, uint32(j-i))
		b = append(b, byte(ls[i]))
		i = j
	}
	return b
}

func appendSection(out []byte, id byte, payload []byte) []byte {
	out = append(out, id)
	out = AppendU32(out, uint32(len(payload)))
	return append(out, payload...)
}
