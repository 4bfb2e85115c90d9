package runtime

import (
	"github.com/intercooperative-network/icn-go/ccl"
)

// Kind says why a module could not be loaded or called.
type Kind string

// The kinds of Error.
const (
	// KindForbiddenImport: the module imports something outside the icn
	// host table (a WASI function, another module, an unknown function, a
	// wrong signature).
	KindForbiddenImport Kind = "forbidden_import"
	// KindInvalidModule: the module does not decode or validate, has a
	// start function, no memory or one without a maximum of at most
	// ccl.MaxMemoryPages, or an entry point with the wrong signature.
	KindInvalidModule Kind = "invalid_module"
	// KindNoEntryPoint: the module exports no such function, or one whose
	// CCL signature the runtime does not know.
	KindNoEntryPoint Kind = "no_entry_point"
	// KindBadArguments: the arguments do not match the entry point.
	KindBadArguments Kind = "bad_arguments"
)

// Error is a module that cannot be loaded, or a call that cannot be made.
type Error struct {
	Kind Kind
	Msg  string
}

// Error returns "kind: message".
func (e *Error) Error() string { return string(e.Kind) + ": " + e.Msg }

// Trap is a call that stopped: require_failed (with the require's
// message), overflow, divide_by_zero, index_out_of_bounds, missing_param,
// memory_limit or fuel_exhausted.
type Trap struct {
	Kind    ccl.TrapCode
	Message string
}

// Error returns the trap's kind, and its message when it has one:
// "require_failed: quorum not met".
func (t *Trap) Error() string {
	if t.Message == "" {
		return t.Kind.String()
	}
	return t.Kind.String() + ": " + t.Message
}
