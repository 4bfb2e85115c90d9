// Package supervisors is ICN's supervision runtime: Erlang/OTP semantics made
// safe for a daemon, on top of protoactor-go.
//
// A Spec declares a supervisor in OTP's words: a strategy (one_for_one,
// one_for_all, rest_for_one), a restart budget (Intensity restarts within
// Period), restart backoff, a circuit breaker policy and an escalation rule,
// and its children (ChildSpec: a worker producer or a nested Spec, a restart
// type permanent|transient|temporary and a shutdown budget). New validates a
// Spec; Tree.Start spawns it.
//
// # Semantics
//
//   - A child that fails (panics, or a nested supervisor escalates) or exits
//     is restarted according to its restart type and the strategy, after a
//     capped exponential backoff with jitter (the first restart after a healthy
//     period is immediate). A restart in place keeps the child's PID and the
//     messages queued in its mailbox; the failing message is not retried.
//   - When a child would exceed the supervisor's budget, its breaker opens
//     instead of the supervisor dying: the child is stopped and calls to it
//     fail at once with *UnavailableError. After the open timeout (growing on
//     each consecutive trip) the supervisor's timer makes it half-open: the
//     child is respawned and a few probe calls are let through; a successful
//     probe, or surviving the probe window, closes the breaker.
//   - A supervisor whose children's breakers trip too often within the
//     escalation window fails itself, so its parent restarts or isolates the
//     whole subtree. The root never escalates: its children's breakers isolate
//     them, and the process stays up.
//   - Shutdown stops children in reverse spec order, leaves first, each
//     gracefully (poison) within its budget and then hard.
//
// The decisions live in a pure core (core.go: state, event and time in,
// actions out) tested without an actor system; the supervisor actor
// (supervisor.go) only executes them.
//
// # Reaching actors
//
// Everyone reaches an actor by name or path through the Tree (Lookup,
// Request, Ask, Send), never by a stored PID: a PID dies when a breaker
// opens. The registry behind it is the live tree that Snapshot returns and
// the admin API shows. Kill applies fault injection (panic, stop, poison).
//
// Supervisors know nothing of ICN's domain; they must not import actors or
// services.
package supervisors
