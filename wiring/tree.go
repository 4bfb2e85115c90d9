package wiring

import (
	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/fx"

	"github.com/intercooperative-network/icn-go/actors/dag"
	"github.com/intercooperative-network/icn-go/actors/executors"
	"github.com/intercooperative-network/icn-go/actors/governance"
	"github.com/intercooperative-network/icn-go/actors/jobs"
	"github.com/intercooperative-network/icn-go/actors/ledger"
	"github.com/intercooperative-network/icn-go/actors/peers"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// subsystems are the producers and specs the actor modules provide.
type subsystems struct {
	fx.In
	DAG        func() actor.Actor `name:"dag"`
	Ledger     func() actor.Actor `name:"ledger"`
	Peers      func() actor.Actor `name:"peers"`
	Jobs       *supervisors.Spec  `name:"jobs"`
	Executors  *supervisors.Spec  `name:"executors"`
	Governance func() actor.Actor `name:"governance"`
}

// RootName is the name of the node's root supervisor.
const RootName = "icn"

// nodeTree is the node's supervision tree, in one literal. Spec order is
// start order; shutdown goes the other way, so dag (which every other
// subsystem writes through) stops last. Timings come from Supervision.
func nodeTree(s subsystems) supervisors.Spec {
	return supervisors.Spec{
		Name:     RootName,
		Strategy: supervisors.OneForOne,
		Children: []supervisors.ChildSpec{
			{Name: dag.Name, Restart: supervisors.Permanent, New: s.DAG},
			{Name: ledger.Name, Restart: supervisors.Permanent, New: s.Ledger},
			{Name: peers.Name, Restart: supervisors.Permanent, New: s.Peers},
			{Name: jobs.Name, Restart: supervisors.Permanent, Supervisor: s.Jobs},
			{Name: executors.Name, Restart: supervisors.Permanent, Supervisor: s.Executors},
			{Name: governance.Name, Restart: supervisors.Permanent, New: s.Governance},
		},
	}
}

// supervisionDefaults turns the operator's timings into the policy every
// supervisor of the tree gets.
func supervisionDefaults(c Config) supervisors.Defaults {
	s := c.Supervision
	return supervisors.Defaults{
		Intensity: s.Intensity,
		Period:    s.Period,
		Backoff: supervisors.Backoff{
			Initial: s.BackoffInitial, Max: s.BackoffMax, Multiplier: 2,
			Jitter: s.BackoffJitter, ResetAfter: s.ResetAfter,
		},
		Breaker: supervisors.BreakerPolicy{
			OpenTimeout: s.BreakerOpen, MaxOpenTimeout: s.BreakerMaxOpen, Multiplier: 2,
			Probes: s.HalfOpenProbes, ProbeWindow: s.ProbeWindow,
		},
		Escalate: supervisors.Escalation{MaxTrips: s.EscalationTrips, Window: s.EscalationWindow},
		Shutdown: s.ShutdownTimeout,
	}
}
