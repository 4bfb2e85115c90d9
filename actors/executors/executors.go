package executors

import (
	"fmt"
	"strconv"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// Name is the subsystem's name in the supervision tree.
const Name = "executors"

// WorkerClass groups the workers in metric labels (/icn/executors/worker).
const WorkerClass = "worker"

// Spec is the executor pool: one_for_one over workers named worker-0 ...
// worker-(n-1); a worker that fails is restarted alone.
func Spec(workers int, c clock.Clock) *supervisors.Spec {
	s := &supervisors.Spec{
		Strategy: supervisors.OneForOne,
		Behavior: func(supervisors.Children) actor.Actor { return &pool{clock: c, workers: workers} },
	}
	for i := range workers {
		name := fmt.Sprintf("worker-%d", i)
		s.Children = append(s.Children, supervisors.ChildSpec{
			Name: name, Class: WorkerClass, Restart: supervisors.Permanent,
			New: func() actor.Actor { return &worker{name: name, clock: c} },
		})
	}
	return s
}

// pool is the behaviour of the executors supervisor.
type pool struct {
	clock   clock.Clock
	workers int
	since   time.Time
}

// Receive implements actor.Actor.
func (p *pool) Receive(c actor.Context) {
	switch c.Message().(type) {
	case *actor.Started:
		p.since = p.clock.Now()
	case *messages.StatusRequest:
		c.Respond(&messages.SubsystemStatus{Name: Name, Ready: true, Since: p.since,
			Details: map[string]string{"workers": strconv.Itoa(p.workers)}})
	}
}

// worker will run one job at a time.
type worker struct {
	name  string
	clock clock.Clock
	since time.Time
}

// Receive implements actor.Actor.
func (w *worker) Receive(c actor.Context) {
	switch c.Message().(type) {
	case *actor.Started:
		w.since = w.clock.Now()
	case *messages.StatusRequest:
		c.Respond(&messages.SubsystemStatus{Name: w.name, Ready: true, Since: w.since,
			Details: map[string]string{"state": "idle"}})
	}
}
