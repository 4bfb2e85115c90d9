package messages

import (
	"math"
	"math/bits"
)

// Wire types and bodies of the cross-node job lifecycle. The bodies are
// JSON inside a signed envelope: the envelope says who sent them (its DID
// is checked against the libp2p key), so a body never needs to prove its
// author.
const (
	// WireJobAnnounce is gossip on the jobs topic: a submitter announces a
	// job (body JobAnnouncement) and executors' nodes answer with a bid.
	WireJobAnnounce = "jobs.announce"
	// WireJobBid is an RPC to the submitter's node: one bid (body JobBid).
	WireJobBid = "jobs.bid"
	// WireJobAssign is an RPC to the chosen executor's node (body
	// JobAssignment): it starts the job unless it runs already, and answers
	// a JobAssignReply when the run ends or, after a few seconds, one that
	// says it is still pending. The submitter asks again until the run
	// ends: no request outlives the network's serving bound, however long
	// the job, and a silent executor is noticed within one ask.
	WireJobAssign = "jobs.assign"
	// WireJobCancel is an RPC to an executor's node (body JobCancel): the
	// job was cancelled, stop its run. Only the node that assigned the run
	// may stop it.
	WireJobCancel = "jobs.cancel"
)

// JobCancel asks the executor's node to stop a job's run.
type JobCancel struct {
	JobID string `json:"job_id"`
}

// JobAnnouncement is what executors need to decide whether to bid; the
// spec block itself (the job id is its CID) is fetchable from the
// submitter's node.
type JobAnnouncement struct {
	JobID     string `json:"job_id"`
	Module    string `json:"module"`
	MaxMana   uint64 `json:"max_mana"`       // the most one bid may cost (half the job's max_mana for verify 2)
	Fuel      uint64 `json:"fuel,omitempty"` // the job's fuel limit (0: the engine's default)
	TimeoutMS uint64 `json:"timeout_ms,omitempty"`
	MemoryMB  uint32 `json:"memory_mb,omitempty"`
	Submitter string `json:"submitter"` // DID
}

// JobBid is an executor node's offer to run a job. The bidder is the
// envelope's author; Bidder repeats it so that the bid reads on its own.
type JobBid struct {
	JobID  string `json:"job_id"`
	Bidder string `json:"bidder"` // DID
	Price  uint64 `json:"price"`
	// FuelPrice is added per FuelUnit of fuel the run uses (JobCost).
	FuelPrice uint64 `json:"fuel_price,omitempty"`
	Free      int    `json:"free"` // free workers when the bid was made
}

// FuelUnit is the fuel a bid's fuel price is for: about a second of CPU
// (see services/wasm/fuel).
const FuelUnit = 1_000_000_000

// JobCost is what an executor whose bid was price and fuelPrice is paid
// for a run that used fuelUsed: the price, plus the fuel price for each
// FuelUnit used, the last one rounded up.
func JobCost(price, fuelPrice, fuelUsed uint64) uint64 {
	units := fuelUsed / FuelUnit
	if fuelUsed%FuelUnit != 0 {
		units++
	}
	hi, fuel := bits.Mul64(units, fuelPrice)
	total, carry := bits.Add64(price, fuel, 0)
	if hi != 0 || carry != 0 {
		return math.MaxUint64
	}
	return total
}

// JobAssignment gives a job to the executor that won its bidding.
type JobAssignment struct {
	JobID    string `json:"job_id"`
	Spec     string `json:"spec"` // CID of the spec block (the job id)
	Executor string `json:"executor"`
}

// AssignBusy is the JobAssignReply.Reason of an executor node whose
// workers all stayed busy (with its own jobs, or others') for as long as
// it would wait for one: the job goes to another bid, and the executor is
// not blamed for it.
const AssignBusy = "busy"

// AssignUnavailable is the JobAssignReply.Reason of an executor node that
// could not fetch the job's module or input (their holder, usually the
// submitter, was not reachable): no fault of the executor, and nothing it
// keeps, so that asking again runs the job.
const AssignUnavailable = "unavailable"

// JobAssignReply is the executor node's answer once the job ran: the CID
// of its signed receipt, or the failure the executor reported (Reason is
// one of the Reason constants), so that the submitter can tell a job that
// broke its limits from an executor that lost it.
type JobAssignReply struct {
	Pending bool   `json:"pending,omitempty"` // still running: ask again
	Receipt string `json:"receipt,omitempty"`
	Reason  string `json:"reason,omitempty"`
	Detail  string `json:"detail,omitempty"`
}
