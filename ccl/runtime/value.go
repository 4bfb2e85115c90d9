package runtime

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/intercooperative-network/icn-go/ccl"
)

// Value is a typed CCL value: an entry point's argument or result.
// Integer, Timestamp and Duration use Int; Bool uses Bool; Did and String
// use Str.
type Value struct {
	Type ccl.Type
	Int  int64
	Bool bool
	Str  string
}

// Integer returns an Integer (or Mana) value.
func Integer(v int64) Value { return Value{Type: ccl.Integer, Int: v} }

// Bool returns a Bool value.
func Bool(b bool) Value { return Value{Type: ccl.Bool, Bool: b} }

// Did returns a Did value.
func Did(s string) Value { return Value{Type: ccl.Did, Str: s} }

// String returns a String value.
func String(s string) Value { return Value{Type: ccl.String, Str: s} }

// Timestamp returns a Timestamp value, in seconds since the Unix epoch.
func Timestamp(sec int64) Value { return Value{Type: ccl.Timestamp, Int: sec} }

// Duration returns a Duration value, in seconds.
func Duration(sec int64) Value { return Value{Type: ccl.Duration, Int: sec} }

// String formats the value as its literal: 42, true, did:key:z6Mk...,
// "text"; a Timestamp as its seconds, a Duration as "N seconds".
func (v Value) String() string {
	switch v.Type {
	case ccl.Integer, ccl.Timestamp:
		return strconv.FormatInt(v.Int, 10)
	case ccl.Duration:
		return strconv.FormatInt(v.Int, 10) + " seconds"
	case ccl.Bool:
		return strconv.FormatBool(v.Bool)
	case ccl.Did:
		return v.Str
	case ccl.String:
		return strconv.Quote(v.Str)
	}
	return "<invalid>"
}

// ParseValue reads a value of type t from its text: a decimal number for
// Integer, Timestamp and Duration (seconds), true or false, a DID, or a
// String as is.
func ParseValue(t ccl.Type, s string) (Value, error) {
	switch t {
	case ccl.Integer, ccl.Timestamp, ccl.Duration:
		n, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), 10, 64)
		if err != nil {
			return Value{}, fmt.Errorf("%q: want a whole number (%s)", s, t)
		}
		return Value{Type: t, Int: n}, nil
	case ccl.Bool:
		switch s {
		case "true":
			return Bool(true), nil
		case "false":
			return Bool(false), nil
		}
		return Value{}, fmt.Errorf("%q: want a Bool (true or false)", s)
	case ccl.Did:
		if !strings.HasPrefix(s, "did:") || len(s) > ccl.MaxHostBytes {
			return Value{}, fmt.Errorf("%q: want a Did (did:method:id)", s)
		}
		return Did(s), nil
	case ccl.String:
		if len(s) > ccl.MaxHostBytes {
			return Value{}, fmt.Errorf("a String of %d bytes: the most is %d", len(s), ccl.MaxHostBytes)
		}
		return String(s), nil
	}
	return Value{}, fmt.Errorf("no value of type %s crosses the boundary", t)
}
