package wasm

import (
	"errors"
	"fmt"
)

// Errors a caller branches on (errors.Is). Each failed run also returns
// the Result gathered so far (output, fuel, wall time).
var (
	// ErrInvalidModule: the module does not decode or validate, uses a
	// feature that is not supported (see package fuel), or has no _start.
	// When the instrumenter rejected it, errors.As finds a
	// *fuel.ModuleError with the offset.
	ErrInvalidModule = errors.New("wasm: invalid module")
	// ErrForbiddenImport: the module imports something other than a
	// wasi_snapshot_preview1 function with its WASI signature. Nothing ran.
	ErrForbiddenImport = errors.New("wasm: forbidden import")
	// ErrOutOfFuel: the run cost more fuel than Limits.Fuel.
	ErrOutOfFuel = errors.New("wasm: out of fuel")
	// ErrTimeout: the run outlived Limits.Timeout (the wall-clock backstop).
	ErrTimeout = errors.New("wasm: timeout")
	// ErrMemory: the module asked for more linear memory than
	// Limits.MemoryPages, or exhausted its call stack (ErrStackOverflow).
	ErrMemory = errors.New("wasm: memory limit exceeded")
	// ErrStackOverflow: the call stack exceeded the deterministic budget of
	// fuel.StackBudget (infinite recursion). It matches ErrMemory too.
	ErrStackOverflow = fmt.Errorf("%w: call stack exhausted", ErrMemory)
	// ErrOutputTooLarge: stdout or stderr went over Limits.MaxOutputBytes;
	// the output is cut at the limit.
	ErrOutputTooLarge = errors.New("wasm: output too large")
	// ErrTrap: the module trapped (unreachable, out-of-bounds access,
	// division by zero, ...). A clean exit with a non-zero code is not an
	// error: Result.ExitCode carries it.
	ErrTrap = errors.New("wasm: trap")
	// ErrClosed: the engine is closed, or was closed during the run.
	ErrClosed = errors.New("wasm: engine closed")
)
