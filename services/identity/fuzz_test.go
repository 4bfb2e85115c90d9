package identity_test

import (
	"errors"
	"testing"

	"github.com/intercooperative-network/icn-go/services/identity"
)

// FuzzParseDID checks that ParseDID never panics, that it rejects with
// ErrInvalidDID, and that whatever it accepts re-encodes to the same string.
// Seed corpus: testdata/fuzz/FuzzParseDID.
func FuzzParseDID(f *testing.F) {
	for _, s := range specDIDs {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, pub, err := identity.ParseDID(s)
		if err != nil {
			if !errors.Is(err, identity.ErrInvalidDID) {
				t.Fatalf("ParseDID(%q) error %v does not wrap ErrInvalidDID", s, err)
			}
			if d != "" || pub != nil {
				t.Fatalf("ParseDID(%q) returned values with an error", s)
			}
			return
		}
		if string(d) != s {
			t.Fatalf("ParseDID(%q) returned %q", s, d)
		}
		if got := identity.DIDFromPublicKey(pub); got != d {
			t.Fatalf("ParseDID(%q) accepted, but its key re-encodes to %q", s, got)
		}
	})
}
