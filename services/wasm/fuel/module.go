package fuel

// ValueType is a WebAssembly value type.
type ValueType byte

// The value types this package accepts (SIMD's v128 is not one of them).
const (
	I32       ValueType = 0x7F
	I64       ValueType = 0x7E
	F32       ValueType = 0x7D
	F64       ValueType = 0x7C
	FuncRef   ValueType = 0x70
	ExternRef ValueType = 0x6F
)

// String returns the type's name in the text format.
func (t ValueType) String() string {
	switch t {
	case I32:
		return "i32"
	case I64:
		return "i64"
	case F32:
		return "f32"
	case F64:
		return "f64"
	case FuncRef:
		return "funcref"
	case ExternRef:
		return "externref"
	}
	return "unknown"
}

// ExternKind is the kind of an import or export.
type ExternKind byte

// The extern kinds.
const (
	KindFunc   ExternKind = 0
	KindTable  ExternKind = 1
	KindMemory ExternKind = 2
	KindGlobal ExternKind = 3
)

// String returns the kind's name in the text format.
func (k ExternKind) String() string {
	switch k {
	case KindFunc:
		return "func"
	case KindTable:
		return "table"
	case KindMemory:
		return "memory"
	case KindGlobal:
		return "global"
	}
	return "unknown"
}

// FuncType is a function signature.
type FuncType struct {
	Params, Results []ValueType
}

// Limits are the size limits of a memory (in 64 KiB pages) or a table.
type Limits struct {
	Min    uint32
	Max    uint32
	HasMax bool
}

// Import is one import of a module.
type Import struct {
	Module, Name string
	Kind         ExternKind
	// Type is the signature of an imported function.
	Type FuncType
	// Limits are those of an imported memory or table.
	Limits Limits
}

// Export is one export of a module (before instrumentation).
type Export struct {
	Name  string
	Kind  ExternKind
	Index uint32
}

// Module is an instrumented module and what the host needs to know about
// the original.
type Module struct {
	// Binary is the instrumented module.
	Binary []byte
	// Imports are the module's imports, in order.
	Imports []Import
	// Exports are the original module's exports (the instrumentation's own
	// exports are not listed).
	Exports []Export
	// Memory is the module's memory, defined or imported; nil when it has
	// none.
	Memory *Limits
	// HasStart reports that the original had a start function; it is now
	// exported as ExportStart and must be called by the host (Meter.Start).
	HasStart bool
}
