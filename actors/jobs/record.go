package jobs

import (
	"fmt"
	"slices"
	"time"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
)

// refPrefix names the jobs' refs: jobs/<id> points at the job's latest
// record, which links its spec (and receipt), so the ref keeps them all.
const refPrefix = "jobs/"

func jobRef(id string) string { return refPrefix + id }

// specNode is a JobSpec as stored: its CID is the job id.
type specNode struct {
	Module      block.Link        `cbor:"module"`
	Input       []byte            `cbor:"input,omitempty"`
	InputCID    *block.Link       `cbor:"input_cid,omitempty"`
	Args        []string          `cbor:"args,omitempty"`
	Env         map[string]string `cbor:"env,omitempty"`
	MemoryMB    uint32            `cbor:"memory_mb,omitempty"`
	TimeoutMS   uint64            `cbor:"timeout_ms,omitempty"`
	MaxOutput   int               `cbor:"max_output_bytes,omitempty"`
	Fuel        uint64            `cbor:"fuel,omitempty"`
	MaxMana     uint64            `cbor:"max_mana"`
	BidWindowMS uint64            `cbor:"bid_window_ms"`
	Verify      int               `cbor:"verify"`
	// omitempty: specs without it keep the ids they had.
	MinReputation uint64 `cbor:"min_reputation,omitempty"`
}

// normalize checks a spec and fills in its defaults, so that the stored
// spec (and so the job id) says exactly what runs.
func normalize(s messages.JobSpec) (messages.JobSpec, error) {
	switch {
	case !s.Module.Defined():
		return s, fmt.Errorf("%w: no module", messages.ErrInvalidSpec)
	case len(s.Input) > messages.MaxJobInput:
		return s, fmt.Errorf("%w: input of %d bytes (max %d)", messages.ErrInvalidSpec, len(s.Input), messages.MaxJobInput)
	case len(s.Input) > 0 && s.InputCID.Defined():
		return s, fmt.Errorf("%w: both input and input_cid", messages.ErrInvalidSpec)
	case s.Verify < 0 || s.Verify > 2:
		return s, fmt.Errorf("%w: verify %d (1: one executor, 2: two that must agree)", messages.ErrInvalidSpec, s.Verify)
	case s.MinReputation > 100:
		return s, fmt.Errorf("%w: min_reputation %d (reputation is 0 to 100)", messages.ErrInvalidSpec, s.MinReputation)
	}
	if s.MaxMana == 0 {
		s.MaxMana = messages.DefaultMaxMana
	}
	if s.Verify == 2 && s.MaxMana < 2 {
		return s, fmt.Errorf("%w: verify 2 pays two executors from max_mana, which must be at least 2 (it is %d)", messages.ErrInvalidSpec, s.MaxMana)
	}
	if s.BidWindowMS == 0 {
		s.BidWindowMS = messages.DefaultBidWindowMS
	}
	if s.Verify == 0 {
		s.Verify = 1
	}
	if len(s.Input) == 0 {
		s.Input = nil
	}
	if len(s.Args) == 0 {
		s.Args = nil
	}
	if len(s.Env) == 0 {
		s.Env = nil
	}
	return s, nil
}

func encodeSpec(s messages.JobSpec) (block.Block, error) {
	n := specNode{Module: block.LinkTo(s.Module), Input: s.Input, Args: s.Args, Env: s.Env,
		MemoryMB: s.Limits.MemoryMB, TimeoutMS: s.Limits.TimeoutMS, MaxOutput: s.Limits.MaxOutputBytes, Fuel: s.Limits.Fuel,
		MaxMana: s.MaxMana, BidWindowMS: s.BidWindowMS, Verify: s.Verify, MinReputation: s.MinReputation}
	if s.InputCID.Defined() {
		l := block.LinkTo(s.InputCID)
		n.InputCID = &l
	}
	return block.Encode(n)
}

func decodeSpec(b block.Block) (messages.JobSpec, error) {
	var n specNode
	if err := block.Decode(b, &n); err != nil {
		return messages.JobSpec{}, err
	}
	s := messages.JobSpec{Module: n.Module.Cid, Input: n.Input, Args: n.Args, Env: n.Env,
		Limits:  messages.JobLimits{MemoryMB: n.MemoryMB, TimeoutMS: n.TimeoutMS, MaxOutputBytes: n.MaxOutput, Fuel: n.Fuel},
		MaxMana: n.MaxMana, BidWindowMS: n.BidWindowMS, Verify: n.Verify, MinReputation: n.MinReputation}
	if n.InputCID != nil {
		s.InputCID = n.InputCID.Cid
	}
	return s, nil
}

