package peers

import "time"

// BreakerConfig says when a peer's breaker opens and for how long.
type BreakerConfig struct {
	Failures    int           // consecutive failures that open it
	OpenTimeout time.Duration // the first open period; doubled on each trip in a row
	MaxOpen     time.Duration // the longest open period
}

// DefaultBreaker opens after 3 failures in a row, for 500 ms doubling up to
// 30 s: a peer that comes back is tried again within seconds.
func DefaultBreaker() BreakerConfig {
	return BreakerConfig{Failures: 3, OpenTimeout: 500 * time.Millisecond, MaxOpen: 30 * time.Second}
}

// The breaker states, as reported.
const (
	stateClosed   = "closed"
	stateOpen     = "open"
	stateHalfOpen = "half_open"
)

// breaker guards outbound requests to one peer. Only the actor touches it.
type breaker struct {
	state     string
	failures  int // in a row, while closed
	trips     int // in a row, reset by a success
	openUntil time.Time
	probing   bool // a half-open probe is in flight
}

func newBreaker() breaker { return breaker{state: stateClosed} }

// allow says whether a request may go now; if not, how long until the
// breaker lets a probe through. A half-open breaker lets one request
// through at a time, the probe.
func (b *breaker) allow(now time.Time) (bool, time.Duration) {
	switch b.state {
	case stateOpen:
		if now.Before(b.openUntil) {
			return false, b.openUntil.Sub(now)
		}
		b.state = stateHalfOpen
		fallthrough
	case stateHalfOpen:
		if b.probing {
			return false, time.Second
		}
		b.probing = true
	}
	return true, 0
}

// success closes the breaker.
func (b *breaker) success() {
	*b = newBreaker()
}

// failure counts a failed request; it reports whether the breaker opened.
func (b *breaker) failure(now time.Time, c BreakerConfig) bool {
	b.probing = false
	if b.state == stateClosed {
		b.failures++
		if b.failures < c.Failures {
			return false
		}
	}
	open := c.OpenTimeout << min(b.trips, 16)
	b.state, b.failures, b.openUntil = stateOpen, 0, now.Add(min(open, c.MaxOpen))
	b.trips++
	return true
}

// reconnected moves an open breaker to half-open: the peer is back, so the
// next request is the probe rather than a wait for the timeout.
func (b *breaker) reconnected() {
	if b.state == stateOpen {
		b.state, b.probing = stateHalfOpen, false
	}
}
