// Package wasmenc encodes WebAssembly binary modules: the small subset the
// CCL code generator needs (function types, function imports, one memory,
// i32/i64 globals, exports, code and active data segments) and an
// instruction builder with LEB128 immediates.
//
// It is an encoder only: it does not decode, validate or run modules
// (wazero does that), and it does not check that the code it is given is
// well typed. Its output depends only on its input: the same Module always
// encodes to the same bytes. It keeps no state between calls.
package wasmenc
