package ccl

import "github.com/intercooperative-network/icn-go/ccl/wasmenc"

// HostModule is the module name of every function a compiled program
// imports.
const HostModule = "icn"

// MaxHostBytes is the most bytes a Did or String the host hands to a
// module may have (a Did result, or a Did or String argument of an entry
// point): the module gives the host a buffer of this size.
const MaxHostBytes = 1024

// HostFunc is one function of the icn host module: its CCL signature, and
// the WebAssembly signature of its import, which is derived from the CCL
// one (see the package documentation, "The host ABI"). The runtime must
// provide every function of HostFuncs with exactly this WebAssembly
// signature; a compiled module imports only those it uses.
type HostFunc struct {
	Name string
	// Params and Result are the CCL signature. Result is Invalid for a
	// function without a result (only internal ones).
	Params []Type
	Result Type
	// Internal functions are the module's side of the ABI (traps,
	// arguments and results); CCL source cannot call them.
	Internal bool
	// WasmParams and WasmResults are the import's signature.
	WasmParams, WasmResults []wasmenc.ValType
	// Doc says what the function returns, for the runtime's author.
	Doc string
}

// HostFuncs returns the icn host table, in import order; the slice is a
// fresh copy.
func HostFuncs() []HostFunc {
	i32, i64 := wasmenc.I32, wasmenc.I64
	fs := []HostFunc{
		{Name: "member_count", Result: Integer, Doc: "the number of members"},
		{Name: "member_at", Params: []Type{Integer}, Result: Did,
			Doc: "the member at an index, members sorted by DID; traps index_out_of_bounds outside [0, member_count)"},
		{Name: "is_member", Params: []Type{Did}, Result: Bool, Doc: "whether a DID is a member"},
		{Name: "vote_count", Params: []Type{Integer}, Result: Integer,
			Doc: "the votes cast for an option: 1 yes/consent/agree, 2 no/objection/disagree, 3 abstain/stand-aside, 4 veto/block; 0 for any other"},
		{Name: "votes_cast", Result: Integer, Doc: "the number of votes cast"},
		{Name: "vote_of", Params: []Type{Did}, Result: Integer, Doc: "a DID's vote (an option as in vote_count), 0 when it did not vote"},
		{Name: "now", Result: Timestamp, Doc: "the evaluation time fixed by the snapshot"},
		{Name: "proposal_created", Result: Timestamp, Doc: "when the proposal was created"},
		{Name: "voting_ends", Result: Timestamp, Doc: "when voting ends"},
		{Name: "proposer", Result: Did, Doc: "the proposal's author"},
		{Name: "caller", Result: Did, Doc: "who asked for the evaluation"},
		{Name: "proposal_param", Params: []Type{String}, Result: Integer,
			Doc: "a numeric parameter of the proposal; traps missing_param when it has none of that name"},
		{Name: "balance_of", Params: []Type{Did}, Result: Integer, Doc: "a DID's mana balance"},
		{Name: "reputation_of", Params: []Type{Did}, Result: Integer, Doc: "a DID's reputation"},
		{Name: "treasury", Result: Did, Doc: "the cooperative's treasury account"},
		{Name: "trap", Internal: true, WasmParams: []wasmenc.ValType{i32, i32, i32},
			Doc: "trap(code, msg, msg_len): stop the call with trap code (a TrapCode) and, for require_failed, the message's bytes at msg (msg_len 0 without one); it must not return (the module executes unreachable if it does)"},
		{Name: "arg", Internal: true, WasmParams: []wasmenc.ValType{i32, i32, i32}, WasmResults: []wasmenc.ValType{i32},
			Doc: "arg(index, buf, cap) -> len: write the Did or String argument the caller passed as index into buf (at most cap = MaxHostBytes bytes) and return its length"},
		{Name: "result", Internal: true, WasmParams: []wasmenc.ValType{i32, i32},
			Doc: "result(ptr, len): the Did or String an entry point returns, just before it returns len"},
	}
	for i := range fs {
		f := &fs[i]
		if f.Internal {
			continue
		}
		for _, p := range f.Params {
			f.WasmParams = append(f.WasmParams, paramABI(p)...)
		}
		switch {
		case f.Result.isBytes(): // (buf, cap) -> len
			f.WasmParams = append(f.WasmParams, i32, i32)
			f.WasmResults = []wasmenc.ValType{i32}
		case f.Result.isI64():
			f.WasmResults = []wasmenc.ValType{i64}
		default:
			f.WasmResults = []wasmenc.ValType{i32}
		}
	}
	return fs
}

// paramABI is how a value of type t is passed to a host function: a Did
// or String as the address and length of its bytes.
func paramABI(t Type) []wasmenc.ValType {
	if t.isBytes() {
		return []wasmenc.ValType{wasmenc.I32, wasmenc.I32}
	}
	return []wasmenc.ValType{t.wasm()}
}

// LookupHost returns the host function called name.
func LookupHost(name string) (HostFunc, bool) {
	for _, f := range HostFuncs() {
		if f.Name == name {
			return f, true
		}
	}
	return HostFunc{}, false
}

// TrapCode says why a call trapped. Compiled code passes the codes up to
// TrapMemoryLimit to icn.trap; the others are raised by the runtime.
type TrapCode int32

// Trap codes. The numbers are part of the ABI: never renumber them.
const (
	TrapRequireFailed    TrapCode = 1 // require(cond, msg) with cond false
	TrapOverflow         TrapCode = 2 // + - * / or unary - outside the range of i64
	TrapDivideByZero     TrapCode = 3 // / or % by zero
	TrapIndexOutOfBounds TrapCode = 4 // a[i] with i < 0 or i >= len(a); member_at out of range
	TrapMemoryLimit      TrapCode = 5 // the heap needs more than MaxMemoryPages
	TrapMissingParam     TrapCode = 6 // proposal_param of an unknown key (raised by the host)
	TrapFuelExhausted    TrapCode = 7 // out of fuel (raised by the runtime)
)

// String returns the trap's name as the issue and the API spell it.
func (c TrapCode) String() string {
	switch c {
	case TrapRequireFailed:
		return "require_failed"
	case TrapOverflow:
		return "overflow"
	case TrapDivideByZero:
		return "divide_by_zero"
	case TrapIndexOutOfBounds:
		return "index_out_of_bounds"
	case TrapMemoryLimit:
		return "memory_limit"
	case TrapMissingParam:
		return "missing_param"
	case TrapFuelExhausted:
		return "fuel_exhausted"
	}
	return "unknown_trap"
}

// EntryPoint is an exported function the runtime knows by name. A program
// may export any subset; a policy with one of these names must have this
// signature.
type EntryPoint struct {
	Name   string
	Params []Type
	Result Type
}

// EntryPoints returns the entry points the runtime knows, as a fresh slice.
func EntryPoints() []EntryPoint {
	return []EntryPoint{
		{Name: "eligible", Params: []Type{Did}, Result: Bool},
		{Name: "passes", Result: Bool},
		{Name: "vetoed", Result: Bool},
		{Name: "price", Params: []Type{Integer, Integer, Integer}, Result: Integer},
		{Name: "seat", Params: []Type{Integer}, Result: Did},
		{Name: "run", Result: Integer},
	}
}

// MaxMemoryPages is the most linear memory a compiled module declares, in
// 64 KiB pages.
const MaxMemoryPages = 16
