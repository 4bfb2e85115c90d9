// Package clocktest is a manual clock for tests: time moves only when the
// test calls Advance, which runs the timers that fall due, in order.
package clocktest

import (
	"slices"
	"sync"
	"time"

	"github.com/intercooperative-network/icn-go/services/clock"
)

// Fake is a clock.Clock that moves only on Advance.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
}

var _ clock.Clock = (*Fake)(nil)

// New returns a clock set to start.
func New(start time.Time) *Fake { return &Fake{now: start} }

// Now implements clock.Clock.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.now
}

// AfterFunc implements clock.Clock: f runs in its own goroutine when
// Advance passes its time, as with time.AfterFunc.
func (f *Fake) AfterFunc(d time.Duration, fn func()) clock.Timer {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := &timer{clock: f, at: f.now.Add(d), fn: fn}
	f.timers = append(f.timers, t)
	return t
}

// Advance moves the clock forward by d and fires the timers due.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	var due []*timer
	f.timers = slices.DeleteFunc(f.timers, func(t *timer) bool {
		if !t.at.After(f.now) {
			due = append(due, t)
			return true
		}
		return false
	})
	f.mu.Unlock()
	slices.SortFunc(due, func(a, b *timer) int { return a.at.Compare(b.at) })
	for _, t := range due {
		go t.fn()
	}
}

type timer struct {
	clock *Fake
	at    time.Time
	fn    func()
}

func (t *timer) Stop() bool {
	f := t.clock
	f.mu.Lock()
	defer f.mu.Unlock()
	n := len(f.timers)
	f.timers = slices.DeleteFunc(f.timers, func(x *timer) bool { return x == t })
	return len(f.timers) < n
}
