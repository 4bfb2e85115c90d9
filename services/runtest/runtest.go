// Package runtest runs a component (a network, a supervision tree, a
// node) for the length of a test: it starts it, and stops it when the
// test ends. It must not build components itself; the tests that use it
// do, each with its own options.
package runtest

import (
	"context"
	"testing"
)

// Component is anything started and stopped with a context.
type Component interface {
	Start(context.Context) error
	Stop(context.Context) error
}

// Start starts c, failing the test if it cannot, and stops it when the
// test ends, reporting an error from Stop as a test error. It returns c.
func Start[C Component](tb testing.TB, c C) C {
	tb.Helper()
	if err := c.Start(context.Background()); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := c.Stop(context.Background()); err != nil {
			tb.Error(err)
		}
	})
	return c
}
