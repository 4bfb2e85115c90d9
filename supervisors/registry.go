package supervisors

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/asynkron/protoactor-go/actor"
)

// entry is the live record of one actor. Supervisors write it (from their
// own goroutine) after each decision; readers (lookups, the admin API,
// metrics) only load atomics or take the entry's lock briefly.
type entry struct {
	path, name, class string
	kind              Kind
	strategy          Strategy
	restart           RestartType
	parent            *entry
	policy            BreakerPolicy // of the supervising spec, for retry hints

	pid         atomic.Pointer[actor.PID]
	mailbox     atomic.Pointer[actor.Mailbox]
	status      atomic.Int32
	breaker     atomic.Int32
	probes      atomic.Int32 // calls a half-open actor still accepts
	probeSent   atomic.Bool  // a probe success was reported for this generation
	gen         atomic.Uint64
	openUntil   atomic.Int64 // unix nanoseconds
	retryAt     atomic.Int64 // unix nanoseconds: when a pending restart is due
	trips       atomic.Uint64
	restarts    atomic.Uint64
	failures    atomic.Uint64
	processed   atomic.Uint64
	lastFailure atomic.Pointer[FailureInfo]

	mu       sync.Mutex
	children []*entry // spec order
}

func (e *entry) Status() Status        { return Status(e.status.Load()) }
func (e *entry) Breaker() BreakerState { return BreakerState(e.breaker.Load()) }

// admit returns the PID to send a call to, or why the actor cannot take
// one now; a half-open actor admits only its probe calls.
func (e *entry) admit(now time.Time) (*actor.PID, error) {
	pid, err := e.peek(now)
	if err != nil {
		return nil, err
	}
	if e.Breaker() == HalfOpen {
		for {
			n := e.probes.Load()
			if n <= 0 {
				return nil, &UnavailableError{Path: e.path, State: HalfOpen.String(), RetryAfter: e.policy.ProbeWindow}
			}
			if e.probes.CompareAndSwap(n, n-1) {
				break
			}
		}
	}
	return pid, nil
}

// peek is admit without taking a half-open probe: for liveness pings,
// which must not use up the probes meant for real calls.
func (e *entry) peek(now time.Time) (*actor.PID, error) {
	if e.Breaker() == Open {
		return nil, &UnavailableError{Path: e.path, State: Open.String(), RetryAfter: max(time.Unix(0, e.openUntil.Load()).Sub(now), time.Millisecond)}
	}
	pid := e.pid.Load()
	status := e.Status()
	if pid == nil || status == Restarting {
		// Between processes, or suspended until a restart that is due
		// later: fail fast rather than let the call wait in a mailbox.
		retry := e.policy.OpenTimeout
		if at := e.retryAt.Load(); at > 0 {
			retry = time.Unix(0, at).Sub(now)
		}
		return nil, &UnavailableError{Path: e.path, State: status.String(), RetryAfter: max(retry, time.Millisecond)}
	}
	if status == Stopped {
		return nil, &UnavailableError{Path: e.path, State: status.String(), RetryAfter: e.policy.OpenTimeout}
	}
	return pid, nil
}

func (e *entry) mailboxLen() int64 {
	if mb := e.mailbox.Load(); mb != nil && e.pid.Load() != nil {
		return int64((*mb).UserMessageCount())
	}
	return 0
}

// registry indexes every live actor by path and by name.
type registry struct {
	mu     sync.RWMutex
	byPath map[string]*entry
	byName map[string][]*entry
	root   *entry
}

func newRegistry() *registry {
	return &registry{byPath: map[string]*entry{}, byName: map[string][]*entry{}}
}

