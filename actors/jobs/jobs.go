package jobs

import (
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// Name is the subsystem's name in the supervision tree.
const Name = "jobs"

// Spec is the jobs supervisor: one_for_one over dynamic job actors, with the
// manager behaviour answering the subsystem's own messages.
func Spec(c clock.Clock) *supervisors.Spec {
	return &supervisors.Spec{
		Strategy: supervisors.OneForOne,
		Behavior: func(children supervisors.Children) actor.Actor {
			return &manager{clock: c, children: children}
		},
	}
}

// manager is the behaviour of the jobs supervisor.
type manager struct {
	clock    clock.Clock
	children supervisors.Children
	since    time.Time
	active   int
}

// Receive implements actor.Actor.
func (m *manager) Receive(c actor.Context) {
	switch c.Message().(type) {
	case *actor.Started:
		m.since = m.clock.Now()
	case *messages.StatusRequest:
		c.Respond(&messages.SubsystemStatus{Name: Name, Ready: true, Since: m.since,
			Details: map[string]string{"active_jobs": strconv.Itoa(m.active)}})
	}
}
