package supervisors

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// Strategy says which children restart when one of them fails (OTP's words).
type Strategy int

const (
	// OneForOne restarts only the child that failed.
	OneForOne Strategy = iota
	// OneForAll restarts every running child when one fails.
	OneForAll
	// RestForOne restarts the failed child and every running child after it in spec order.
	RestForOne
)

var strategyNames = [...]string{"one_for_one", "one_for_all", "rest_for_one"}

func (s Strategy) String() string {
	if s < 0 || int(s) >= len(strategyNames) {
		return fmt.Sprintf("strategy(%d)", int(s))
	}
	return strategyNames[s]
}

// ParseStrategy reads the word String gives back.
func ParseStrategy(s string) (Strategy, error) {
	for i, n := range strategyNames {
		if n == s {
			return Strategy(i), nil
		}
	}
	return 0, fmt.Errorf("supervisors: unknown strategy %q (want %s)", s, strings.Join(strategyNames[:], ", "))
}

// RestartType says when a child that stopped is started again.
type RestartType int

const (
	// Permanent children are always restarted.
	Permanent RestartType = iota
	// Transient children are restarted only after an abnormal exit (a panic, an
	// escalation, or a fault-injected stop); a normal exit (poison, or the child
	// stopping itself) leaves them stopped.
	Transient
	// Temporary children are never restarted; when they exit they are removed.
	Temporary
)

var restartNames = [...]string{"permanent", "transient", "temporary"}

func (r RestartType) String() string {
	if r < 0 || int(r) >= len(restartNames) {
		return fmt.Sprintf("restart(%d)", int(r))
	}
	return restartNames[r]
}

// Kind says whether an actor supervises others.
type Kind int

const (
	// Worker actors do the work and have no supervised children.
	Worker Kind = iota
	// SupervisorKind actors run a Spec.
	SupervisorKind
)

func (k Kind) String() string {
	if k == SupervisorKind {
		return "supervisor"
	}
	return "worker"
}

// Backoff spaces the restarts of one child: the first restart after a healthy
// period is immediate, then Initial, Initial×Multiplier, ... up to Max, each
// spread by ±Jitter. A child that stays up for ResetAfter starts over.
type Backoff struct {
	Initial    time.Duration
	Max        time.Duration
	Multiplier float64
	Jitter     float64 // fraction in [0, 1)
	ResetAfter time.Duration
}

// BreakerPolicy governs the circuit breaker the supervisor keeps per child.
type BreakerPolicy struct {
	// OpenTimeout is how long the first trip keeps the child stopped; each
	// consecutive trip multiplies it by Multiplier, up to MaxOpenTimeout.
	OpenTimeout    time.Duration
	MaxOpenTimeout time.Duration
	Multiplier     float64
	// Probes is how many calls a half-open child accepts before it is judged.
	Probes int
	// ProbeWindow closes the breaker of a half-open child that stayed up this
	// long without failing, even if no call came.
	ProbeWindow time.Duration
}

// Escalation says when a supervisor gives up on its own children's breakers
// and fails itself, so its parent restarts (or isolates) the whole subtree.
type Escalation struct {
	MaxTrips int           // breaker trips ...
	Window   time.Duration // ... within this window
}

// Spec is a supervisor: its strategy, restart budget and children, in OTP's words.
type Spec struct {
	// Name is the root's name; for a nested supervisor the ChildSpec's name is used.
	Name      string
	Strategy  Strategy
	Intensity int           // at most Intensity restarts ...
	Period    time.Duration // ... within Period, else the failing child's breaker opens
	Backoff   Backoff
	Breaker   BreakerPolicy
	Escalate  Escalation
	Children  []ChildSpec
	// Behavior, if set, gives the supervisor domain behaviour: it receives every
	// message the supervision protocol does not consume, and may start and stop
	// children. A fresh Behavior is made on each (re)start.
	Behavior func(Children) actor.Actor
}

// ChildSpec declares one child: a worker (New) or a nested supervisor (Supervisor).
type ChildSpec struct {
	Name     string
	Restart  RestartType
	Shutdown time.Duration // graceful stop budget before the child is stopped hard
	// New makes a fresh worker instance; it is called on every (re)start and
	// must not share state between instances.
	New        func() actor.Actor
	Supervisor *Spec
	// Class groups children in metric labels (default: Name), so that dynamic
	// children such as one actor per job share one label value.
	Class string
}

