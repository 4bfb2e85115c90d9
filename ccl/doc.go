// Package ccl compiles CCL, the Cooperative Contract Language, to
// WebAssembly: a hand-written lexer and recursive-descent parser, a type
// checker, and a code generator that emits modules with package wasmenc.
// The same source and [Version] always give byte-identical output.
//
// It compiles and nothing else: it does not run modules, link host
// functions, read snapshots, meter fuel or store contracts (the CCL
// runtime and services/wasm do, and every module it emits goes through
// package fuel's instrumenter before it runs). It does no I/O and keeps no
// state between calls. [Compile] returns the module with the list of its
// exports and imports, or an [ErrorList] of positioned errors and no
// module; [HostFuncs] is the host table the compiler and the runtime share.
// [CompileWASI] makes a whole program (fn run) a WASI command instead, for
// the mesh. Package ccl/runtime runs compiled policies against a snapshot;
// docs/ccl.md describes the language and holds the acceptance corpus.
//
// # The language (v1)
//
// A program is a list of declarations:
//
//	const NAME: Type = expr;                 // a constant, computed by the compiler
//	fn name(p: Type, ...) -> Type { ... }    // an internal function
//	policy name(p: Type, ...) -> Type { ... } // an exported entry point
//	fn run() -> Integer { ... }              // a whole program, exported as run
//
// Types: Integer (i64; Mana is an alias), Bool (Boolean), Timestamp and
// Duration (seconds; distinct), Did, String, Array<Integer> and
// Array<Did>. Literals: 42, -9223372036854775808, 1_000, true, "text" (with
// \" \\ \n \t), did:key:z6Mk... (any DID method, W3C syntax), durations
// 7 days, 24 hours, 30 minutes, 10 seconds (also day, hour, minute,
// second, week, weeks), arrays [1, 2, 3]. Statements: let x[: T] = e;
// x = e; if / else if / else; while cond { }; for x in array { };
// return e; require(cond[, "message"]); and a call whose value is dropped.
// Comments run from // to the end of the line.
//
// Rules the checker enforces, each a positioned error:
//   - No implicit conversions. Arithmetic: Integer + - * / % Integer;
//     Timestamp - Timestamp = Duration; Timestamp ± Duration = Timestamp;
//     Duration ± Duration = Duration; Duration × Integer (either side) =
//     Duration; Duration / Integer = Duration; Duration / Duration and
//     Timestamp / Duration = Integer (whole periods); Duration % Duration
//     and Timestamp % Duration = Duration. Unary - on Integer and
//     Duration. < <= > >= on Integer, Timestamp or Duration; == != on any
//     two values of one type but arrays; && || ! on Bool, short-circuit.
//     Precedence, loosest first: ||, &&, == !=, < <= > >=, + -, * / %,
//     unary - !, then a[i] and calls.
//   - A let is visible from the next statement to the end of its block. A
//     name that is visible (a variable of an enclosing block, a parameter
//     or a constant) cannot be declared again: there is no shadowing.
//   - Every path of a function returns (or loops in while true).
//   - A constant's value is an expression of literals, earlier constants,
//     operators, indexing and len; overflow there is a compile error.
//   - Only the functions of the program, len(array) and the host functions
//     of HostFuncs that are not Internal can be called.
//   - An exported function (policy, run) takes and returns Integer, Bool,
//     Timestamp, Duration, Did or String, not arrays; a policy named like
//     one of EntryPoints has its signature; names starting __icn_ are
//     reserved.
//
// Arrays are immutable. Integer arithmetic is checked: a result outside
// i64, MinInt64 / -1 and -MinInt64 trap with overflow, a zero divisor with
// divide_by_zero; a[i] outside [0, len(a)) traps with
// index_out_of_bounds; require(false, msg) traps with require_failed and
// msg.
//
// # The module
//
// A module imports only from "icn" (HostModule), and only the functions
// its code calls, in HostFuncs order. It has no start function and one
// memory of at least one page and at most MaxMemoryPages (16), not
// exported: host functions reach it through the calling module. Global 0
// is the heap's top. The data segment, from address 8, holds the string,
// DID and constant array literals, deduplicated; the heap follows and is
// never freed (an instance serves one call). A Did or String is the i32
// address of a u32 length followed by its bytes; an array is the address
// of a u32 length, 4 bytes of padding and its elements (i64 for Integer,
// the i32 address of each Did). A heap that would pass MaxMemoryPages
// traps with memory_limit.
//
// Exports are the policies and run, by name, in source order; a program
// may export any subset of EntryPoints and other policies. Output.Exports
// gives each one's CCL and WebAssembly signature.
//
// # The host ABI
//
// Integer, Timestamp and Duration are i64, Bool is an i32 0 or 1. Across
// the boundary, in either direction:
//   - A Did or String argument of a host function is two i32: the address
//     of its bytes and their length.
//   - A host function returning a Did takes two more i32 parameters, a
//     buffer and its capacity (MaxHostBytes), writes the bytes there and
//     returns their length (an i32).
//   - A Did or String parameter of an export is an i32 argument index that
//     the module hands back to icn.arg(index, buf, cap), which writes the
//     argument's bytes and returns their length. The runtime chooses the
//     index (the parameter's position is the natural choice).
//   - A Did or String result of an export is handed to icn.result(ptr,
//     len) just before the export returns; the export's own result is the
//     length.
//
// Traps reach the runtime through the always-linked import icn.trap(code,
// msg, msg_len): compiled code calls it with a [TrapCode] (and, for
// require_failed, the message's bytes) and executes unreachable right
// after, so a trap stops the call even if the host function returned. The
// runtime's trap must not return: it records or panics with a typed
// error, which wazero hands back from the call. member_at out of range
// and proposal_param of a missing key are trapped by the host itself
// (index_out_of_bounds, missing_param); running out of fuel is package
// fuel's.
package ccl
