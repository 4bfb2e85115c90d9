package wiring

import (
	"errors"
	"strconv"
	"strings"
)

// The kinds of configuration error. Every problem that [Load], [LoadFlags],
// [Default] or [Config.Validate] reports is an [*Error] whose Kind is one of
// these, so callers branch with errors.Is(err, wiring.ErrUnknownKey).
var (
	// ErrUnknownKey: a key in the file, an ICN_* variable or a flag that
	// names no configuration key.
	ErrUnknownKey = errors.New("wiring: unknown configuration key")
	// ErrMalformed: a value that does not parse as its key's type ("abc"
	// for an integer, "5 parsecs" for a duration), or a file that is not TOML.
	ErrMalformed = errors.New("wiring: malformed configuration value")
	// ErrInvalid: a value of the right type that Validate refuses.
	ErrInvalid = errors.New("wiring: invalid configuration value")
	// ErrUnknownProfile: a profile other than production, dev or test.
	ErrUnknownProfile = errors.New("wiring: unknown profile")
)

// Origin says which layer a setting came from.
type Origin uint8

// The layers, in increasing precedence.
const (
	OriginDefault Origin = iota // the profile's default
	OriginFile                  // the TOML file
	OriginEnv                   // an ICN_* environment variable
	OriginFlag                  // a command-line flag
)

// String returns "default", "file", "env" or "flag".
func (o Origin) String() string {
	switch o {
	case OriginDefault:
		return "default"
	case OriginFile:
		return "file"
	case OriginEnv:
		return "env"
	case OriginFlag:
		return "flag"
	}
	return "origin(" + strconv.Itoa(int(o)) + ")"
}

// Source names where a value was written: the layer and, within it, the
// file path, the variable ("ICN_WORKERS") or the flag ("--workers").
type Source struct {
	Origin Origin
	Name   string
}

// String returns e.g. "file /etc/icn/icnd.toml", "env ICN_WORKERS",
// "flag --workers" or "default".
func (s Source) String() string {
	if s.Name == "" {
		return s.Origin.String()
	}
	return s.Origin.String() + " " + s.Name
}

// Error is one problem with one configuration setting. Several are joined
// with errors.Join when a configuration has more than one problem.
type Error struct {
	// Kind is ErrUnknownKey, ErrMalformed, ErrInvalid or ErrUnknownProfile.
	Kind error
	// Key is the TOML key ("supervision.backoff_max"). For an unknown key in
	// a file it is the key as written; for an unknown variable or flag it is
	// empty and Source names it.
	Key string
	// Source is where the offending value was written. It is the zero
	// Source for a problem found by Validate in a value nobody set, or when
	// Validate is called directly.
	Source Source
	// Detail says what is wrong, for people.
	Detail string
	// Err is the underlying cause, if any (a TOML syntax error, a
	// strconv or time parse error).
	Err error
}

// Error returns e.g.
//
//	wiring: env ICN_WORKERS: workers: malformed value "abc": want an integer
//	wiring: supervision.backoff_max: must be >= supervision.backoff_initial (10ms), got 5ms
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("wiring: ")
	if e.Source != (Source{}) {
		b.WriteString(e.Source.String())
		b.WriteString(": ")
	}
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Detail)
	return b.String()
}

// Unwrap returns Kind and, if set, Err.
func (e *Error) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

// errorList returns the errors err joins, or err alone.
func errorList(err error) []error {
	if _, ok := err.(*Error); ok {
		return []error{err}
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}
