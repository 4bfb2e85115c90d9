package supervisors

import (
	"fmt"
	"strings"
	"time"
)

// Status is what an actor is doing, as the registry shows it.
type Status int32

const (
	// Running: a process exists and takes messages.
	Running Status = iota
	// Restarting: a restart is pending (backoff) or in progress.
	Restarting
	// Stopped: no process; the breaker may be open, or the child exited for good.
	Stopped
)

func (s Status) String() string {
	switch s {
	case Running:
		return "running"
	case Restarting:
		return "restarting"
	case Stopped:
		return "stopped"
	}
	return fmt.Sprintf("status(%d)", int32(s))
}

// BreakerState is the state of a child's circuit breaker. Its numeric value is
// the one exported by the icn_breaker_state gauge.
type BreakerState int32

const (
	Closed   BreakerState = 0
	HalfOpen BreakerState = 1
	Open     BreakerState = 2
)

func (b BreakerState) String() string {
	switch b {
	case Closed:
		return "closed"
	case HalfOpen:
		return "half_open"
	case Open:
		return "open"
	}
	return fmt.Sprintf("breaker(%d)", int32(b))
}

// KillMode is how fault injection kills an actor.
type KillMode int

const (
	// KillPanic makes the actor panic inside its own receive, so the failure
	// goes through supervision like any bug would.
	KillPanic KillMode = iota
	// KillStop stops the actor at once; queued messages go to dead letters.
	KillStop
	// KillPoison stops the actor after it has handled what is already queued.
	KillPoison
)

var killModeNames = [...]string{"panic", "stop", "poison"}

func (m KillMode) String() string {
	if m < 0 || int(m) >= len(killModeNames) {
		return fmt.Sprintf("mode(%d)", int(m))
	}
	return killModeNames[m]
}

// ParseKillMode reads "panic", "stop" or "poison".
func ParseKillMode(s string) (KillMode, error) {
	for i, n := range killModeNames {
		if n == s {
			return KillMode(i), nil
		}
	}
	return 0, fmt.Errorf("%w: %q (want %s)", ErrBadKillMode, s, strings.Join(killModeNames[:], ", "))
}

// FailureInfo describes the last failure of an actor.
type FailureInfo struct {
	Reason      string    `json:"reason"`
	Time        time.Time `json:"time"`
	MessageType string    `json:"message_type,omitempty"`
}

// EventType names what happened to an actor.
type EventType string

const (
	EventStarted    EventType = "started"    // first start
	EventFailed     EventType = "failed"     // panicked, escalated, or was killed abnormally
	EventExited     EventType = "exited"     // the process ended
	EventRestarting EventType = "restarting" // a restart is scheduled after Delay
	EventRestarted  EventType = "restarted"  // started again
	EventBreaker    EventType = "breaker"    // breaker moved From -> To
	EventEscalated  EventType = "escalated"  // the supervisor failed itself (or, at the root, absorbed it)
	EventKilled     EventType = "killed"     // fault injection was applied (Reason holds the mode)
	EventRemoved    EventType = "removed"    // the child spec was deleted
	EventStopped    EventType = "stopped"    // stopped on purpose (shutdown, breaker, removal)
)

// Event is one supervision fact, as logged, counted and streamed to watchers.
type Event struct {
	Time   time.Time     `json:"time"`
	Path   string        `json:"path"`
	Type   EventType     `json:"type"`
	From   string        `json:"from,omitempty"`
	To     string        `json:"to,omitempty"`
	Reason string        `json:"reason,omitempty"`
	Delay  time.Duration `json:"delay_ns,omitempty"`
	// RequestID is the correlation id of the request that caused the event
	// (a kill, or a call the actor failed on), if any.
	RequestID string `json:"request_id,omitempty"`
}
