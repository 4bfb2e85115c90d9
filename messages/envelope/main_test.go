package envelope

import (
	"bytes"
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/intercooperative-network/icn-go/services/clock/clocktest"
	"github.com/intercooperative-network/icn-go/services/identity"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// t0 is the tests' "now"; the fuzz seeds are sealed at it.
var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// testTypes are the types the tests' verifiers know.
var testTypes = []string{"test.ping", "jobs.bid"}

// key returns a fixed identity, so that sealed test envelopes (and the fuzz
// seeds) are the same bytes on every run: Ed25519 signatures are
// deterministic and the nonce comes from nonces.
func key(n byte) *identity.Identity {
	return identity.New(ed25519.NewKeyFromSeed(bytes.Repeat([]byte{n}, ed25519.SeedSize)))
}

// signer adapts an identity, as the network service will.
func signer(id *identity.Identity) Signer {
	return Signer{DID: string(id.DID()), Sign: func(m []byte) ([]byte, error) { return id.Sign(m), nil }}
}

// verifyDID adapts identity.Verify, as the network service will.
func verifyDID(did string, msg, sig []byte) error {
	return identity.Verify(identity.DID(did), msg, sig)
}

// nonces is a deterministic nonce source: each read is a counter, big
// endian, so the nonces it gives are distinct.
type nonces struct{ next uint64 }

func (r *nonces) Read(p []byte) (int, error) {
	clear(p)
	if len(p) >= 8 {
		binary.BigEndian.PutUint64(p[len(p)-8:], r.next)
	}
	r.next++
	return len(p), nil
}

// newVerifier returns a verifier on a fake clock at t0.
func newVerifier(t testing.TB, opts ...Option) (*Verifier, *clocktest.Fake) {
	t.Helper()
	clk := clocktest.New(t0)
	v, err := NewVerifier(verifyDID, clk, testTypes, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return v, clk
}

// seal seals an envelope or fails the test.
func seal(t testing.TB, id *identity.Identity, typ, to string, body []byte, at time.Time, rand *nonces) []byte {
	t.Helper()
	data, err := Seal(signer(id), typ, to, body, at, rand)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// reason returns the reason of a rejection, "" for nil, and fails the test
// for an error that is not a proper rejection.
func reason(t testing.TB, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	re, ok := errors.AsType[*RejectError](err)
	if !ok || !errors.Is(err, ErrRejected) {
		t.Fatalf("not a rejection: %T %v", err, err)
	}
	return re.Reason
}
