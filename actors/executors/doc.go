// Package executors is the executor pool: a supervisor (Spec) of N worker
// actors that will run WASM jobs in wazero and sign receipts. N = 0 means the
// node executes nothing.
//
// The pool and each worker accept messages.StatusRequest (answering
// *messages.SubsystemStatus). Workers reach wasm, dag and identity only
// through service interfaces.
package executors
