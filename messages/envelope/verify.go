package envelope

import (
	"errors"
	"fmt"
	"time"
)

// DefaultSkew is how far an envelope's time may be from the receiver's
// clock, either way, unless told otherwise (WithSkew).
const DefaultSkew = 60 * time.Second

// maxBodyLimit keeps MaxBody + Overhead far from overflowing an int, and
// a misconfiguration from allowing gigabyte envelopes.
const maxBodyLimit = 1 << 30

// Clock tells the time; services/clock.Clock is one.
type Clock interface{ Now() time.Time }

// VerifyFunc checks that sig is did's signature of msg, returning nil if it
// is. The adapter over services/identity is
//
//	func(did string, msg, sig []byte) error { return identity.Verify(identity.DID(did), msg, sig) }
type VerifyFunc func(did string, msg, sig []byte) error

// Verifier opens envelopes: it decodes them and decides whether they are
// acceptable. It is safe for concurrent use.
type Verifier struct {
	verify  VerifyFunc
	clock   Clock
	types   map[string]struct{}
	maxBody int
	skew    time.Duration
	guard   *ReplayGuard
	self    string
}

// Option sets an optional knob of a Verifier.
type Option func(*options)

type options struct {
	maxBody int
	skew    time.Duration
	guard   *ReplayGuard
	self    string
}

// WithMaxBody sets the largest body accepted (DefaultMaxBody by default);
// the envelope may be at most n + Overhead bytes, which is checked before
// decoding.
func WithMaxBody(n int) Option { return func(o *options) { o.maxBody = n } }

// WithSkew sets how far an envelope's time may be from the clock, either
// way (DefaultSkew by default). It is also how long nonces are remembered.
func WithSkew(d time.Duration) Option { return func(o *options) { o.skew = d } }

// WithReplayGuard makes the Verifier remember nonces in g, for Verifiers
// that must share one replay space (the default is a guard of its own with
// DefaultReplayCapacity).
func WithReplayGuard(g *ReplayGuard) Option { return func(o *options) { o.guard = g } }

// WithRecipient makes the Verifier refuse an envelope addressed to any
// DID but self (wrong_recipient), the receiving node's own: a message
// meant for one node is not acted on by another. Broadcast envelopes (no
// recipient) are accepted.
func WithRecipient(self string) Option { return func(o *options) { o.self = self } }

// NewVerifier returns a Verifier that checks signatures with verify, reads
// the time from clock and accepts envelopes of the given types only.
func NewVerifier(verify VerifyFunc, clock Clock, types []string, opts ...Option) (*Verifier, error) {
	o := options{maxBody: DefaultMaxBody, skew: DefaultSkew}
	for _, opt := range opts {
		opt(&o)
	}
	switch {
	case verify == nil:
		return nil, errors.New("envelope: verifier: no signature check")
	case clock == nil:
		return nil, errors.New("envelope: verifier: no clock")
	case len(types) == 0:
		return nil, errors.New("envelope: verifier: no known types")
	case o.maxBody <= 0 || o.maxBody > maxBodyLimit:
		return nil, fmt.Errorf("envelope: verifier: body limit %d (want 1 to %d)", o.maxBody, maxBodyLimit)
	case o.skew <= 0:
		return nil, fmt.Errorf("envelope: verifier: skew window %s (want > 0)", o.skew)
	}
	set := make(map[string]struct{}, len(types))
	for _, t := range types {
		if err := checkText("type", t, MaxType, false); err != nil {
			return nil, fmt.Errorf("envelope: verifier: %w", err)
		}
		set[t] = struct{}{}
	}
	if o.guard == nil {
		o.guard = NewReplayGuard(0)
	}
	return &Verifier{verify: verify, clock: clock, types: set, maxBody: o.maxBody, skew: o.skew, guard: o.guard, self: o.self}, nil
}

// Open decodes data and returns the envelope if it is acceptable from the
// peer whose DID is sender (identity.DIDFromPeerID of the connection's or
// the gossip message's author; "" if it has none, which no envelope
// matches). Otherwise it returns a *RejectError, and no envelope: the
// package doc lists the checks and their order.
//
// An accepted envelope's nonce is remembered, so the same bytes are
// refused as a replay next time. Body and Sig are the caller's; data is not
// retained.
func (v *Verifier) Open(data []byte, sender string) (Envelope, error) {
	// Refuse before reading a byte of it what could only be refused later.
	if len(data) > v.maxBody+Overhead {
		return Envelope{}, reject(ReasonOversize, fmt.Sprintf("envelope of %d bytes (max %d)", len(data), v.maxBody+Overhead), nil)
	}
	e, err := decode(data)
	if err != nil {
		return Envelope{}, err
	}
	if _, ok := v.types[e.Type]; !ok {
		return Envelope{}, reject(ReasonUnknownType, fmt.Sprintf("type %q", e.Type), nil)
	}
	if len(e.Body) > v.maxBody {
		return Envelope{}, reject(ReasonOversize, fmt.Sprintf("body of %d bytes (max %d)", len(e.Body), v.maxBody), nil)
	}
	// The sender's DID must be the peer's: otherwise a peer could relay
	// (or replay) another member's envelope as its own traffic.
	if sender == "" || e.From != sender {
		return Envelope{}, reject(ReasonSenderMismatch, fmt.Sprintf("from %q, sent by %q", e.From, sender), nil)
	}
	if v.self != "" && e.To != "" && e.To != v.self {
		return Envelope{}, reject(ReasonWrongRecipient, fmt.Sprintf("to %q, received by %q", e.To, v.self), nil)
	}
	now := v.clock.Now().UnixMilli()
	skew := v.skew.Milliseconds()
	// Subtracting in int64 cannot overflow for a clock within ±292 million
	// years of 1970; e.Time is anything, so compare without subtracting it.
	if e.Time < now-skew || e.Time > now+skew {
		return Envelope{}, reject(ReasonClockSkew, fmt.Sprintf("time %d, now %d (unix ms; window ±%s)", e.Time, now, v.skew), nil)
	}
	msg, err := e.signingBytes()
	if err != nil {
		return Envelope{}, reject(ReasonMalformed, "cannot re-encode", err)
	}
	if err := v.verify(e.From, msg, e.Sig); err != nil {
		return Envelope{}, reject(ReasonBadSignature, "signature does not verify", err)
	}
	// Last, so that only authentic envelopes take the guard's memory: a
	// forger cannot fill it, nor burn a nonce an honest sender will use.
	if !v.guard.remember(replayKey{from: e.From, nonce: e.Nonce}, e.Time+skew, now) {
		return Envelope{}, reject(ReasonReplay, fmt.Sprintf("nonce %x from %s seen before", e.Nonce, e.From), nil)
	}
	return e, nil
}
