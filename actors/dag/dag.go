package dag

import (
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/clock"
)

// Name is the subsystem's name in the supervision tree.
const Name = "dag"

// Actor is the dag subsystem actor.
type Actor struct {
	clock clock.Clock
	since time.Time
}

// New returns the producer the supervisor calls on every (re)start: each
// call makes a fresh Actor.
func New(c clock.Clock) func() actor.Actor {
	return func() actor.Actor { return &Actor{clock: c} }
}

// Receive implements actor.Actor.
func (a *Actor) Receive(c actor.Context) {
	switch c.Message().(type) {
	case *actor.Started:
		a.since = a.clock.Now()
	case *messages.StatusRequest:
		c.Respond(&messages.SubsystemStatus{Name: Name, Ready: true, Since: a.since})
	}
}
