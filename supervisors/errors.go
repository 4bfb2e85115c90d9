package supervisors

import (
	"errors"
	"fmt"
	"time"
)

var (
	// ErrUnavailable is matched (errors.Is) by every *UnavailableError.
	ErrUnavailable = errors.New("supervisors: unavailable")
	// ErrNotFound: no actor has that path or name.
	ErrNotFound = errors.New("supervisors: no such actor")
	// ErrAmbiguous: a bare name matches several actors; use the path.
	ErrAmbiguous = errors.New("supervisors: ambiguous actor name")
	// ErrNotRunning: fault injection needs a running actor.
	ErrNotRunning = errors.New("supervisors: actor is not running")
	// ErrRootKill: the root supervisor cannot be killed (nothing would restart it).
	ErrRootKill = errors.New("supervisors: the root supervisor cannot be killed")
	// ErrBadKillMode: the mode is not panic, stop or poison.
	ErrBadKillMode = errors.New("supervisors: unknown kill mode")
	// ErrTimeout: the actor did not answer in time.
	ErrTimeout = errors.New("supervisors: request timed out")
	// ErrStopped: the tree has been stopped.
	ErrStopped = errors.New("supervisors: tree stopped")
	// ErrChildExists: a dynamic child with that name is already supervised.
	ErrChildExists = errors.New("supervisors: child already exists")
	// ErrUnhandled: a supervisor without a Behavior was asked something it
	// does not understand.
	ErrUnhandled = errors.New("supervisors: message not handled")
)

// UnavailableError says a call could not reach an actor because its breaker is
// open (or half-open with no probe left) or it is between processes. Callers
// should retry after RetryAfter; HTTP maps it to 503 with Retry-After.
type UnavailableError struct {
	Path       string
	State      string // the breaker state, or the status when the breaker is closed
	RetryAfter time.Duration
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("supervisors: %s is unavailable (%s), retry after %s", e.Path, e.State, e.RetryAfter.Round(time.Millisecond))
}

// Unwrap lets errors.Is(err, ErrUnavailable) match.
func (e *UnavailableError) Unwrap() error { return ErrUnavailable }

// ActorFailedError is the reply a caller gets when the actor panicked while
// handling its request; the actor itself is being restarted by its supervisor.
type ActorFailedError struct {
	Path   string
	Reason string
}

func (e *ActorFailedError) Error() string {
	return fmt.Sprintf("supervisors: %s failed while handling the request: %s", e.Path, e.Reason)
}

// InjectedFault is the panic value of a fault-injected panic.
type InjectedFault struct{ Path string }

func (f InjectedFault) String() string { return "injected panic (fault injection)" }

// EscalationError is the failure a supervisor reports to its parent when its
// children's breakers keep tripping.
type EscalationError struct {
	Path  string
	Trips int
}

func (e EscalationError) Error() string {
	return fmt.Sprintf("supervisors: %s escalates: %d breaker trips within the escalation window", e.Path, e.Trips)
}
