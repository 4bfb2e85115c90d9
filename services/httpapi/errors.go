package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// Stable error codes: clients (icnctl, scripts) branch on these, never on
// messages. They are part of the API; do not rename them.
const (
	CodeBadRequest      = "bad_request"
	CodeUnauthorized    = "unauthorized"
	CodeNotFound        = "not_found"
	CodeMethod          = "method_not_allowed"
	CodeTooLarge        = "payload_too_large"
	CodeUnsupported     = "unsupported_media_type"
	CodeUnavailable     = "unavailable"
	CodeTimeout         = "timeout"
	CodeActorFailed     = "actor_failed"
	CodeInternal        = "internal"
	CodeShuttingDown    = "shutting_down"
	CodeRootKill        = "root_kill"
	CodeBadKillMode     = "bad_kill_mode"
	CodeAmbiguousActor  = "ambiguous_actor"
	CodeActorNotRunning = "actor_not_running"
	CodeNotImplemented  = "not_implemented"
	CodeBlockNotFound   = "block_not_found"
	CodeBlockTooLarge   = "block_too_large"
	CodeCorruptBlock    = "corrupt_block"
	CodeNotPinned       = "not_pinned"
	CodeIncompleteDAG   = "incomplete_dag"
	CodeInvalidCID      = "invalid_cid"
	CodeUnsupportedCID  = "unsupported_cid"
	CodeHashMismatch    = "hash_mismatch"
	CodeInvalidNode     = "invalid_node"
	CodeInvalidCAR      = "invalid_car"
	CodeBusy            = "busy"
	CodeRefConflict     = "ref_conflict"
	CodeRefNotFound     = "ref_not_found"
	CodeInvalidRef      = "invalid_ref"

	CodeInsufficientMana     = "insufficient_mana"
	CodeInvalidAccount       = "invalid_account"
	CodeInvalidAmount        = "invalid_amount"
	CodeInvalidReference     = "invalid_reference"
	CodeUnknownAccount       = "unknown_account"
	CodeNotLocal             = "not_local"
	CodeUnknownReservation   = "unknown_reservation"
	CodeDuplicateReservation = "duplicate_reservation"
	CodeAccountLimit         = "account_limit"
	CodeAlreadyReceived      = "already_received"
	CodeKeyReused            = "idempotency_key_reused"

	CodeInvalidPeer     = "invalid_peer"
	CodePeerUnreachable = "peer_unreachable"
	CodePeerUnavailable = "peer_unavailable"

	CodeCompileError     = "compile_error"
	CodeUnknownContract  = "unknown_contract"
	CodeContractMismatch = "contract_mismatch"
	CodeNoEntryPoint     = "no_entry_point"
	CodeBadArguments     = "bad_arguments"
	CodeBadSnapshot      = "bad_snapshot"
	// A call that traps is a 422 whose code is the trap's kind.
	CodeRequireFailed    = "require_failed"
	CodeOverflow         = "overflow"
	CodeDivideByZero     = "divide_by_zero"
	CodeIndexOutOfBounds = "index_out_of_bounds"
	CodeMissingParam     = "missing_param"
	CodeMemoryLimit      = "memory_limit"
	CodeFuelExhausted    = "fuel_exhausted"
	CodeContractTrap     = "contract_trap" // a trap kind this server does not know

	CodeUnknownJob    = "unknown_job"
	CodeJobFinished   = "job_finished"
	CodeInvalidJob    = "invalid_job"
	CodeInvalidModule = "invalid_module"
	CodeNoOutput      = "no_output"
)

// ErrorBody is the one shape of every error answer, on both listeners.
type ErrorBody struct {
	Error   string         `json:"error"`
	Code    string         `json:"code"`
	Details map[string]any `json:"details,omitempty"`
	// Available is the mana an account has, on insufficient_mana only:
	// clients that know nothing of details still read it at the top.
	Available *uint64 `json:"available,omitempty"`
}

// Error is an error that knows its HTTP answer. Handlers return it for
// input problems; everything else is mapped by the table in statusOf.
type Error struct {
	Status     int
	Code       string
	Message    string
	Details    map[string]any
	Available  *uint64 // ErrorBody.Available
	RetryAfter time.Duration
	Err        error // the cause, if any (for errors.Is/As and logs)
}

func (e *Error) Error() string {
	if e.Err != nil && e.Message == "" {
		return e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// BadRequest is a 400 with a message saying what is wrong.
func BadRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeBadRequest, Message: fmt.Sprintf(format, args...)}
}

