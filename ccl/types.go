package ccl

import "github.com/intercooperative-network/icn-go/ccl/wasmenc"

// Type is a CCL type. Mana is Integer and Boolean is Bool: aliases have
// no Type of their own.
type Type uint8

// The types of CCL v1.
const (
	Invalid      Type = iota // the type of an expression that has an error
	Integer                  // i64; Mana is an alias
	Bool                     // i32 0 or 1; Boolean is an alias
	Timestamp                // i64 seconds since the Unix epoch
	Duration                 // i64 seconds
	Did                      // i32 address of a length-prefixed string
	String                   // i32 address of a length-prefixed string
	ArrayInteger             // i32 address of an immutable array
	ArrayDid                 // i32 address of an immutable array
)

// String returns the type as written in CCL.
func (t Type) String() string {
	switch t {
	case Integer:
		return "Integer"
	case Bool:
		return "Bool"
	case Timestamp:
		return "Timestamp"
	case Duration:
		return "Duration"
	case Did:
		return "Did"
	case String:
		return "String"
	case ArrayInteger:
		return "Array<Integer>"
	case ArrayDid:
		return "Array<Did>"
	}
	return "invalid type"
}

// isArray reports whether t is an array type.
func (t Type) isArray() bool { return t == ArrayInteger || t == ArrayDid }

// elem is the element type of an array type.
func (t Type) elem() Type {
	switch t {
	case ArrayInteger:
		return Integer
	case ArrayDid:
		return Did
	}
	return Invalid
}

// arrayOf is the array type of elements of type t, or Invalid.
func arrayOf(t Type) Type {
	switch t {
	case Integer:
		return ArrayInteger
	case Did:
		return ArrayDid
	}
	return Invalid
}

// isBytes reports whether values of t are length-prefixed strings.
func (t Type) isBytes() bool { return t == Did || t == String }

// isI64 reports whether values of t are i64 numbers.
func (t Type) isI64() bool { return t == Integer || t == Timestamp || t == Duration }

// wasm is the WebAssembly type of t's values inside a module.
func (t Type) wasm() wasmenc.ValType {
	if t.isI64() {
		return wasmenc.I64
	}
	return wasmenc.I32
}

// lookupType resolves a type name (and, for Array, its element's).
func lookupType(name string) (Type, bool) {
	switch name {
	case "Integer", "Mana":
		return Integer, true
	case "Bool", "Boolean":
		return Bool, true
	case "Timestamp":
		return Timestamp, true
	case "Duration":
		return Duration, true
	case "Did":
		return Did, true
	case "String":
		return String, true
	}
	return Invalid, false
}
