package supervisors

import (
	"context"
	"sync/atomic"
)

// watcher is one subscriber to supervision events.
type watcher struct {
	ch      chan Event
	dropped atomic.Uint64
}

// Watch streams supervision events until ctx ends or the tree stops, then
// closes the channel. A watcher that falls more than buffer events behind
// loses events rather than slowing supervisors down; Dropped reports how many.
func (t *Tree) Watch(ctx context.Context, buffer int) (events <-chan Event, dropped func() uint64) {
	w := &watcher{ch: make(chan Event, max(buffer, 1))}
	t.watchMu.Lock()
	if t.stopped.Load() {
		t.watchMu.Unlock()
		close(w.ch)
		return w.ch, w.dropped.Load
	}
	t.watchers[w] = struct{}{}
	t.watchMu.Unlock()
	go func() {
		select {
		case <-ctx.Done():
		case <-t.done():
		}
		t.unwatch(w)
	}()
	return w.ch, w.dropped.Load
}

func (t *Tree) unwatch(w *watcher) {
	t.watchMu.Lock()
	defer t.watchMu.Unlock()
	if _, ok := t.watchers[w]; ok {
		delete(t.watchers, w)
		close(w.ch)
	}
}

func (t *Tree) publish(ev Event) {
	t.watchMu.Lock()
	defer t.watchMu.Unlock()
	for w := range t.watchers {
		select {
		case w.ch <- ev:
		default:
			w.dropped.Add(1)
		}
	}
}

func (t *Tree) done() <-chan struct{} { return t.stopCh }

func (t *Tree) closeWatchers() {
	t.watchMu.Lock()
	defer t.watchMu.Unlock()
	for w := range t.watchers {
		delete(t.watchers, w)
		close(w.ch)
	}
	close(t.stopCh)
}
