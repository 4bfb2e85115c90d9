package messages

import (
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"
)

// Messages of the executor pool (the executors supervisor): run one WASM
// job on a free worker and answer a signed receipt.

var (
	// ErrJobFailed: the job ran (or tried to) and failed; the error is a
	// *JobFailure whose Reason says why.
	ErrJobFailed = errors.New("job failed")
	// ErrNoCapacity: every worker of the pool is busy (or the pool has
	// none); retry later or elsewhere. Nothing was started.
	ErrNoCapacity = errors.New("executors: no free worker")
	// ErrInvalidJob: the request itself is malformed (no module, input
	// over MaxJobInput, both Input and InputCID, an input block that
	// cannot be found); nothing ran.
	ErrInvalidJob = errors.New("executors: invalid job")
)

// MaxJobInput bounds RunJob.Input (the 1 MiB).
const MaxJobInput = 1 << 20

// MaxReceiptStderr bounds JobReceipt.Stderr: the receipt keeps the tail of
// the log only, so that a chatty job cannot bloat a signed record.
const MaxReceiptStderr = 4 << 10

// Reasons a job fails, the prefixes of JobFailure.Reason. The executor
// produces all but ReasonExitCode, which the job manager decides from a
// receipt's ExitCode.
const (
	ReasonTimeout         = "timeout"
	ReasonFuel            = "fuel"
	ReasonMemory          = "memory"
	ReasonInvalidModule   = "invalid_module"
	ReasonForbiddenImport = "forbidden_import"
	ReasonOutputTooLarge  = "output_too_large"
	ReasonExitCode        = "exit_code"
	ReasonExecutorLost    = "executor_lost"
)

// JobLimits bound one run; zero fields take the engine's defaults.
type JobLimits struct {
	MemoryMB       uint32
	TimeoutMS      uint64
	MaxOutputBytes int
	Fuel           uint64
}

// RunJob asks the executor pool to run a WASI command. The reply is a
// *JobReceipt (also for a non-zero exit code), a *JobFailure, ErrNoCapacity
// or ErrInvalidJob.
type RunJob struct {
	// JobID is the job manager's id (the CID of the job spec); it is
	// carried into the receipt.
	JobID string
	// Module is the CID of the WASM module; the executor fetches it from
	// other nodes when it lacks it.
	Module cid.Cid
	// Input is stdin, at most MaxJobInput bytes; or InputCID names a
	// block whose bytes are stdin. Not both.
	Input    []byte
	InputCID cid.Cid
	Args     []string
	Env      map[string]string
	Limits   JobLimits
}

// CancelRun stops the run of a job on the executor pool, if one is in
// flight: its worker abandons the run, and the RunJob is answered a
// *JobFailure with ReasonCancelled. The reply is a *CancelRunReply.
type CancelRun struct{ JobID string }

// CancelRunReply says whether a run of the job was in flight.
type CancelRunReply struct{ Cancelled bool }

// JobReceipt is the executor's signed account of a run, as stored in the
// DAG (a dag-cbor block whose CID is CID).
type JobReceipt struct {
	CID      cid.Cid // of the stored receipt block
	JobID    string
	Executor string // DID of the executor node that signed it
	Module   cid.Cid
	Input    cid.Cid // raw block of stdin
	Output   cid.Cid // raw block of stdout
	ExitCode uint32
	FuelUsed uint64
	// CostTableVersion is the fuel cost table FuelUsed is measured in
	// (services/wasm/fuel.CostTableVersion); 0 on a receipt signed before
	// receipts recorded it. Fuel is comparable only within one version.
	CostTableVersion uint32
	WallMS           uint64
	// CPUMicros is the CPU time the run took on the executor's thread, in
	// microseconds (compiling the module not counted); 0 where it is not
	// measured (only Linux measures it) and on older receipts. Unlike fuel
	// it differs from run to run, so no verification compares it.
	CPUMicros uint64
	// PeakMemoryBytes is the largest the module's linear memory grew.
	PeakMemoryBytes uint64
	// Stderr is the last MaxReceiptStderr bytes of the log.
	Stderr []byte
	Time   time.Time
	Sig    []byte
}

// JobFailure is a job that did not produce a receipt. It matches
// ErrJobFailed with errors.Is.
type JobFailure struct {
	JobID  string
	Reason string // one of the Reason constants
	Detail string
}

func (f *JobFailure) Error() string {
	if f.Detail == "" {
		return fmt.Sprintf("job %s failed: %s", f.JobID, f.Reason)
	}
	return fmt.Sprintf("job %s failed: %s: %s", f.JobID, f.Reason, f.Detail)
}

// Is makes a *JobFailure match ErrJobFailed.
func (f *JobFailure) Is(target error) bool { return target == ErrJobFailed }