// transition is one entry of a record's history.
type transition struct {
	State string `cbor:"state"`
	Time  int64  `cbor:"time"` // Unix milliseconds
}

// record is a job's state as stored: a new block per transition, the ref
// jobs/<id> moved to it by compare-and-swap.
type record struct {
	Spec     block.Link   `cbor:"spec"`
	State    string       `cbor:"state"`
	History  []transition `cbor:"history"`
	Executor string       `cbor:"executor,omitempty"`
	// ExecutorPeer is the executor's peer ID ("" when it is this node).
	ExecutorPeer string `cbor:"executor_peer,omitempty"`
	// Attempts counts the executors the job was assigned to.
	Attempts int    `cbor:"attempts,omitempty"`
	Price    uint64 `cbor:"price,omitempty"`
	// FuelPrice is the executor's price per messages.FuelUnit used.
	FuelPrice uint64      `cbor:"fuel_price,omitempty"`
	Receipt   *block.Link `cbor:"receipt,omitempty"`
	Reason    string      `cbor:"reason,omitempty"`
	// Witness and Tiebreaker are a verify-2 job's other executors.
	Witness    *helper `cbor:"witness,omitempty"`
	Tiebreaker *helper `cbor:"tiebreaker,omitempty"`
	// Outvoted are the executors whose receipts lost the vote.
	Outvoted []string `cbor:"outvoted,omitempty"`
	// Failed are the executors that failed the job (lost it, or answered
	// a receipt that did not verify), in order: the job is not given to
	// them again, and their reputation drops when it settles.
	Failed []string `cbor:"failed,omitempty"`
	// Settled: the escrow of a final job has been released (or paid).
	// Final and unsettled is the one final state a restart resumes.
	Settled bool `cbor:"settled"`
}

// helper is one more executor of a verify-2 job (the executor itself is
// the record's Executor fields, as for any job).
type helper struct {
	Executor  string      `cbor:"executor"`
	Peer      string      `cbor:"peer,omitempty"` // "" when it is this node
	Price     uint64      `cbor:"price,omitempty"`
	FuelPrice uint64      `cbor:"fuel_price,omitempty"`
	Receipt   *block.Link `cbor:"receipt,omitempty"`
}

// to returns the record moved to state at t.
func (r record) to(state string, t time.Time) record {
	r.History = append(r.History[:len(r.History):len(r.History)], transition{State: state, Time: t.UnixMilli()})
	r.State = state
	return r
}

// failed says whether executor failed the job.
func (r record) failed(executor string) bool { return slices.Contains(r.Failed, executor) }

// failedBy returns the record with executor counted as having failed the job.
func (r record) failedBy(executor string) record {
	if executor != "" && !r.failed(executor) {
		r.Failed = append(r.Failed[:len(r.Failed):len(r.Failed)], executor)
	}
	return r
}

// helpers are the record's verify-2 helpers by role, those it has.
func (r record) helpers() map[string]*helper {
	out := map[string]*helper{}
	if r.Witness != nil {
		out[messages.RoleWitness] = r.Witness
	}
	if r.Tiebreaker != nil {
		out[messages.RoleTiebreaker] = r.Tiebreaker
	}
	return out
}

// status is the record as the manager reports it; witnesses holds the
// verify-2 helpers' receipts by role.
func (r record) status(id string, spec messages.JobSpec, receipt *messages.JobReceipt, witnesses map[string]*messages.JobReceipt) messages.JobStatus {
	s := messages.JobStatus{ID: id, Spec: spec, State: r.State, Executor: r.Executor, Price: r.Price, FuelPrice: r.FuelPrice,
		Receipt: receipt, Reason: r.Reason, Settled: r.Settled, Outvoted: r.Outvoted}
	if receipt != nil {
		s.Cost = messages.JobCost(r.Price, r.FuelPrice, receipt.FuelUsed)
	}
	for _, h := range []struct {
		role string
		h    *helper
	}{{messages.RoleWitness, r.Witness}, {messages.RoleTiebreaker, r.Tiebreaker}} {
		if h.h != nil {
			w := messages.JobWitness{Role: h.role, Executor: h.h.Executor, Price: h.h.Price, FuelPrice: h.h.FuelPrice}
			if h.h.Receipt != nil {
				w.Receipt = witnesses[h.role]
			}
			if w.Receipt != nil {
				w.Cost = messages.JobCost(w.Price, w.FuelPrice, w.Receipt.FuelUsed)
			}
			s.Witnesses = append(s.Witnesses, w)
		}
	}
	for _, h := range r.History {
		s.History = append(s.History, messages.JobTransition{State: h.State, Time: time.UnixMilli(h.Time).UTC()})
	}
	return s
}
