// Package fuel rewrites WebAssembly modules so that they meter their own
// work deterministically: the host gives a module fuel, every block of code
// burns a fixed amount from one cost table, and a module that runs out
// traps. It also bounds the call depth deterministically, and gives the
// host a way to stop a running module from another goroutine.
//
// It owns the binary decoder and encoder of the rewriter ([Instrument]),
// the cost table ([CostTableVersion] and the Cost* constants) and the
// host's view of an instrumented instance ([Meter]). It does not run
// modules, link imports or choose limits: that is services/wasm. It keeps
// no state between calls, and no input makes it panic.
//
// # What it accepts
//
// Core modules (binary version 1) using the instructions Go (GOOS=wasip1),
// TinyGo, Rust and Zig emit for WASI: the MVP, sign extension, the
// non-trapping float-to-int conversions (0xFC 0–7), bulk memory (0xFC
// 8–17), multi-value block types and reference types (typed select,
// ref.null, ref.is_null, ref.func, table.get/set/size/grow/fill/copy/init,
// several tables). Anything else (SIMD, threads and shared memory,
// exception handling, tail calls, typed function references, GC, memory64,
// multiple memories) and anything malformed is a *[ModuleError] that
// matches [ErrInvalidModule] and says at which byte offset decoding failed
// and why. Instrument checks structure, not types: validate its output
// (services/wasm compiles it with wazero, which validates) before running
// it. For every input wazero validates, the output validates too (the
// fuzz targets check this).
//
// # How a module burns fuel
//
// The fuel left lives in two exported mutable i64 globals added at the end
// of the global section (so no index shifts): a bank ([ExportFuel]) and
// the chunk currently handed to running code ([ExportChunk]); the fuel
// left is their sum. Each function gets an i64 local L, its counter, which
// wazero keeps in a register where it can (and an i64 for the stack
// budget, an i32 scratch, and the i64 shadows of refills, below).
//
//   - Function entry: L = chunk − cost; if L < 0, refill.
//   - Every metered block (a segment: the code from a point where control
//     can arrive from elsewhere up to the next such point) costs its static
//     cost, taken from L (L −= cost) where it starts, or in the segments
//     that enter it (below, "Charges that move"). Segments start at function entry, at a loop
//     header, at the start of an if's then and else arms, after the end of
//     an if or of a block that a branch targets (a merge point), and after
//     br_if. A guard is not a merge point: after an if without else whose
//     then-arm ends in unreachable and that nothing branches to, only the
//     false path arrives, so the code continues the segment before the if
//     (a run that traps at the guard pays for it too). Straight-line code
//     across nested blocks that nothing branches to, and across calls, is
//     one segment. Unreachable code is not charged.
//   - Every back edge (br, br_if or br_table to a loop) refills if L < 0.
//     Every cycle in the control flow either takes a back edge or recurses
//     through a function entry, and every loop header and entry costs at
//     least [MinCheckCost], so an empty `loop br 0` and an empty recursive
//     function both run out.
//   - Before each call, L is stored into the chunk global, and after it
//     L is loaded back; every exit (return, the final end, a branch to the
//     function's label, unreachable) stores L. Callees thus
//     continue from the caller's counter, and the host reads an exact value
//     after a run.
//   - memory.grow, memory.fill, memory.copy and memory.init also cost in
//     proportion to their size operand, charged (and checked) just before
//     they run.
//
// A refill, when L goes negative, calls a function added at the end of
// the function index space (no index shifts) that adds the bank to L; if
// the sum is still negative the module is out of fuel: the sum is stored,
// so the host sees a negative remainder, and the module traps
// (unreachable). Otherwise up to [Chunk] units move from the bank to L.
//
// The refill also yields: it executes memory.grow 0, which leaves wazero's
// compiled code for Go and back. Compiled WebAssembly never reaches a Go
// preemption point by itself, so without this a long call-free loop stops
// the whole process at the garbage collector's next stop-the-world until
// it ends. Measured on two cores: a 3.5 s loop in bare wazero froze
// another, allocating goroutine for 3.5 s; instrumented, the longest
// pause was 60 ms against 47 ms with no WebAssembly running at all. It
// then reads the interrupt global ([ExportInterrupt]): non-zero traps.
// [Meter.Interrupt] sets it (and poisons the chunk so that code returning
// from a blocked host call refills at once), which is how a host stops a
// module from another goroutine within one chunk of fuel.
//
// # Why this shape
//
// (Measured throughout on wazero v1.12's optimizing compiler, amd64, by
// reading the machine code it generates; the numbers below are ratios of
// instrumented to bare runs.)
//
// The counter in a register, checked only on back edges and at entries,
// costs an addition per segment and a subtract-compare-branch per
// iteration. The refill is where the cost hides: wazero's register
// allocator reloads a loop's values on the path where a cold block that
// contains a call (and memory.grow counts as one) rejoins the hot one.
// Measured on the WAT sieve (instrumented against bare, same run): refill
// through a helper function that rejoins the loop 1.3–1.5×, inline refill
// with the yield, rejoining, 1.4–2.1×, inline refill without any yield
// 1.0× (but the stop-the-world freeze above). The chosen shape puts the
// refill in its own branch that jumps straight back to the loop header
// (for loops without parameters: br becomes `if L>=0 { br } refill; br`,
// br_if becomes `if { if L>=0 { br } refill; br }`), so the hot path never
// merges with it: 1.0×, yield included. (The hot branch is the if's then,
// because wazero lays that out next: the hot path falls through the check
// instead of jumping over the refill. With `if L<0 { refill; br } br` it
// jumped, one more taken branch on every trip.) Loops with parameters and br_table
// back edges use the rejoining form. The refill being a function rather
// than inline code keeps the injected code small, which matters because
// wazero compiles all of it: compiling the instrumented Go corpus takes
// 1.4× as long as the original with the function, 2× with inline refills.
//
// The refill being a call has two costs of its own in wazero's register
// allocator, both paid on the hot path although the call is not. It
// stores a value that lives across a call to the stack where the value is
// defined, and a value merged at a block start (a phi) at every
// definition: every value carried round a loop lives across the loop's
// refill, so each would be stored on every trip (in a small Go loop: its
// counter and accumulator; bare, nothing). And it packs stack slots
// without aligning them: one 4-byte slot (an i32 parameter live across a
// function entry's refill, an i32 local of the instrumentation) shifts
// every 8-byte slot after it off its alignment, so the stores and loads
// that Go's loops make at every trip through their dispatch (below) may
// each straddle a cache line. So each refill renews the function's first
// [maxRenewed] locals around the call, bit for bit: an i64 becomes itself
// + 0 and an f64 goes through its bits, which makes the values that live
// across the call new ones defined on the cold path, whose stores are
// there too; an i32 or f32 moves, widened, into an i64 shadow local and
// back, so no 4-byte slot appears. (A function entry's refill renews
// nothing: no loop carries a value across it, and renewing the parameters
// made them phis stored on every call.) The stack budget global and local
// are i64s for the same reason. Measured on a Go sieve in its own
// function (bare and metered in pairs, one process, medians of 12–15,
// each binary with its own rewrites): 1.40–1.54× before, 1.20–1.26×
// after; a Go counted loop 1.19–1.21× before, 1.03–1.04× after; Go's
// SHA-256 1.16× before, 0.95× after. The price is size: the rewritten Go
// corpus is 71% larger than the original (44% before), its rewrite takes
// 35–42 ms (28–35 before) and its compilation about 8% longer. A
// function with more than [maxRenewals] renewals (Go's main, with its
// dispatch of every command) gets none. (A second local for the charges
// not yet taken from L, which kept a loop's subtractions off one
// dependency chain, went at the same time: measured, it made no
// difference, and it was one more value round every loop.)
//
// Measured overhead (BenchmarkCPULayouts in services/wasm: instrumented
// against bare wazero in compiler mode, alternating in one run, each
// workload in eight code layouts, on a two-core VM; docs/benchmarks.md
// has each run). Where a function's machine code falls relative to
// 64-byte lines moves a tight loop's time by up to a quarter, bare or
// metered, and every change to the rewrite moves every function, so one
// layout compares two draws; and a run is slowed by about a quarter
// whenever the VM's other CPU is busy, so the best of the runs is what
// the code costs. Ratio of the mean best times over the layouts: a
// 10^8-iteration loop 1.00× in WAT and 1.07–1.08× in Go; a prime sieve
// 0.74–0.85× in WAT (its bare runs are slow for a reason outside the
// metering: the inner loops' code is the same but for it)
// and 1.01–1.02× in Go; SHA-256 of 64 MiB in Go 0.95×. Single layouts
// range from 0.96× to 1.17×; the medians, from 1.03× (Go sieve) to
// 1.11–1.14× (Go loop). Go's loops cross their dispatch loop's header on
// every trip; the charges that move (below) take the Go sieve's inner
// loop from five subtractions a trip to two, and the Go loop's to one.
//
// Calls cost more too: each stores and reloads the counter and the stack
// budget (below); a naive recursive Fibonacci, nothing but calls, runs
// 1.5× slower. WithCloseOnContextDone, the alternative, is 4–30× on
// the same jobs. Rewriting a 3.8 MB Go-built module takes 29–48 ms; the
// module grows by 62% (Go code makes many calls, and each call site gains
// about 19 bytes; each refill's renewals about 7 bytes a local; the
// dispatch loops' entry charges about 3.5%), and wazero takes about 14%
// longer to compile it than it did with cost table 5.
//
// # Charges that move
//
// One trip round a tight Go loop crosses four or five segments, because
// Go's compiler puts a function's basic blocks in one loop whose header
// dispatches on a local ($pc) through a br_table, and jumps by setting
// $pc to a constant and branching to that loop: every block start is a
// merge point. Each segment's subtraction is small, but they are most of
// what metering adds to such a loop. So, once a function's costs are
// known, charges move (settle.go) where that leaves the fuel of every run
// exactly as it was:
//
//   - A loop header that is entered only by falling into the loop and by
//     br gives its charge to the segments that enter it: each does so as
//     the last thing it does, so the header is paid exactly when it is
//     entered (and before the br's check).
//   - From the last segment to the first, a segment that starts after a
//     block's, an if's or an else's end gives its charge, with all it was
//     given, to the segments that enter it, when every one of them enters
//     it unconditionally: the segment that falls into it (which comes
//     before it), each br to the block, and each jump through a dispatch loop
//     (`i32.const k; local.set $pc; br loop`, whose target the br_table's
//     entry k names). The dispatch loop's entry, where $pc is whatever the
//     caller passed (Go resumes a function this way), charges by a table
//     on $pc placed before the loop; $pc = 0, an ordinary call, costs one
//     compare there. A dispatch loop that is entered any other way (br_if,
//     br_table, or a br without a constant $pc) moves nothing to its
//     blocks, and neither does one that no jump enters backwards (a Go
//     function without loops): a call crosses each of its blocks at most
//     once, and the entry's table would cost more code than it saves.
//   - A segment that a conditional branch may reach keeps its charge.
//     One entered by a jump back (from a later segment: in WebAssembly
//     only a dispatch loop jumps back) gives its charge to that jump as
//     well. The jump's segment has given its own charge away already
//     (segments give from the last to the first) and keeps what it
//     receives then, so every cycle stays charged, at its jump back,
//     before the check there.
//
// The segment after an if whose then-arm cannot fall through also keeps
// its charge: the segment before the if could take it only if the
// then-arm gave it back, and a check in between (at a call) would see
// fuel missing that the run never uses. TestMovedChargesKeepFuelExact
// runs the WAT, Rust, C and Go corpora instrumented both ways and
// compares the fuel used, unit for unit. In the Go corpus 14% of the
// charges go (75,213 to 64,820). A trip round the Go sieve's inner loop
// pays two subtractions (five with every charge kept; three before jumps
// back took charges), and a trip round the Go counted loop one (two).
//
// # Determinism
//
// The fuel a run uses depends only on the module, its input and the cost
// table: the same on any machine. Every segment entered is charged in full
// when it is entered, or earlier, in a segment that enters it for certain
// (a moved charge), so fuel used = the sum of the costs of the segments
// entered plus the size-dependent costs. Running out is detected at the
// next check (entry or back edge), or by the host after the run (the
// remainder is negative): a run that does not trap fails for fuel if and
// only if its cost exceeds the fuel given, and then it used at most the
// charges taken since the last check more than it was given. After a trap other than running out, the remainder
// read by the host is the one stored at the last call or return before
// the trap (still deterministic). Only an Interrupt, which comes from the
// host's clock, makes a run's outcome depend on time.
//
// # Call depth
//
// wazero's own stack limit depends on the native frame sizes its compiler
// produces, which differ between amd64 and arm64, so infinite recursion
// would stop at a different depth, with different fuel used, on different
// machines. Each function entry therefore takes FrameBase + parameters +
// locals (four for those the instrumentation adds) + its operand stack +
// 3 per renewal of a local at a refill (which gives the frame stack slots,
// above) units from a budget global ([ExportStack], [StackBudget] units)
// and traps when it would go negative; the caller restores the budget
// after each call returns. (wazero stops a module whose stack outgrows 50
// to 100 MB: its ceiling is counted in bytes although its comment says
// 8-byte words. A function with more than 512 renewals gets none, so that
// the weight stays reasonable.) A one-parameter recursive function stops after about 466,000
// frames; its native frames (about 40 bytes, measured) then use about a
// quarter of wazero's limit, which it reaches at 2.1 million. Go code is
// not constrained in practice: a Go function recursing 1.6 million deep
// runs, because Go unwinds its WebAssembly stack as its own stack grows.
// A function with few locals but a very large native frame could still
// reach wazero's limit first; that is reported as an ordinary trap.
//
// # Other changes to the module
//
//   - A start function is not run at instantiation: it is exported as
//     [ExportStart], and [Meter.Start] runs it once the fuel is set.
//   - A module without a memory gets an empty one (for the yield).
//   - DWARF custom sections (.debug_*) are dropped: their code offsets
//     would be wrong. The name section and other custom sections are kept.
//   - Exports whose names start with "__icn_" are reserved; a module that
//     has one is rejected (so is an already instrumented module).
//
// # Using an instrumented module
//
//	m, err := fuel.Instrument(wasmBytes)        // cache m.Binary by (CID, CostTableVersion)
//	compiled, err := runtime.CompileModule(ctx, m.Binary)
//	mod, err := runtime.InstantiateModule(ctx, compiled, cfg.WithStartFunctions())
//	meter, err := fuel.NewMeter(mod)
//	meter.Reset(limit)
//	err = meter.Start(ctx)                       // the original start function, if any
//	_, err = mod.ExportedFunction("_start").Call(ctx)
//	meter.OutOfFuel(), meter.StackExhausted(), meter.Used()
package fuel