// statusOf is the single table from errors to HTTP answers (DESIGN rule 5).
func statusOf(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	var ue *supervisors.UnavailableError
	if errors.As(err, &ue) {
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeUnavailable, Message: err.Error(),
			RetryAfter: ue.RetryAfter, Details: map[string]any{"actor": ue.Path, "state": ue.State}, Err: err}
	}
	var af *supervisors.ActorFailedError
	if errors.As(err, &af) {
		return &Error{Status: http.StatusInternalServerError, Code: CodeActorFailed, Message: err.Error(),
			Details: map[string]any{"actor": af.Path}, Err: err}
	}
	if errors.Is(err, messages.ErrBusy) {
		return &Error{Status: http.StatusServiceUnavailable, Code: CodeBusy, Message: err.Error(), RetryAfter: time.Second, Err: err}
	}
	var ime *messages.InsufficientManaError
	if errors.As(err, &ime) {
		// Clients need the numbers, not a sentence to parse.
		return &Error{Status: http.StatusConflict, Code: CodeInsufficientMana, Message: err.Error(),
			Details:   map[string]any{"account": ime.Account, "available": ime.Available, "needed": ime.Needed},
			Available: &ime.Available, Err: err}
	}
	if errors.Is(err, messages.ErrPeerUnavailable) {
		// A peer's breaker, not an actor's: the node itself serves.
		e := &Error{Status: http.StatusServiceUnavailable, Code: CodePeerUnavailable, Message: err.Error(), RetryAfter: time.Second, Err: err}
		var pu *messages.PeerUnavailableError
		if errors.As(err, &pu) {
			e.Details = map[string]any{"peer": pu.Peer}
			if pu.RetryAfter > 0 {
				e.RetryAfter = pu.RetryAfter
			}
		}
		return e
	}
	if e := contractError(err); e != nil {
		return e
	}
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
			Message: fmt.Sprintf("request body larger than %d bytes", mbe.Limit), Details: map[string]any{"limit": mbe.Limit}, Err: err}
	}
	table := []struct {
		target error
		status int
		code   string
	}{
		{supervisors.ErrNotFound, http.StatusNotFound, CodeNotFound},
		{supervisors.ErrAmbiguous, http.StatusBadRequest, CodeAmbiguousActor},
		{supervisors.ErrBadKillMode, http.StatusBadRequest, CodeBadKillMode},
		{supervisors.ErrRootKill, http.StatusBadRequest, CodeRootKill},
		{supervisors.ErrNotRunning, http.StatusConflict, CodeActorNotRunning},
		{supervisors.ErrStopped, http.StatusServiceUnavailable, CodeShuttingDown},
		{supervisors.ErrTimeout, http.StatusGatewayTimeout, CodeTimeout},
		{supervisors.ErrUnhandled, http.StatusNotImplemented, CodeNotImplemented},
		{messages.ErrBlockNotFound, http.StatusNotFound, CodeBlockNotFound},
		{messages.ErrBlockTooLarge, http.StatusRequestEntityTooLarge, CodeBlockTooLarge},
		{messages.ErrCorruptBlock, http.StatusInternalServerError, CodeCorruptBlock},
		{messages.ErrNotPinned, http.StatusNotFound, CodeNotPinned},
		{messages.ErrIncompleteDAG, http.StatusConflict, CodeIncompleteDAG},
		{messages.ErrRefConflict, http.StatusConflict, CodeRefConflict},
		{messages.ErrRefNotFound, http.StatusNotFound, CodeRefNotFound},
		{messages.ErrInvalidRef, http.StatusBadRequest, CodeInvalidRef},
		{messages.ErrInsufficientMana, http.StatusConflict, CodeInsufficientMana}, // without the numbers
		{messages.ErrInvalidAccount, http.StatusBadRequest, CodeInvalidAccount},
		{messages.ErrInvalidAmount, http.StatusBadRequest, CodeInvalidAmount},
		{messages.ErrInvalidReference, http.StatusBadRequest, CodeInvalidReference},
		{messages.ErrUnknownAccount, http.StatusNotFound, CodeUnknownAccount},
		{messages.ErrNotLocal, http.StatusConflict, CodeNotLocal},
		{messages.ErrUnknownReservation, http.StatusNotFound, CodeUnknownReservation},
		{messages.ErrDuplicateReservation, http.StatusConflict, CodeDuplicateReservation},
		{messages.ErrAlreadyReceived, http.StatusConflict, CodeAlreadyReceived},
		{messages.ErrKeyReused, http.StatusConflict, CodeKeyReused},
		{messages.ErrAccountLimit, http.StatusConflict, CodeAccountLimit},
		{messages.ErrInvalidPeer, http.StatusBadRequest, CodeInvalidPeer},
		{messages.ErrPeerFailed, http.StatusBadGateway, CodePeerUnreachable},
		{messages.ErrUnknownContract, http.StatusNotFound, CodeUnknownContract},
		{messages.ErrContractMismatch, http.StatusConflict, CodeContractMismatch},
		{messages.ErrNoEntryPoint, http.StatusBadRequest, CodeNoEntryPoint},
		{messages.ErrBadArguments, http.StatusBadRequest, CodeBadArguments},
		{messages.ErrBadSnapshot, http.StatusBadRequest, CodeBadSnapshot},
		{messages.ErrUnknownJob, http.StatusNotFound, CodeUnknownJob},
		{messages.ErrJobFinished, http.StatusConflict, CodeJobFinished},
		{messages.ErrInvalidSpec, http.StatusBadRequest, CodeInvalidJob},
		{block.ErrTooLarge, http.StatusRequestEntityTooLarge, CodeBlockTooLarge},
		{block.ErrInvalidCID, http.StatusBadRequest, CodeInvalidCID},
		{block.ErrUnsupported, http.StatusBadRequest, CodeUnsupportedCID},
		{block.ErrHashMismatch, http.StatusBadRequest, CodeHashMismatch},
		{block.ErrInvalidNode, http.StatusBadRequest, CodeInvalidNode},
		{block.ErrInvalidCAR, http.StatusBadRequest, CodeInvalidCAR},
		{context.DeadlineExceeded, http.StatusGatewayTimeout, CodeTimeout},
		{context.Canceled, http.StatusServiceUnavailable, CodeUnavailable},
	}
	for _, row := range table {
		if errors.Is(err, row.target) {
			return &Error{Status: row.status, Code: row.code, Message: err.Error(), Err: err}
		}
	}
	return &Error{Status: http.StatusInternalServerError, Code: CodeInternal, Message: err.Error(), Err: err}
}

// writeError answers err in the one error shape.
func writeError(w http.ResponseWriter, err error) {
	e := statusOf(err)
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	}
	if e.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="icn"`)
	}
	writeJSON(w, e.Status, ErrorBody{Error: e.Error(), Code: e.Code, Details: e.Details, Available: e.Available})
}

// writeJSON answers v as JSON with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client may have gone; nothing more to do
}