// Kind reports whether the child is a worker or a supervisor.
func (c ChildSpec) Kind() Kind {
	if c.Supervisor != nil {
		return SupervisorKind
	}
	return Worker
}

func (c ChildSpec) class() string {
	if c.Class != "" {
		return c.Class
	}
	return c.Name
}

// Defaults are the policy values a Spec gets where it leaves one at zero.
// They suit a production daemon; profiles override them from config.
type Defaults struct {
	Intensity int
	Period    time.Duration
	Backoff   Backoff
	Breaker   BreakerPolicy
	Escalate  Escalation
	Shutdown  time.Duration
}

// ProductionDefaults returns the values used when a daemon sets nothing.
func ProductionDefaults() Defaults {
	return Defaults{
		Intensity: 5,
		Period:    30 * time.Second,
		Backoff:   Backoff{Initial: 10 * time.Millisecond, Max: 5 * time.Second, Multiplier: 2, Jitter: 0.2, ResetAfter: 10 * time.Second},
		Breaker:   BreakerPolicy{OpenTimeout: time.Second, MaxOpenTimeout: time.Minute, Multiplier: 2, Probes: 3, ProbeWindow: 2 * time.Second},
		Escalate:  Escalation{MaxTrips: 3, Window: 10 * time.Minute},
		Shutdown:  5 * time.Second,
	}
}

// WithDefaults returns a copy of s (and of its nested specs) in which every
// zero policy field takes the value from d.
func (s Spec) WithDefaults(d Defaults) Spec {
	if s.Intensity == 0 {
		s.Intensity = d.Intensity
	}
	if s.Period == 0 {
		s.Period = d.Period
	}
	s.Backoff = fillBackoff(s.Backoff, d.Backoff)
	s.Breaker = fillBreaker(s.Breaker, d.Breaker)
	if s.Escalate.MaxTrips == 0 {
		s.Escalate.MaxTrips = d.Escalate.MaxTrips
	}
	if s.Escalate.Window == 0 {
		s.Escalate.Window = d.Escalate.Window
	}
	children := make([]ChildSpec, len(s.Children))
	for i, c := range s.Children {
		children[i] = c.WithDefaults(d)
	}
	s.Children = children
	return s
}

// WithDefaults fills the child's zero fields (and its nested spec's) from
// d. A supervisor's default shutdown budget covers its children's, since it
// stops them one after the other first.
func (c ChildSpec) WithDefaults(d Defaults) ChildSpec {
	if c.Supervisor != nil {
		nested := c.Supervisor.WithDefaults(d)
		c.Supervisor = &nested
		if c.Shutdown == 0 {
			c.Shutdown = d.Shutdown
			for _, k := range nested.Children {
				c.Shutdown += k.Shutdown
			}
		}
	}
	if c.Shutdown == 0 {
		c.Shutdown = d.Shutdown
	}
	return c
}

func fillBackoff(b, d Backoff) Backoff {
	if b.Initial == 0 {
		b.Initial = d.Initial
	}
	if b.Max == 0 {
		b.Max = d.Max
	}
	if b.Multiplier == 0 {
		b.Multiplier = d.Multiplier
	}
	if b.Jitter == 0 {
		b.Jitter = d.Jitter
	}
	if b.ResetAfter == 0 {
		b.ResetAfter = d.ResetAfter
	}
	return b
}

func fillBreaker(b, d BreakerPolicy) BreakerPolicy {
	if b.OpenTimeout == 0 {
		b.OpenTimeout = d.OpenTimeout
	}
	if b.MaxOpenTimeout == 0 {
		b.MaxOpenTimeout = d.MaxOpenTimeout
	}
	if b.Multiplier == 0 {
		b.Multiplier = d.Multiplier
	}
	if b.Probes == 0 {
		b.Probes = d.Probes
	}
	if b.ProbeWindow == 0 {
		b.ProbeWindow = d.ProbeWindow
	}
	return b
}

