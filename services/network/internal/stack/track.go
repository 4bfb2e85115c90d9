package stack

import "sync"

// tracker counts goroutines of one run so Stop can wait for all of them,
// including those started by libp2p callbacks racing with Stop: once closed
// it refuses new ones instead of misusing a WaitGroup.
type tracker struct {
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

// enter registers one goroutine; false once the tracker is closed.
func (t *tracker) enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.wg.Add(1)
	return true
}

func (t *tracker) leave() { t.wg.Done() }

// Go runs f in a tracked goroutine, or not at all once closed.
func (t *tracker) Go(f func()) bool {
	if !t.enter() {
		return false
	}
	go func() {
		defer t.leave()
		f()
	}()
	return true
}

// closeAndWait refuses new goroutines and waits for the running ones.
func (t *tracker) closeAndWait() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.wg.Wait()
}
