// Package wasmtest supports the tests of services/wasm and services/wasm/fuel:
// it reads the committed WAT corpus and builds the Go corpus
// (examples/wasm/corpus) for GOOS=wasip1. It must not be imported by
// non-test code.
//
// It keeps its builds and wazero's compilation cache in the system's
// temporary directory (icn-wasmtest), keyed by content, so that the Go
// corpus is built and compiled once, not once per test binary; nothing it
// makes is committed.
package wasmtest
