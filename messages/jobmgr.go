package messages

import (
	"errors"
	"time"

	"github.com/ipfs/go-cid"
)

// Messages of the job manager (the jobs supervisor): submit a job, follow
// it through its states, cancel it. A job's id is the CID of its spec,
// stored as a dag-cbor block.

var (
	// ErrUnknownJob: no job has this id on this node.
	ErrUnknownJob = errors.New("jobs: unknown job")
	// ErrJobFinished: the job is already completed, failed or cancelled,
	// so it cannot be cancelled.
	ErrJobFinished = errors.New("jobs: job already finished")
	// ErrInvalidSpec: the job spec is malformed (no module, an input over
	// MaxJobInput, both Input and InputCID, ...); nothing was recorded.
	ErrInvalidSpec = errors.New("jobs: invalid job spec")
)

// Job spec defaults.
const (
	DefaultMaxMana     = 100
	DefaultBidWindowMS = 50
	MaxListedJobs      = 1000
)

// Job states, in the order a job moves through them; the last three are
// final.
// A job may go back from running to assigned (its executor failed it and
// the next bid takes it) or to bidding (no bid left to try).
const (
	JobSubmitted = "submitted"
	JobEscrowed  = "escrowed"
	JobAnnounced = "announced"
	JobBidding   = "bidding"
	JobAssigned  = "assigned"
	JobRunning   = "running"
	JobCompleted = "completed"
	JobFailed    = "failed"
	JobCancelled = "cancelled"
)

// Reasons a job fails that the job manager itself decides (the executor's
// are in jobs.go).
const (
	ReasonNoBids               = "no_bids"
	ReasonCancelled            = "cancelled"
	ReasonVerificationMismatch = "verification_mismatch"
	ReasonInsufficientMana     = "insufficient_mana"
	// ReasonPanicked: the job manager panicked handling the job too
	// often in a short time, so it gave up on it (its escrow released).
	ReasonPanicked = "panicked"
)

// JobFinal says whether state is completed, failed or cancelled.
func JobFinal(state string) bool {
	return state == JobCompleted || state == JobFailed || state == JobCancelled
}

// JobSpec is what a member asks to run. Its dag-cbor encoding is the job's
// identity: two submissions of the same spec are the same job.
type JobSpec struct {
	Module   cid.Cid
	Input    []byte  // stdin, at most MaxJobInput bytes; or
	InputCID cid.Cid // a raw block whose bytes are stdin
	Args     []string
	Env      map[string]string
	Limits   JobLimits
	// MaxMana is escrowed from the node's account for the job's life (0:
	// DefaultMaxMana); an executor is paid its price from it.
	MaxMana     uint64
	BidWindowMS uint64 // 0: DefaultBidWindowMS
	// Verify is how many executors run the job: 1 (0 means 1), or 2, when
	// their receipts must agree (output, exit code and fuel used) for the
	// job to complete. MaxMana then pays both: each bid is at most half.
	Verify int
	// MinReputation refuses the bids of executors whose reputation on this
	// node is below it (0 to 100; an executor without a record has 50).
	MinReputation uint64
}

// Roles of the executors of a verify-2 job beyond the first.
const (
	// RoleWitness runs the job alongside the executor.
	RoleWitness = "witness"
	// RoleTiebreaker runs it after the two disagreed: whichever of them it
	// agrees with outvotes the other.
	RoleTiebreaker = "tiebreaker"
)

// JobWitness is one more executor of a verify-2 job and what it answered.
type JobWitness struct {
	Role      string // RoleWitness or RoleTiebreaker
	Executor  string // DID
	Price     uint64
	FuelPrice uint64
	Cost      uint64      // as JobStatus.Cost
	Receipt   *JobReceipt // nil until it answered one that verified
}

// SubmitJob records and starts a job. The reply is a *JobStatus once the
// job is escrowed, ErrInvalidSpec, or ErrInsufficientMana (nothing
// recorded).
type SubmitJob struct{ Spec JobSpec }

// GetJob asks for a job's status (ErrUnknownJob).
type GetJob struct{ ID string }

// ListJobs lists jobs by id, those after After, in state State ("" any), at
// most Limit (0 or over MaxListedJobs: MaxListedJobs). The reply is a
// *JobList.
type ListJobs struct {
	State string
	Limit int
	After string
}

// JobList is one page of jobs; More says whether another follows.
type JobList struct {
	Jobs []JobStatus
	More bool
}

// CancelJob cancels a job that is not finished: the reply is its
// *JobStatus once cancelled, ErrUnknownJob or ErrJobFinished.
type CancelJob struct{ ID string }

// JobTransition is one state a job entered, and when.
type JobTransition struct {
	State string
	Time  time.Time
}

// JobStatus is a job as the manager has recorded it.
type JobStatus struct {
	ID       string
	Spec     JobSpec
	State    string
	History  []JobTransition
	Executor string // DID of the executor it is assigned to
	Price    uint64 // the assigned executor's price
	// FuelPrice is its price per messages.FuelUnit of fuel used, and Cost
	// what its run costs once it answered a receipt: JobCost(Price,
	// FuelPrice, the receipt's FuelUsed). A remote executor is paid Cost.
	FuelPrice uint64
	Cost      uint64
	Receipt   *JobReceipt
	Reason    string // a failed job: one of the Reason constants, then detail
	// Witnesses are a verify-2 job's other executors.
	Witnesses []JobWitness
	// Outvoted are the executors whose receipts the others outvoted (a
	// verify-2 job whose executors disagreed): they are not paid, and
	// their reputation on this node drops.
	Outvoted []string
	// Settled: the escrow of a finished job has been paid and released.
	Settled bool
	// Bids are the bids this node received for the job (its own among
	// them), one per bidder, its latest. Kept in memory only: after a
	// restart of the manager they are those of its bidding since.
	Bids []JobBidSeen
}

// JobBidSeen is one bid a submitter received.
type JobBidSeen struct {
	Executor  string // the bidder's DID
	Price     uint64
	FuelPrice uint64 // per FuelUnit of fuel used
	Time      time.Time
}
