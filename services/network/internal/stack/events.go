package stack

import (
	"sync"

	"github.com/intercooperative-network/icn-go/services/network"
)

// hub hands peer events to any number of subscribers without ever blocking
// the publisher (a libp2p notification callback): each subscriber has an
// unbounded queue drained by its own goroutine. Events are rare (one per
// peer coming or going), so the queue stays small unless a reader is gone
// for good, which cancel or close ends.
type hub struct {
	mu     sync.Mutex
	subs   map[*eventSub]struct{}
	wg     sync.WaitGroup
	closed bool
}

type eventSub struct {
	mu    sync.Mutex
	queue []network.PeerEvent
	wake  chan struct{}
	done  chan struct{}
	once  sync.Once
	out   chan network.PeerEvent
}

func newHub() *hub { return &hub{subs: map[*eventSub]struct{}{}} }

// subscribe returns a channel of events from now on and its cancel.
func (h *hub) subscribe() (<-chan network.PeerEvent, func()) {
	s := &eventSub{wake: make(chan struct{}, 1), done: make(chan struct{}), out: make(chan network.PeerEvent)}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		close(s.out)
		return s.out, func() {}
	}
	h.subs[s] = struct{}{}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		s.forward()
	}()
	return s.out, func() {
		h.mu.Lock()
		delete(h.subs, s)
		h.mu.Unlock()
		s.stop()
	}
}

func (s *eventSub) stop() { s.once.Do(func() { close(s.done) }) }

func (s *eventSub) forward() {
	defer close(s.out)
	for {
		s.mu.Lock()
		if len(s.queue) == 0 {
			s.mu.Unlock()
			select {
			case <-s.wake:
				continue
			case <-s.done:
				return
			}
		}
		e := s.queue[0]
		s.queue[0] = network.PeerEvent{}
		s.queue = s.queue[1:]
		s.mu.Unlock()
		select {
		case s.out <- e:
		case <-s.done:
			return
		}
	}
}

// publish queues e for every subscriber; it never blocks.
func (h *hub) publish(e network.PeerEvent) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		s.mu.Lock()
		s.queue = append(s.queue, e)
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
	}
}

// reopen lets a restarted network take subscribers again.
func (h *hub) reopen() {
	h.mu.Lock()
	h.closed = false
	h.mu.Unlock()
}

// close ends every subscription (their channels close) and waits for the
// forwarding goroutines.
func (h *hub) close() {
	h.mu.Lock()
	h.closed = true
	for s := range h.subs {
		s.stop()
		delete(h.subs, s)
	}
	h.mu.Unlock()
	h.wg.Wait()
}
