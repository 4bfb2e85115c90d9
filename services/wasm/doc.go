// Package wasm is the WebAssembly execution engine of a node: it runs mesh
// jobs (WASI preview 1 commands, [Engine.Run]) for the executors, and
// single exported functions ([Engine.Call]) for the CCL policy runtime,
// on wazero in compiler mode, with every module metered by package fuel.
//
// It owns the wazero runtime, the WASI and host-module linking, the
// caches of instrumented and compiled modules, and the enforcement of a
// run's [Limits]. It holds no domain state (no jobs, no receipts, no
// money), registers no metrics, and never uses wazero's
// WithCloseOnContextDone, which makes loops 10–90 times slower.
//
// # The job ABI
//
// A job is a WASI preview 1 command: its _start runs with Job.Stdin as
// standard input (the whole of it; reads never block), standard output as
// the result and standard error as the log, each cut at
// Limits.MaxOutputBytes. Its arguments are Job.Args after argv[0] = "job",
// its environment Job.Env (in name order). It has no filesystem (no
// preopened directories: opening a file fails with an errno, and the job
// usually exits non-zero), no sockets and no network. Its clock is
// virtual, so that runs are reproducible: both clocks start at
// 2025-01-01T00:00:00Z, advance by 1 µs per reading and by the requested
// time per sleep; a sleep also waits that long for real (so a sleeping job
// occupies its worker and meets its timeout). random_get is wazero's
// deterministic source: jobs get no secret randomness. An exit with a
// non-zero code is a result (Result.ExitCode), not an error.
//
// A module may import only functions of wasi_snapshot_preview1 (all of
// wazero's, with their WASI signatures); anything else fails with
// [ErrForbiddenImport] before anything is instantiated. [Engine.Call]
// also accepts the functions of host modules linked with
// [WithHostModule].
//
// # Limits and errors
//
//   - Fuel: the module is instrumented (package fuel); a run that costs
//     more than Limits.Fuel fails with [ErrOutOfFuel]. Result.FuelUsed is
//     exact and the same on any machine for the same module, input and
//     limits; it is what a receipt carries.
//   - Memory: linear memory is allocated by the engine, and a request to
//     grow past Limits.MemoryPages fails (memory.grow returns -1) and
//     stops the run with [ErrMemory]; so does a module whose initial memory
//     is already too large, before it runs. Infinite recursion stops at the
//     deterministic stack budget of package fuel with [ErrStackOverflow],
//     which matches ErrMemory too.
//   - Output: writing past Limits.MaxOutputBytes fails the write, keeps
//     what fitted and stops the run with [ErrOutputTooLarge].
//   - Time: Limits.Timeout is a wall-clock backstop. A timer stops the run
//     with [ErrTimeout]: it wakes a host call that waits (a sleep, a stdin
//     that blocks) and interrupts the module through its fuel globals
//     (fuel.Meter.Interrupt), which the module notices within one fuel
//     chunk (about a millisecond of work) or as soon as the host call
//     returns. The context given to Run stops the run the same way.
//   - Anything else the module does wrong is an [ErrTrap]; a module that
//     does not decode or validate is [ErrInvalidModule].
//
// A run that fails returns the Result gathered so far with the error.
// Memory and output stops happen on the module's own goroutine, so their
// FuelUsed is reproducible too; after a timeout, a cancelled context or
// Close it is not.
//
// # Caching
//
// An instrumented, compiled module is cached in memory (least recently
// used first out, WithCacheSize entries) by (Job.Key, fuel.CostTableVersion):
// the key must identify the module's bytes, e.g. their CID; an empty key
// makes the engine hash the bytes. Concurrent runs of one key wait for a
// single compilation, and only the run that compiled reports the time it
// took (Result.Compile, CallResult.Compile). With WithCacheDir, wazero keeps the compiled code on
// disk too, and the engine keeps the instrumented modules next to it, by
// (key, cost-table version) like the memory cache (dir/icn-fuel-vN-rM for
// cost-table version N and fuel.RewriteVersion M, a file per key): a restarted node neither rewrites nor
// compiles anything it did before. An entry is written to a temporary file
// and renamed, and checked when read (version, lengths, CRC-32C of the
// entry and of the module it was made from, so a key reused for other
// bytes is a miss, not the wrong rewrite); one that fails is a miss, and
// is replaced. The entries hold what the rewriter made, so a change to its
// output must bump fuel.CostTableVersion, as a change of charges already
// does. For the 3.8 MB Go module of the tests: about 2 s cold (wazero
// alone needs 1.1 s for the original, 1.6 s for the instrumented module),
// 0.2 s with a warm disk cache, 1 µs from memory.
//
// # Concurrency and shutdown
//
// An Engine is safe for concurrent use; each run has its own instance.
// [Engine.Close] stops the runs in flight (they fail with [ErrClosed]),
// waits for them and releases the runtime. [Module] provides the engine to
// an fx graph and closes it on stop.
package wasm
