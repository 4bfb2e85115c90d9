package messages

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ipfs/go-cid"
)

// Messages of the governance actor about CCL contracts: publishing one
// (compile, store its three blocks), reading its manifest, and evaluating
// an entry point against a snapshot.
//
// messages imports nothing of ICN's, so the compiler's and the runtime's
// own error values (ccl.ErrorList, *runtime.Trap, *runtime.Error) travel
// inside these types as Err, where errors.As finds them within the node;
// the fields say the same in plain values for anything outside it.

var (
	// ErrCompile: the source does not compile (a *CompileError says where).
	ErrCompile = errors.New("contracts: compile error")
	// ErrContractMismatch: the stored source, recompiled by this node's
	// compiler, does not give the stored module (or the manifest names
	// another compiler version, or describes another module).
	ErrContractMismatch = errors.New("contracts: the source does not compile to the published module")
	// ErrUnknownContract: no manifest by that CID on this node, or the
	// block is not a contract manifest.
	ErrUnknownContract = errors.New("contracts: unknown contract")
	// ErrNoEntryPoint: the contract exports no such entry point.
	ErrNoEntryPoint = errors.New("contracts: no such entry point")
	// ErrBadArguments: the arguments do not match the entry point.
	ErrBadArguments = errors.New("contracts: bad arguments")
	// ErrBadSnapshot: the snapshot JSON does not decode or is invalid.
	ErrBadSnapshot = errors.New("contracts: bad snapshot")
	// ErrContractTrap: the call trapped (a *ContractTrap says how).
	ErrContractTrap = errors.New("contracts: trap")
)

// PublishContract compiles Source and stores it as a contract: the source
// and the module as raw blocks and a dag-cbor manifest linking both, in
// one put that pins the manifest recursively. The reply, *ContractInfo,
// comes once the blocks are durable; a compile error is a *CompileError.
// Publishing the same source twice gives the same CIDs. Filename is used
// in error positions only.
type PublishContract struct {
	Filename string
	Source   []byte
}

// GetContract reads a contract's manifest: *ContractInfo, or
// ErrUnknownContract.
type GetContract struct{ CID cid.Cid }

// ContractInfo describes a published contract.
type ContractInfo struct {
	Manifest        cid.Cid // the manifest block: the contract's identity
	WASM            cid.Cid
	Source          cid.Cid
	CompilerVersion string
	Entries         []ContractEntry // in source order
	Imports         []string        // the host functions the module imports, in import order
}

// ContractEntry is an exported entry point: its parameter and result
// types as CCL spells them ("Integer", "Did", ...).
type ContractEntry struct {
	Name   string
	Params []string
	Result string
}

// EvalContract calls the entry point Entry of the contract whose manifest
// is CID with Args (one per parameter, as text: a whole number, true or
// false, a DID, or a String as is) against Snapshot (the snapshot JSON of
// docs/ccl.md; empty is the empty snapshot). The node recompiles the
// source and refuses the contract with ErrContractMismatch unless it gives
// the stored module. The reply is *EvalResult; a trap is a *ContractTrap.
type EvalContract struct {
	CID      cid.Cid
	Entry    string
	Args     []string
	Snapshot []byte
}

// EvalResult is what the entry point returned and the fuel it used.
// Type is the CCL type of the result; Integer, Timestamp and Duration use
// Int, Bool uses Bool, Did and String use Str.
type EvalResult struct {
	Type     string
	Int      int64
	Bool     bool
	Str      string
	FuelUsed uint64
}

// SourceError is one positioned compile error.
type SourceError struct {
	File    string
	Line    int
	Col     int
	Message string
}

// String returns "file:line:col: message".
func (e SourceError) String() string {
	return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Message)
}

// CompileError is a source that does not compile: every error, in source
// order. It is ErrCompile, and Err (the compiler's ccl.ErrorList) is
// reachable with errors.As.
type CompileError struct {
	Errors []SourceError
	Err    error
}

// Error returns the first error, and how many more there are.
func (e *CompileError) Error() string {
	switch len(e.Errors) {
	case 0:
		return ErrCompile.Error()
	case 1:
		return ErrCompile.Error() + ": " + e.Errors[0].String()
	}
	return fmt.Sprintf("%s: %s (and %d more)", ErrCompile, e.Errors[0], len(e.Errors)-1)
}

// Unwrap returns ErrCompile and the compiler's error.
func (e *CompileError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrCompile}
	}
	return []error{ErrCompile, e.Err}
}

// ContractTrap is a call that trapped: Kind is the trap's name
// (require_failed, overflow, divide_by_zero, index_out_of_bounds,
// missing_param, memory_limit, fuel_exhausted), Message the require's
// message or the missing parameter. It is ErrContractTrap, and Err (the
// runtime's *runtime.Trap) is reachable with errors.As.
type ContractTrap struct {
	Kind     string
	Message  string
	FuelUsed uint64
	Err      error
}

// Error returns "contracts: trap kind[: message]".
func (t *ContractTrap) Error() string {
	var b strings.Builder
	b.WriteString(ErrContractTrap.Error() + " " + t.Kind)
	if t.Message != "" {
		b.WriteString(": " + t.Message)
	}
	return b.String()
}

// Unwrap returns ErrContractTrap and the runtime's trap.
func (t *ContractTrap) Unwrap() []error {
	if t.Err == nil {
		return []error{ErrContractTrap}
	}
	return []error{ErrContractTrap, t.Err}
}
