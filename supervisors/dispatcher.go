package supervisors

import (
	"sync"
	"sync/atomic"
)

// dispatcher runs the tree's mailboxes on reused goroutines. protoactor's
// default dispatcher starts a new goroutine each time an idle mailbox gets a
// message; its stack then grows again through the middleware and actor
// frames, which in a request/response exchange costs more than the message
// itself. Here a goroutine that finishes a mailbox run waits for the next
// one (up to maxIdle of them wait); when none is waiting, a new one starts,
// so an actor that blocks never holds up the others.
type dispatcher struct {
	throughput int
	maxIdle    int32
	idle       atomic.Int32
	work       chan func() // unbuffered: a send succeeds only into a waiting worker
	quit       chan struct{}
	stopOnce   sync.Once
}

func newDispatcher(throughput, maxIdle int) *dispatcher {
	return &dispatcher{throughput: throughput, maxIdle: int32(maxIdle), work: make(chan func()), quit: make(chan struct{})}
}

// Schedule implements actor.Dispatcher.
func (d *dispatcher) Schedule(fn func()) {
	select {
	case d.work <- fn:
	default:
		go d.run(fn)
	}
}

// Throughput implements actor.Dispatcher: messages a mailbox handles before
// it yields.
func (d *dispatcher) Throughput() int { return d.throughput }

func (d *dispatcher) run(fn func()) {
	for {
		fn()
		if d.idle.Add(1) > d.maxIdle {
			d.idle.Add(-1)
			return
		}
		select {
		case fn = <-d.work:
			d.idle.Add(-1)
		case <-d.quit:
			d.idle.Add(-1)
			return
		}
	}
}

// stop releases the waiting goroutines; mailboxes scheduled later still run.
func (d *dispatcher) stop() { d.stopOnce.Do(func() { close(d.quit) }) }
