// Package executors is the executor pool: a supervisor (Spec) of N worker
// actors that run WASM jobs (messages.RunJob) with the node's wasm.Engine
// and answer signed receipts. N = 0 means the node executes nothing.
//
// The pool hands a job to a free worker (one job per worker) or answers
// messages.ErrNoCapacity at once. The worker reads the module and the input
// from the dag (fetching them from other nodes when needed; a module larger
// than a block is chunked, see block.SplitModule, and joined here), runs the
// module off its own goroutine, pinned to one thread whose CPU clock gives
// the receipt's CPU time (Linux only), stores stdout (and an inline input)
// as raw blocks and the receipt as a dag-cbor block signed by the node's
// key under the domain "icn/job/receipt/v1\n", and answers
// *messages.JobReceipt.
//
// A non-zero exit code is a receipt, not a failure: the output and log are
// kept and the job manager decides (failed "exit_code"). A run that fails
// answers *messages.JobFailure with the reason the engine's error maps to
// (timeout, fuel, memory, invalid_module, forbidden_import,
// output_too_large; a trap is exit_code). A worker killed or panicking
// mid-job cancels its run, and the pool answers executor_lost; the pool
// also answers executor_lost for a job whose worker never reports within
// the job's bound, and for every job in flight when the pool itself
// stops. Every job is answered exactly once.
//
// The pool and each worker accept messages.StatusRequest (answering
// *messages.SubsystemStatus: the pool with workers, busy and free counts,
// a worker with its state and job). VerifyReceipt checks a receipt block
// for the job manager.
package executors
