package httpapi

import (
	"bytes"
	"errors"
	"net/http/httptest"
	"testing"

	"github.com/intercooperative-network/icn-go/supervisors"
)

// FuzzParseKill: any body gets either a valid request or a typed 4xx error;
// it never panics and never accepts an empty path or an unknown mode.
func FuzzParseKill(f *testing.F) {
	for _, seed := range []string{
		`{"path":"/icn/dag","mode":"panic"}`,
		`{"path":"dag","mode":"poison"}`,
		`{"path":"","mode":"stop"}`,
		`{"path":"/icn","mode":"nope"}`,
		`{"path":7}`,
		`{"path":"/icn/dag","mode":"panic"} trailing`,
		`[]`,
		``,
		"\x00\xff",
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest("POST", "/admin/actors/kill", bytes.NewReader(body))
		kr, mode, err := parseKill(req)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) && !errors.Is(err, supervisors.ErrBadKillMode) {
				t.Fatalf("untyped error %T: %v", err, err)
			}
			if st := statusOf(err); st.Status != 400 {
				t.Fatalf("bad body mapped to %d", st.Status)
			}
			return
		}
		if kr.Path == "" || mode.String() != kr.Mode {
			t.Fatalf("accepted %+v as mode %v", kr, mode)
		}
	})
}
