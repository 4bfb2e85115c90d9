// Package clock is the time source of ICN's actors and services (DESIGN rule
// 4): code asks a Clock for the time instead of calling time.Now, so tests can
// run on fake time. It holds no state and must not grow domain logic.
package clock

import "time"

// Timer is an armed timer; Stop reports whether it stopped it before it fired.
type Timer = interface{ Stop() bool }

// Clock tells the time and arms timers.
type Clock interface {
	Now() time.Time
	AfterFunc(d time.Duration, f func()) Timer
}

// Real is the wall clock.
type Real struct{}

// Now returns time.Now().
func (Real) Now() time.Time { return time.Now() }

// AfterFunc calls f in its own goroutine after d.
func (Real) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
