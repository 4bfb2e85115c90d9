package envelope

import (
	"errors"
	"fmt"
)

// ErrRejected is matched (errors.Is) by every error Verifier.Open returns
// for an envelope it refuses. The concrete error is a *RejectError.
var ErrRejected = errors.New("envelope: rejected")

// The reasons an envelope is rejected. They are label values of
// icn_network_rejected_total{reason} and appear in logs, so they never
// change; a new check gets a new reason.
const (
	ReasonMalformed      = "malformed"       // not the canonical encoding of a well-formed envelope
	ReasonOversize       = "oversize"        // the envelope or its body is over the limit
	ReasonUnknownVersion = "unknown_version" // an envelope version this node does not speak
	ReasonUnknownType    = "unknown_type"    // a type the receiver does not handle
	ReasonBadSignature   = "bad_signature"   // the signature does not verify against the sender's DID
	ReasonSenderMismatch = "sender_mismatch" // the sender's DID is not the peer it came from
	ReasonWrongRecipient = "wrong_recipient" // addressed to another node (WithRecipient)
	ReasonClockSkew      = "clock_skew"      // the time is outside the skew window
	ReasonReplay         = "replay"          // this sender's nonce was accepted before
)

// Reasons returns every reason, in a fixed order, so that the metric's
// series can be created before the first rejection. The slice is the
// caller's.
func Reasons() []string {
	return []string{
		ReasonMalformed, ReasonOversize, ReasonUnknownVersion, ReasonUnknownType,
		ReasonBadSignature, ReasonSenderMismatch, ReasonWrongRecipient, ReasonClockSkew, ReasonReplay,
	}
}

// RejectError says why an envelope was refused.
type RejectError struct {
	// Reason is one of the Reason constants: a metric label, stable.
	Reason string
	// Detail says what was wrong, for a debug log; it is not stable.
	Detail string
	// Err is the underlying error, if any (the CBOR decoder's, the
	// signature check's).
	Err error
}

func reject(reason, detail string, err error) *RejectError {
	return &RejectError{Reason: reason, Detail: detail, Err: err}
}

// Error implements error.
func (e *RejectError) Error() string {
	msg := fmt.Sprintf("envelope: rejected (%s): %s", e.Reason, e.Detail)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

// Is makes errors.Is(err, ErrRejected) true.
func (e *RejectError) Is(target error) bool { return target == ErrRejected }

// Unwrap returns the underlying error.
func (e *RejectError) Unwrap() error { return e.Err }
