package envelope

import (
	"crypto/ed25519"
	"fmt"
	"testing"
)

// BenchmarkEnvelope measures sealing and opening, next to the bare Ed25519
// verification that opening includes, in the same run: the gap between
// open and ed25519.Verify is what the envelope costs (decoding, two
// encodings, the checks, the replay guard). It reports envelopes per second.
func BenchmarkEnvelope(b *testing.B) {
	alice := key(1)
	A := string(alice.DID())
	for _, size := range []int{256, 64 << 10} {
		body := make([]byte, size)
		b.Run(fmt.Sprintf("seal/body=%d", size), func(b *testing.B) {
			rand := &nonces{}
			s := signer(alice)
			for b.Loop() {
				if _, err := Seal(s, "test.ping", "", body, t0, rand); err != nil {
					b.Fatal(err)
				}
			}
			perSecond(b)
		})
		b.Run(fmt.Sprintf("open/body=%d", size), func(b *testing.B) {
			// A pool of distinct envelopes, opened in turn by a verifier
			// whose guard holds fewer than the pool: each is new again when
			// its turn comes, and every open pays for a guard insertion and
			// an eviction, as a busy node's does.
			const pool = 1024
			rand := &nonces{}
			envs := make([][]byte, pool)
			for i := range envs {
				envs[i] = seal(b, alice, "test.ping", "", body, t0, rand)
			}
			v, _ := newVerifier(b, WithReplayGuard(NewReplayGuard(pool/2)))
			i := 0
			for b.Loop() {
				if _, err := v.Open(envs[i%pool], A); err != nil {
					b.Fatal(err)
				}
				i++
			}
			perSecond(b)
		})
		b.Run(fmt.Sprintf("ed25519.Verify/body=%d", size), func(b *testing.B) {
			// The same number of bytes as an envelope's signing bytes.
			e := mustDecode(b, seal(b, alice, "test.ping", "", body, t0, &nonces{}))
			msg, err := e.signingBytes()
			if err != nil {
				b.Fatal(err)
			}
			pub := alice.PublicKey()
			sig := alice.Sign(msg)
			for b.Loop() {
				if !ed25519.Verify(pub, msg, sig) {
					b.Fatal("does not verify")
				}
			}
			perSecond(b)
		})
	}
}

func perSecond(b *testing.B) {
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
