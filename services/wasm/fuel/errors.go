package fuel

import (
	"errors"
	"fmt"
)

// ErrInvalidModule is the condition every decoding failure matches
// (errors.Is): the bytes are not a WebAssembly module this package can
// instrument. The concrete error is a *ModuleError.
var ErrInvalidModule = errors.New("fuel: invalid module")

// ModuleError says where and why a module was rejected.
type ModuleError struct {
	// Offset is the byte offset in the input at which decoding failed.
	Offset int
	// Reason says what was wrong, in a few words.
	Reason string
}

// Error implements error.
func (e *ModuleError) Error() string {
	return fmt.Sprintf("fuel: invalid module at offset %d: %s", e.Offset, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidModule) true.
func (e *ModuleError) Is(target error) bool { return target == ErrInvalidModule }