// ErrInvalidSpec is wrapped by every Validate error.
var ErrInvalidSpec = errors.New("supervisors: invalid spec")

// Validate checks the whole tree before anything spawns.
func (s Spec) Validate() error {
	if s.Name == "" {
		return fmt.Errorf("%w: the root spec needs a name", ErrInvalidSpec)
	}
	if err := validName(s.Name); err != nil {
		return err
	}
	return s.validate("/" + s.Name)
}

func (s Spec) validate(path string) error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s: %s", ErrInvalidSpec, path, fmt.Sprintf(format, args...)))
	}
	if s.Strategy < OneForOne || s.Strategy > RestForOne {
		bad("unknown strategy %d", int(s.Strategy))
	}
	if s.Intensity < 1 {
		bad("intensity must be at least 1, got %d", s.Intensity)
	}
	if s.Period <= 0 {
		bad("period must be positive, got %s", s.Period)
	}
	b := s.Backoff
	switch {
	case b.Initial <= 0 || b.Max < b.Initial:
		bad("backoff needs 0 < initial (%s) <= max (%s)", b.Initial, b.Max)
	case b.Multiplier < 1:
		bad("backoff multiplier must be >= 1, got %g", b.Multiplier)
	case b.Jitter < 0 || b.Jitter >= 1:
		bad("backoff jitter must be in [0, 1), got %g", b.Jitter)
	case b.ResetAfter < 0:
		bad("backoff reset_after must not be negative")
	}
	br := s.Breaker
	switch {
	case br.OpenTimeout <= 0 || br.MaxOpenTimeout < br.OpenTimeout:
		bad("breaker needs 0 < open timeout (%s) <= max open timeout (%s)", br.OpenTimeout, br.MaxOpenTimeout)
	case br.Multiplier < 1:
		bad("breaker multiplier must be >= 1, got %g", br.Multiplier)
	case br.Probes < 1:
		bad("breaker probes must be at least 1, got %d", br.Probes)
	case br.ProbeWindow <= 0:
		bad("breaker probe window must be positive")
	}
	if s.Escalate.MaxTrips < 1 || s.Escalate.Window <= 0 {
		bad("escalation needs max trips >= 1 and a positive window")
	}
	seen := make(map[string]bool, len(s.Children))
	for _, c := range s.Children {
		if err := c.validate(path); err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[c.Name] {
			bad("duplicate child name %q", c.Name)
		}
		seen[c.Name] = true
	}
	return errors.Join(errs...)
}

func (c ChildSpec) validate(parent string) error {
	if err := validName(c.Name); err != nil {
		return fmt.Errorf("%w (under %s)", err, parent)
	}
	path := parent + "/" + c.Name
	switch {
	case c.New == nil && c.Supervisor == nil:
		return fmt.Errorf("%w: %s: a child needs New (worker) or Supervisor", ErrInvalidSpec, path)
	case c.New != nil && c.Supervisor != nil:
		return fmt.Errorf("%w: %s: a child is a worker or a supervisor, not both", ErrInvalidSpec, path)
	case c.Restart < Permanent || c.Restart > Temporary:
		return fmt.Errorf("%w: %s: unknown restart type %d", ErrInvalidSpec, path, int(c.Restart))
	case c.Shutdown <= 0:
		return fmt.Errorf("%w: %s: shutdown timeout must be positive", ErrInvalidSpec, path)
	}
	if c.Supervisor != nil {
		if c.Supervisor.Name != "" && c.Supervisor.Name != c.Name {
			return fmt.Errorf("%w: %s: nested spec is named %q", ErrInvalidSpec, path, c.Supervisor.Name)
		}
		return c.Supervisor.validate(path)
	}
	return nil
}

// validName keeps names usable as path elements and protoactor ids.
func validName(n string) error {
	if n == "" || len(n) > 128 {
		return fmt.Errorf("%w: name %q must have 1 to 128 characters", ErrInvalidSpec, n)
	}
	for _, r := range n {
		ok := r == '-' || r == '_' || r == '.' || (r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z')
		if !ok {
			return fmt.Errorf("%w: name %q may hold only letters, digits, '-', '_' and '.'", ErrInvalidSpec, n)
		}
	}
	return nil
}
