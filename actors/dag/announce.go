package dag

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/store"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// DefaultReprovideInterval is how often every pinned root is announced
// again when Config.ReprovideInterval is zero: libp2p's DHT forgets a
// provider record after 48 hours, so a few announces fit in that life.
const DefaultReprovideInterval = 12 * time.Hour

// Bounds of announcing pinned roots.
const (
	announceWorkers  = 8                // provider records put out at once
	announceTimeout  = 30 * time.Second // one record, the DHT walk included
	announceRetryMin = 2 * time.Second  // first retry after a failure; doubled each time
	announceRetryMax = 10 * time.Minute
)

// announcer puts provider records for this node's pinned roots on the DHT,
// through the peer manager, off the actor's goroutine: the actor only adds
// roots (which never blocks). Each root is queued once however often it
// is added; a failed announce is retried with a growing delay until it
// succeeds, the root is unpinned, or the announcer stops. On start and
// every interval it adds every pinned root in the store.
//
// One announcer lives for one incarnation of the actor.
type announcer struct {
	tree    *supervisors.Tree
	store   store.Store
	clock   clock.Clock
	metrics *Metrics
	log     *slog.Logger
	every   time.Duration // 0: no periodic announces

	ctx     context.Context
	cancel  context.CancelFunc
	workers sync.WaitGroup
	wake    chan struct{} // a root was queued

	mu       sync.Mutex
	stopped  bool
	queue    []cid.Cid
	pending  map[string]int         // queued, being announced or waiting to retry: failures so far
	retries  map[string]clock.Timer // waiting to retry
	schedule clock.Timer            // the next sweep
}

func newAnnouncer(tree *supervisors.Tree, s store.Store, clk clock.Clock, m *Metrics, log *slog.Logger, every time.Duration) *announcer {
	ctx, cancel := context.WithCancel(context.Background())
	return &announcer{tree: tree, store: s, clock: clk, metrics: m, log: log, every: every,
		ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1),
		pending: map[string]int{}, retries: map[string]clock.Timer{}}
}

// start runs the workers and the first sweep: the records of the previous
// run may have expired, or never gone out.
func (n *announcer) start() {
	for range announceWorkers {
		n.workers.Go(n.work)
	}
	n.workers.Go(n.sweep)
}

// stop ends the announces in flight and forgets the queue; the next
// incarnation's sweep queues every pinned root again.
func (n *announcer) stop() {
	n.mu.Lock()
	n.stopped = true
	for _, t := range n.retries {
		t.Stop()
	}
	if n.schedule != nil {
		n.schedule.Stop()
	}
	n.mu.Unlock()
	n.cancel()
	n.workers.Wait()
}

// add queues root unless it is queued already; it never blocks.
func (n *announcer) add(root cid.Cid) {
	n.mu.Lock()
	defer n.mu.Unlock()
	k := string(root.Bytes())
	if _, ok := n.pending[k]; ok || n.stopped {
		return
	}
	n.pending[k] = 0
	n.push(root)
}

// push puts root at the end of the queue; n.mu is held.
func (n *announcer) push(root cid.Cid) {
	n.queue = append(n.queue, root)
	select {
	case n.wake <- struct{}{}:
	default:
	}
}

// next waits for a root to announce; false once the announcer stops.
func (n *announcer) next() (cid.Cid, bool) {
	for {
		n.mu.Lock()
		if len(n.queue) > 0 {
			root := n.queue[0]
			n.queue = n.queue[1:]
			more := len(n.queue) > 0
			n.mu.Unlock()
			if more { // pass the wake-up on to another worker
				select {
				case n.wake <- struct{}{}:
				default:
				}
			}
			return root, true
		}
		n.mu.Unlock()
		select {
		case <-n.ctx.Done():
			return cid.Undef, false
		case <-n.wake:
		}
	}
}

func (n *announcer) work() {
	for {
		root, ok := n.next()
		if !ok {
			return
		}
		n.announce(root)
	}
}

// announce puts out one root's record, and settles what follows: done,
// dropped, or a retry after a delay.
func (n *announcer) announce(root cid.Cid) {
	k := string(root.Bytes())
	if _, err := n.store.Get(n.ctx, key(prefixPin, root)); errors.Is(err, store.ErrNotFound) {
		n.settle(k) // unpinned since: nothing to announce
		return
	}
	ctx, cancel := context.WithTimeout(n.ctx, announceTimeout)
	_, err := n.tree.Request(ctx, peersName, &messages.Provide{CID: root})
	cancel()
	switch {
	case err == nil:
		n.metrics.announces.WithLabelValues("announced").Inc()
		n.settle(k)
	case errors.Is(err, supervisors.ErrNotFound):
		n.settle(k) // a node without a network: nobody to tell
	case n.ctx.Err() != nil:
		// Stopping: the next incarnation announces it.
	default:
		n.retry(root, err) // armed before it is counted: a test waits on the count
		n.metrics.announces.WithLabelValues("failed").Inc()
	}
}

func (n *announcer) settle(k string) {
	n.mu.Lock()
	delete(n.pending, k)
	n.mu.Unlock()
}

// retry queues root again after a delay that doubles with each failure.
func (n *announcer) retry(root cid.Cid, err error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.stopped {
		return
	}
	k := string(root.Bytes())
	failures := n.pending[k] + 1
	n.pending[k] = failures
	delay := retryDelay(failures)
	n.log.Debug("announce failed", "cid", root.String(), "failures", failures, "retry_in", delay, "err", err)
	n.retries[k] = n.clock.AfterFunc(delay, func() {
		n.mu.Lock()
		defer n.mu.Unlock()
		delete(n.retries, k)
		if !n.stopped {
			n.push(root)
		}
	})
}

// retryDelay is the wait after the given number of consecutive failures.
func retryDelay(failures int) time.Duration {
	d := announceRetryMin
	for i := 1; i < failures && d < announceRetryMax; i++ {
		d *= 2
	}
	return min(d, announceRetryMax)
}

// sweep arms the next sweep, then queues every pinned root.
func (n *announcer) sweep() {
	n.mu.Lock()
	if n.every > 0 && !n.stopped {
		n.schedule = n.clock.AfterFunc(n.every, func() {
			n.mu.Lock()
			defer n.mu.Unlock()
			if !n.stopped {
				n.workers.Go(n.sweep)
			}
		})
	}
	n.mu.Unlock()
	var roots int
	err := n.store.Scan(n.ctx, prefixPin, nil, func(k, _ []byte) error {
		c, err := cidOf(prefixPin, k)
		if err != nil {
			return err
		}
		n.add(c)
		roots++
		return nil
	})
	if err != nil && n.ctx.Err() == nil {
		n.log.Error("announce pinned roots: list pins", "err", err)
	} else if err == nil {
		n.log.Debug("announcing pinned roots", "roots", roots)
	}
}
