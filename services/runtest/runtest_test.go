package runtest_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"go.uber.org/goleak"

	"github.com/intercooperative-network/icn-go/services/runtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// component records its calls and fails them as told.
type component struct {
	calls             []string
	startErr, stopErr error
}

func (c *component) Start(context.Context) error {
	c.calls = append(c.calls, "start")
	return c.startErr
}
func (c *component) Stop(context.Context) error { c.calls = append(c.calls, "stop"); return c.stopErr }

// recorder is a testing.TB that records what the helper reports and
// runs cleanups when told, instead of failing the real test.
type recorder struct {
	testing.TB
	fatal, errors []string
	cleanups      []func()
}

func (r *recorder) Helper()           {}
func (r *recorder) Cleanup(f func())  { r.cleanups = append(r.cleanups, f) }
func (r *recorder) Error(args ...any) { r.errors = append(r.errors, fmt.Sprint(args...)) }
func (r *recorder) Fatal(args ...any) { r.fatal = append(r.fatal, fmt.Sprint(args...)); panic(r) }
func (r *recorder) end() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
}
func (r *recorder) run(f func()) (fatal bool) {
	defer func() {
		if p := recover(); p != nil {
			if p != r {
				panic(p)
			}
			fatal = true
		}
	}()
	f()
	return false
}

func TestStart(t *testing.T) {
	for _, tc := range []struct {
		name              string
		startErr, stopErr error
		calls             []string
		fatal, errors     int
	}{
		{"starts, then stops at the end", nil, nil, []string{"start", "stop"}, 0, 0},
		{"a start that fails is fatal and stops nothing", errors.New("no port"), nil, []string{"start"}, 1, 0},
		{"a stop that fails is a test error", nil, errors.New("stuck"), []string{"start", "stop"}, 0, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &component{startErr: tc.startErr, stopErr: tc.stopErr}
			r := &recorder{TB: t}
			var got *component
			r.run(func() { got = runtest.Start(r, c) })
			if tc.fatal == 0 && got != c {
				t.Errorf("returned %p, want %p", got, c)
			}
			if len(c.calls) != 1 {
				t.Fatalf("before the test ends: %v", c.calls)
			}
			r.end()
			if fmt.Sprint(c.calls) != fmt.Sprint(tc.calls) || len(r.fatal) != tc.fatal || len(r.errors) != tc.errors {
				t.Errorf("calls %v, fatal %v, errors %v", c.calls, r.fatal, r.errors)
			}
		})
	}
}