// ensure returns the entry at parent's path + name, creating it if needed.
// An entry survives its actor's restarts so that counters accumulate.
func (r *registry) ensure(parent *entry, cs ChildSpec, policy BreakerPolicy) *entry {
	path, class := "/"+cs.Name, "/"+cs.class()
	if parent != nil {
		path, class = parent.path+"/"+cs.Name, parent.class+"/"+cs.class()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.byPath[path]; ok {
		return e
	}
	e := &entry{path: path, name: cs.Name, class: class, kind: cs.Kind(), restart: cs.Restart, parent: parent, policy: policy}
	if cs.Supervisor != nil {
		e.strategy = cs.Supervisor.Strategy
	}
	e.status.Store(int32(Stopped))
	r.byPath[path] = e
	r.byName[cs.Name] = append(r.byName[cs.Name], e)
	if parent == nil {
		r.root = e
	} else {
		parent.mu.Lock()
		parent.children = append(parent.children, e)
		parent.mu.Unlock()
	}
	return e
}

// remove deletes e and everything under it.
func (r *registry) remove(e *entry) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.removeLocked(e)
	if p := e.parent; p != nil {
		p.mu.Lock()
		p.children = slices.DeleteFunc(p.children, func(x *entry) bool { return x == e })
		p.mu.Unlock()
	}
}

func (r *registry) removeLocked(e *entry) {
	e.mu.Lock()
	kids := slices.Clone(e.children)
	e.children = nil
	e.mu.Unlock()
	for _, k := range kids {
		r.removeLocked(k)
	}
	delete(r.byPath, e.path)
	named := slices.DeleteFunc(r.byName[e.name], func(x *entry) bool { return x == e })
	if len(named) == 0 {
		delete(r.byName, e.name)
	} else {
		r.byName[e.name] = named
	}
}

// find resolves a path ("/icn/dag") or a unique name ("dag").
func (r *registry) find(nameOrPath string) (*entry, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if strings.HasPrefix(nameOrPath, "/") {
		if e, ok := r.byPath[nameOrPath]; ok {
			return e, nil
		}
		return nil, fmt.Errorf("%w: %s", ErrNotFound, nameOrPath)
	}
	switch named := r.byName[nameOrPath]; len(named) {
	case 0:
		return nil, fmt.Errorf("%w: %s", ErrNotFound, nameOrPath)
	case 1:
		return named[0], nil
	default:
		return nil, fmt.Errorf("%w: %q names %d actors", ErrAmbiguous, nameOrPath, len(named))
	}
}

// walk visits every entry, parents before children, in spec order.
func (r *registry) walk(fn func(*entry)) {
	r.mu.RLock()
	root := r.root
	r.mu.RUnlock()
	if root != nil {
		walkEntry(root, fn)
	}
}

func walkEntry(e *entry, fn func(*entry)) {
	fn(e)
	e.mu.Lock()
	kids := slices.Clone(e.children)
	e.mu.Unlock()
	for _, k := range kids {
		walkEntry(k, fn)
	}
}

// Node is a snapshot of one actor and its subtree, as the admin API shows it.
type Node struct {
	Path         string       `json:"path"`
	Name         string       `json:"name"`
	Kind         string       `json:"kind"`
	Strategy     string       `json:"strategy,omitempty"`
	Restart      string       `json:"restart"`
	Status       string       `json:"status"`
	Breaker      string       `json:"breaker"`
	BreakerTrips uint64       `json:"breaker_trips"`
	Restarts     uint64       `json:"restarts"`
	Failures     uint64       `json:"failures"`
	LastFailure  *FailureInfo `json:"last_failure,omitempty"`
	Mailbox      int64        `json:"mailbox"`
	Processed    uint64       `json:"processed"`
	Children     []Node       `json:"children,omitempty"`
}

func (e *entry) snapshot() Node {
	n := Node{
		Path: e.path, Name: e.name, Kind: e.kind.String(), Restart: e.restart.String(),
		Status: e.Status().String(), Breaker: e.Breaker().String(),
		BreakerTrips: e.trips.Load(), Restarts: e.restarts.Load(), Failures: e.failures.Load(),
		LastFailure: e.lastFailure.Load(), Mailbox: e.mailboxLen(), Processed: e.processed.Load(),
	}
	if e.kind == SupervisorKind {
		n.Strategy = e.strategy.String()
	}
	e.mu.Lock()
	kids := slices.Clone(e.children)
	e.mu.Unlock()
	for _, k := range kids {
		n.Children = append(n.Children, k.snapshot())
	}
	return n
}

// Find returns the node at path in the snapshot rooted at n.
func (n Node) Find(path string) (Node, bool) {
	if n.Path == path {
		return n, true
	}
	for _, c := range n.Children {
		if strings.HasPrefix(path, c.Path) {
			if found, ok := c.Find(path); ok {
				return found, true
			}
		}
	}
	return Node{}, false
}
