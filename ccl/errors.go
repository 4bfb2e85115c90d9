package ccl

import (
	"fmt"
	"strings"
)

// Pos is a position in a source file. Line and Col count from 1; Col
// counts bytes. The zero Pos is unknown.
type Pos struct {
	Filename string
	Offset   int // byte offset, from 0
	Line     int
	Col      int
}

// String returns file:line:col.
func (p Pos) String() string {
	f := p.Filename
	if f == "" {
		f = "<input>"
	}
	return fmt.Sprintf("%s:%d:%d", f, p.Line, p.Col)
}

// IsValid reports whether the position is known.
func (p Pos) IsValid() bool { return p.Line > 0 }

// Error is one compile error at a position.
type Error struct {
	Pos Pos
	Msg string
}

// Error returns "file:line:col: message".
func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// ErrorList is every error a compilation found, in source order. A
// compilation that fails returns a non-empty ErrorList as its error.
type ErrorList []*Error

// Error returns the first error, and how many more there are.
func (l ErrorList) Error() string {
	switch len(l) {
	case 0:
		return "no errors"
	case 1:
		return l[0].Error()
	}
	return fmt.Sprintf("%s (and %d more errors)", l[0].Error(), len(l)-1)
}

// String returns one error a line.
func (l ErrorList) String() string {
	var b strings.Builder
	for _, e := range l {
		b.WriteString(e.Error())
		b.WriteByte('\n')
	}
	return b.String()
}

// Unwrap returns the errors, for errors.As and errors.Is.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

// sorted returns the errors ordered the errors by position, keeping the order of errors
// at one position.
func (l ErrorList) sorted() ErrorList {
	out := append(ErrorList(nil), l...)
	// insertion sort: lists are short, and it is stable
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].Pos.Offset < out[j-1].Pos.Offset; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}
