package envelope

import (
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/intercooperative-network/icn-go/services/clock/clocktest"
	"github.com/intercooperative-network/icn-go/services/identity"
)

// enc encodes one value canonically, for building maps by hand.
func enc(t testing.TB, v any) []byte {
	t.Helper()
	b, err := cborCodec.enc.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// kv is one map entry: a text key and an encoded value.
type kv struct {
	k string
	v []byte
}

// cmap writes a definite-length map of the entries in the order given, so
// tests can write maps the encoder never would.
func cmap(t testing.TB, kvs []kv) []byte {
	t.Helper()
	if len(kvs) > 23 {
		t.Fatal("cmap: too many entries for a one-byte header")
	}
	out := []byte{0xa0 | byte(len(kvs))}
	for _, p := range kvs {
		out = append(out, enc(t, p.k)...)
		out = append(out, p.v...)
	}
	return out
}

// entries returns e's map entries in canonical order.
func entries(t testing.TB, e Envelope) []kv {
	t.Helper()
	kvs := []kv{
		{"b", enc(t, e.Body)}, {"f", enc(t, e.From)}, {"n", enc(t, e.Nonce[:])}, {"s", enc(t, e.Sig)},
		{"t", enc(t, e.Type)}, {"v", enc(t, e.Version)},
	}
	if e.To != "" {
		kvs = append(kvs, kv{"to", enc(t, e.To)})
	}
	return append(kvs, kv{"ts", enc(t, e.Time)})
}

// edit returns a copy of kvs with f applied to the entry of key k.
func edit(kvs []kv, k string, f func(kv) []kv) []kv {
	var out []kv
	for _, p := range kvs {
		if p.k == k {
			out = append(out, f(p)...)
		} else {
			out = append(out, p)
		}
	}
	return out
}

func mustDecode(t testing.TB, data []byte) Envelope {
	t.Helper()
	e, err := decode(data)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func mustMarshal(t testing.TB, e Envelope) []byte {
	t.Helper()
	b, err := e.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	alice, bob := key(1), key(2)
	rand := &nonces{}
	for _, tc := range []struct {
		name string
		typ  string
		to   string
		body []byte
	}{
		{"broadcast", "test.ping", "", []byte("hello")},
		{"addressed", "jobs.bid", string(bob.DID()), []byte{0, 1, 2, 0xff}},
		{"empty body", "test.ping", "", nil},
		{"largest body", "test.ping", "", bytes.Repeat([]byte{7}, DefaultMaxBody)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, _ := newVerifier(t)
			data := seal(t, alice, tc.typ, tc.to, tc.body, t0, rand)
			if len(data) > len(tc.body)+Overhead {
				t.Errorf("envelope of %d bytes for a body of %d: more than Overhead", len(data), len(tc.body))
			}
			e, err := v.Open(data, string(alice.DID()))
			if err != nil {
				t.Fatal(err)
			}
			if e.Version != Version || e.Type != tc.typ || e.From != string(alice.DID()) || e.To != tc.to ||
				e.Time != t0.UnixMilli() || !bytes.Equal(e.Body, tc.body) || len(e.Sig) != 64 {
				t.Errorf("opened %+v", e)
			}
			if again := mustMarshal(t, e); !bytes.Equal(again, data) {
				t.Errorf("re-encoded differently:\n%x\n%x", again, data)
			}
			// The envelope does not alias data.
			body, sig := slices.Clone(e.Body), slices.Clone(e.Sig)
			clear(data)
			if !bytes.Equal(e.Body, body) || !bytes.Equal(e.Sig, sig) {
				t.Error("the opened envelope shares memory with the input")
			}
			data = mustMarshal(t, e)
			// The hand-written map agrees with the encoder: the crafted
			// inputs below are what they claim to be.
			if hand := cmap(t, entries(t, e)); !bytes.Equal(hand, data) {
				t.Errorf("cmap(entries) differs from the encoding:\n%x\n%x", hand, data)
			}
		})
	}
}

// TestSenderFromPeerID follows the caller's path: the DID to expect comes
// from the libp2p peer ID of the connection.
func TestSenderFromPeerID(t *testing.T) {
	alice, mallory := key(1), key(3)
	v, _ := newVerifier(t)
	data := seal(t, alice, "test.ping", "", []byte("x"), t0, &nonces{})
	for _, tc := range []struct {
		peer *identity.Identity
		want string
	}{{mallory, ReasonSenderMismatch}, {alice, ""}} {
		pid, err := tc.peer.PeerID()
		if err != nil {
			t.Fatal(err)
		}
		did, err := identity.DIDFromPeerID(pid)
		if err != nil {
			t.Fatal(err)
		}
		_, err = v.Open(data, string(did))
		if got := reason(t, err); got != tc.want {
			t.Errorf("from peer %s: %q, want %q (%v)", pid, got, tc.want, err)
		}
	}
}

// TestRejections produces every reason from a crafted input.
func TestRejections(t *testing.T) {
	alice, bob, mallory := key(1), key(2), key(3)
	A := string(alice.DID())
	rand := &nonces{}
	good := seal(t, alice, "test.ping", string(bob.DID()), []byte("body"), t0, rand)
	e := mustDecode(t, good)
	kvs := entries(t, e)
	with := func(f func(*Envelope)) []byte {
		c := e
		c.Body, c.Sig = slices.Clone(e.Body), slices.Clone(e.Sig)
		f(&c)
		return mustMarshal(t, c)
	}
	byMallory := mustDecode(t, seal(t, mallory, "test.ping", "", []byte("body"), t0, rand))

	type tc struct {
		name    string
		data    []byte
		sender  string
		want    string
		maxBody int    // 0: default
		self    string // WithRecipient, unless ""
	}
	B := string(bob.DID())
	cases := []tc{
		{name: "accepted", data: good, sender: A, want: ""},

		// malformed: not CBOR, not a map, not canonical, not the shape.
		{name: "empty", data: nil, sender: A, want: ReasonMalformed},
		{name: "not cbor", data: []byte{0xff}, sender: A, want: ReasonMalformed},
		{name: "array", data: []byte{0x80}, sender: A, want: ReasonMalformed},
		{name: "integer", data: []byte{0x01}, sender: A, want: ReasonMalformed},
		{name: "empty map", data: []byte{0xa0}, sender: A, want: ReasonMalformed},
		{name: "truncated", data: good[:len(good)-1], sender: A, want: ReasonMalformed},
		{name: "trailing byte", data: append(slices.Clone(good), 0x00), sender: A, want: ReasonMalformed},
		{name: "trailing envelope", data: append(slices.Clone(good), good...), sender: A, want: ReasonMalformed},
		{name: "duplicate key", data: cmap(t, append(slices.Clone(kvs), kv{"ts", enc(t, e.Time)})), sender: A, want: ReasonMalformed},
		{name: "duplicate key, other value", data: cmap(t, edit(kvs, "b", func(p kv) []kv { return []kv{p, {"b", enc(t, []byte("evil"))}} })), sender: A, want: ReasonMalformed},
		{name: "indefinite map", data: append(append([]byte{0xbf}, good[1:]...), 0xff), sender: A, want: ReasonMalformed},
		{name: "indefinite body", data: cmap(t, edit(kvs, "b", func(kv) []kv { return []kv{{"b", []byte{0x5f, 0x44, 'b', 'o', 'd', 'y', 0xff}}} })), sender: A, want: ReasonMalformed},
		{name: "unknown key", data: cmap(t, edit(kvs, "v", func(p kv) []kv { return []kv{p, {"x", enc(t, 1)}} })), sender: A, want: ReasonMalformed},
		{name: "key in other case", data: cmap(t, edit(kvs, "b", func(p kv) []kv { return []kv{{"B", p.v}} })), sender: A, want: ReasonMalformed},
		{name: "byte string key", data: append([]byte{good[0], 0x41, 'b'}, good[3:]...), sender: A, want: ReasonMalformed},
		{name: "keys out of order", data: cmap(t, append([]kv{kvs[1], kvs[0]}, kvs[2:]...)), sender: A, want: ReasonMalformed},
		{name: "non-shortest integer", data: cmap(t, edit(kvs, "v", func(kv) []kv { return []kv{{"v", []byte{0x18, 0x01}}} })), sender: A, want: ReasonMalformed},
		{name: "empty recipient written", data: cmap(t, edit(entries(t, byMallory), "v", func(p kv) []kv { return []kv{p, {"to", enc(t, "")}} })), sender: string(mallory.DID()), want: ReasonMalformed},
		{name: "tagged time", data: cmap(t, edit(kvs, "ts", func(p kv) []kv { return []kv{{"ts", append([]byte{0xc1}, p.v...)}} })), sender: A, want: ReasonMalformed},
		{name: "time as text", data: cmap(t, edit(kvs, "ts", func(kv) []kv { return []kv{{"ts", enc(t, "now")}} })), sender: A, want: ReasonMalformed},
		{name: "missing signature", data: cmap(t, edit(kvs, "s", func(kv) []kv { return nil })), sender: A, want: ReasonMalformed},
		{name: "missing nonce", data: cmap(t, edit(kvs, "n", func(kv) []kv { return nil })), sender: A, want: ReasonMalformed},
		{name: "short nonce", data: cmap(t, edit(kvs, "n", func(kv) []kv { return []kv{{"n", enc(t, e.Nonce[:15])}} })), sender: A, want: ReasonMalformed},
		{name: "long nonce", data: cmap(t, edit(kvs, "n", func(kv) []kv { return []kv{{"n", enc(t, append(e.Nonce[:], 0))}} })), sender: A, want: ReasonMalformed},
		{name: "signature too long", data: with(func(c *Envelope) { c.Sig = make([]byte, MaxSig+1) }), sender: A, want: ReasonMalformed},
		{name: "invalid utf-8 type", data: cmap(t, edit(kvs, "t", func(kv) []kv { return []kv{{"t", []byte{0x61, 0xff}}} })), sender: A, want: ReasonMalformed},
		{name: "type as bytes", data: cmap(t, edit(kvs, "t", func(kv) []kv { return []kv{{"t", enc(t, []byte("test.ping"))}} })), sender: A, want: ReasonMalformed},
		{name: "empty type", data: with(func(c *Envelope) { c.Type = "" }), sender: A, want: ReasonMalformed},
		{name: "type too long", data: with(func(c *Envelope) { c.Type = strings.Repeat("t", MaxType+1) }), sender: A, want: ReasonMalformed},
		{name: "sender too long", data: with(func(c *Envelope) { c.From = strings.Repeat("d", MaxDID+1) }), sender: A, want: ReasonMalformed},
		{name: "nested junk under unknown key", data: cmap(t, append(slices.Clone(kvs), kv{"zz", bytes.Repeat([]byte{0x81}, 100)})), sender: A, want: ReasonMalformed},

		// oversize: refused before decoding (junk of that size is not
		// "malformed"), and a body over a lower limit.
		{name: "envelope over the limit", data: bytes.Repeat([]byte{0xff}, MaxEnvelope+1), sender: A, want: ReasonOversize},
		{name: "envelope over a lower limit", data: bytes.Repeat([]byte{0xff}, 100+Overhead+1), sender: A, want: ReasonOversize, maxBody: 100},
		{name: "body over a lower limit", data: seal(t, alice, "test.ping", "", make([]byte, 101), t0, rand), sender: A, want: ReasonOversize, maxBody: 100},
		{name: "body at a lower limit", data: seal(t, alice, "test.ping", "", make([]byte, 100), t0, rand), sender: A, want: "", maxBody: 100},

		// unknown_version: in our shape, and in a shape we cannot decode.
		{name: "version 0", data: with(func(c *Envelope) { c.Version = 0 }), sender: A, want: ReasonUnknownVersion},
		{name: "version 2", data: with(func(c *Envelope) { c.Version = 2 }), sender: A, want: ReasonUnknownVersion},
		{name: "version 300", data: cmap(t, edit(kvs, "v", func(kv) []kv { return []kv{{"v", enc(t, 300)}} })), sender: A, want: ReasonUnknownVersion},
		{name: "version 2, other shape", data: cmap(t, []kv{{"v", enc(t, 2)}, {"new", enc(t, []any{1, 2})}}), sender: A, want: ReasonUnknownVersion},
		{name: "version 1, other shape", data: cmap(t, []kv{{"v", enc(t, 1)}, {"new", enc(t, 1)}}), sender: A, want: ReasonMalformed},

		{name: "unknown type", data: seal(t, alice, "test.nope", "", nil, t0, rand), sender: A, want: ReasonUnknownType},

		// bad_signature: forged, and every signed field tampered with.
		{name: "forged: mallory signs as alice", data: func() []byte {
			f := byMallory
			f.From = A
			return mustMarshal(t, f)
		}(), sender: A, want: ReasonBadSignature},
		{name: "zero signature", data: with(func(c *Envelope) { c.Sig = make([]byte, 64) }), sender: A, want: ReasonBadSignature},
		{name: "short signature", data: with(func(c *Envelope) { c.Sig = c.Sig[:63] }), sender: A, want: ReasonBadSignature},
		{name: "body tampered", data: with(func(c *Envelope) { c.Body[0] ^= 1 }), sender: A, want: ReasonBadSignature},
		{name: "body extended", data: with(func(c *Envelope) { c.Body = append(c.Body, 0) }), sender: A, want: ReasonBadSignature},
		{name: "type tampered", data: with(func(c *Envelope) { c.Type = "jobs.bid" }), sender: A, want: ReasonBadSignature},
		{name: "recipient tampered", data: with(func(c *Envelope) { c.To = string(mallory.DID()) }), sender: A, want: ReasonBadSignature},
		{name: "recipient removed", data: with(func(c *Envelope) { c.To = "" }), sender: A, want: ReasonBadSignature},
		{name: "time tampered", data: with(func(c *Envelope) { c.Time++ }), sender: A, want: ReasonBadSignature},
		{name: "nonce tampered", data: with(func(c *Envelope) { c.Nonce[0] ^= 1 }), sender: A, want: ReasonBadSignature},
		{name: "sender not a DID", data: with(func(c *Envelope) { c.From = "did:key:nope" }), sender: "did:key:nope", want: ReasonBadSignature},

		// sender_mismatch: relayed by another peer, or no peer DID at all.
		{name: "sent by another peer", data: good, sender: string(mallory.DID()), want: ReasonSenderMismatch},
		{name: "peer without a DID", data: good, sender: "", want: ReasonSenderMismatch},

		// wrong_recipient: addressed to another node than the receiver.
		{name: "addressed to another node", data: good, sender: A, self: string(mallory.DID()), want: ReasonWrongRecipient},
		{name: "addressed to the receiver", data: good, sender: A, self: B, want: ""},
		{name: "broadcast, to a receiver", data: seal(t, alice, "test.ping", "", nil, t0, rand), sender: A, self: B, want: ""},
		{name: "to another node, sender checked first", data: good, sender: string(mallory.DID()), self: string(mallory.DID()), want: ReasonSenderMismatch},

		// clock_skew: just outside the window either way.
		{name: "too old", data: seal(t, alice, "test.ping", "", nil, t0.Add(-DefaultSkew-time.Millisecond), rand), sender: A, want: ReasonClockSkew},
		{name: "too new", data: seal(t, alice, "test.ping", "", nil, t0.Add(DefaultSkew+time.Millisecond), rand), sender: A, want: ReasonClockSkew},
		{name: "oldest accepted", data: seal(t, alice, "test.ping", "", nil, t0.Add(-DefaultSkew), rand), sender: A, want: ""},
		{name: "newest accepted", data: seal(t, alice, "test.ping", "", nil, t0.Add(DefaultSkew), rand), sender: A, want: ""},
		{name: "time at the end of int64", data: with(func(c *Envelope) { c.Time = 1<<63 - 1 }), sender: A, want: ReasonClockSkew},
		{name: "time at the start of int64", data: with(func(c *Envelope) { c.Time = -1 << 63 }), sender: A, want: ReasonClockSkew},
	}
	seen := map[string]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var opts []Option
			if c.maxBody != 0 {
				opts = append(opts, WithMaxBody(c.maxBody))
			}
			if c.self != "" {
				opts = append(opts, WithRecipient(c.self))
			}
			v, _ := newVerifier(t, opts...)
			got, err := v.Open(c.data, c.sender)
			if r := reason(t, err); r != c.want {
				t.Fatalf("reason %q, want %q (%v)", r, c.want, err)
			}
			t.Log(err) // with -v: check that each case fails for the reason in its name
			seen[c.want] = true
			if err != nil && !reflectZero(got) {
				t.Errorf("a rejection returned an envelope: %+v", got)
			}
		})
	}
	for _, r := range Reasons() {
		if r != ReasonReplay && !seen[r] {
			t.Errorf("no case produces %q", r)
		}
	}
}

func reflectZero(e Envelope) bool {
	return e.Version == 0 && e.Type == "" && e.From == "" && e.To == "" && e.Time == 0 &&
		e.Nonce == [NonceSize]byte{} && e.Body == nil && e.Sig == nil
}

// TestReplay: the same bytes are accepted once, then refused; the same
// nonce from another sender is not a replay.
func TestReplay(t *testing.T) {
	alice, bob := key(1), key(2)
	v, _ := newVerifier(t)
	data := seal(t, alice, "test.ping", "", []byte("once"), t0, &nonces{})
	if _, err := v.Open(data, string(alice.DID())); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		_, err := v.Open(data, string(alice.DID()))
		if r := reason(t, err); r != ReasonReplay {
			t.Fatalf("second open: %q (%v)", r, err)
		}
	}
	// bob's envelope with alice's nonce (both from a fresh nonce source).
	other := seal(t, bob, "test.ping", "", []byte("once"), t0, &nonces{})
	if mustDecode(t, other).Nonce != mustDecode(t, data).Nonce {
		t.Fatal("test setup: nonces differ")
	}
	if _, err := v.Open(other, string(bob.DID())); err != nil {
		t.Fatalf("the same nonce from another sender: %v", err)
	}
	// A rejected envelope does not burn its nonce: a forgery first, then
	// the real one with the same nonce.
	v2, _ := newVerifier(t)
	e := mustDecode(t, data)
	e.Sig = make([]byte, 64)
	if _, err := v2.Open(mustMarshal(t, e), string(alice.DID())); reason(t, err) != ReasonBadSignature {
		t.Fatalf("forgery: %v", err)
	}
	if _, err := v2.Open(data, string(alice.DID())); err != nil {
		t.Fatalf("the real envelope after a forgery with its nonce: %v", err)
	}
}

// TestReplayWindow: a nonce is remembered exactly as long as its envelope
// passes the time check, on the fake clock.
func TestReplayWindow(t *testing.T) {
	alice := key(1)
	A := string(alice.DID())
	g := NewReplayGuard(0)
	v, clk := newVerifier(t, WithReplayGuard(g))
	data := seal(t, alice, "test.ping", "", nil, t0, &nonces{})
	if _, err := v.Open(data, A); err != nil {
		t.Fatal(err)
	}
	clk.Advance(DefaultSkew) // the last instant the envelope's time passes
	if _, err := v.Open(data, A); reason(t, err) != ReasonReplay {
		t.Fatalf("at the edge of the window: %v", err)
	}
	clk.Advance(time.Millisecond) // now the time check refuses it first
	if _, err := v.Open(data, A); reason(t, err) != ReasonClockSkew {
		t.Fatalf("past the window: %v", err)
	}
	// and the guard forgets it at the next use.
	if _, err := v.Open(seal(t, alice, "test.ping", "", nil, clk.Now(), &nonces{next: 100}), A); err != nil {
		t.Fatal(err)
	}
	if n := g.Len(); n != 1 {
		t.Errorf("guard holds %d nonces, want 1 (the expired one forgotten)", n)
	}
}

func TestReasons(t *testing.T) {
	rs := Reasons()
	if len(rs) != 9 || len(slices.Compact(slices.Sorted(slices.Values(rs)))) != 9 {
		t.Fatalf("Reasons() = %q", rs)
	}
	rs[0] = "changed"
	if Reasons()[0] != ReasonMalformed {
		t.Fatal("Reasons() shares its slice")
	}
	err := error(reject(ReasonReplay, "detail", io.ErrUnexpectedEOF))
	if !errors.Is(err, ErrRejected) || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("%v does not match ErrRejected and its cause", err)
	}
	if got := err.Error(); got != "envelope: rejected (replay): detail: unexpected EOF" {
		t.Errorf("Error() = %q", got)
	}
}

// TestOverhead checks the Overhead constant against an envelope whose every
// field but the body is at its limit, with the largest body header.
func TestOverhead(t *testing.T) {
	body := make([]byte, 1<<16) // a 5-byte byte-string header, as for any body up to 4 GiB
	e := Envelope{
		Version: 255, Type: strings.Repeat("t", MaxType), From: strings.Repeat("f", MaxDID),
		To: strings.Repeat("r", MaxDID), Time: -1 << 63, Body: body, Sig: make([]byte, MaxSig),
	}
	if n := len(mustMarshal(t, e)) - len(body); n > Overhead {
		t.Fatalf("fields other than the body take %d bytes, Overhead is %d", n, Overhead)
	}
}

func TestNewVerifierRefuses(t *testing.T) {
	fake := clocktest.New(t0)
	for name, f := range map[string]func() (*Verifier, error){
		"no verify":  func() (*Verifier, error) { return NewVerifier(nil, fake, testTypes) },
		"no clock":   func() (*Verifier, error) { return NewVerifier(verifyDID, nil, testTypes) },
		"no types":   func() (*Verifier, error) { return NewVerifier(verifyDID, fake, nil) },
		"empty type": func() (*Verifier, error) { return NewVerifier(verifyDID, fake, []string{""}) },
		"long type": func() (*Verifier, error) {
			return NewVerifier(verifyDID, fake, []string{strings.Repeat("t", MaxType+1)})
		},
		"zero body": func() (*Verifier, error) { return NewVerifier(verifyDID, fake, testTypes, WithMaxBody(0)) },
		"huge body": func() (*Verifier, error) { return NewVerifier(verifyDID, fake, testTypes, WithMaxBody(maxBodyLimit+1)) },
		"zero skew": func() (*Verifier, error) { return NewVerifier(verifyDID, fake, testTypes, WithSkew(0)) },
		"negative skew": func() (*Verifier, error) {
			return NewVerifier(verifyDID, fake, testTypes, WithSkew(-time.Second))
		},
	} {
		if v, err := f(); err == nil || v != nil {
			t.Errorf("%s: %v, %v", name, v, err)
		}
	}
}

func TestSealRefuses(t *testing.T) {
	alice := key(1)
	ok := signer(alice)
	errSign := errors.New("keyring: no key")
	for _, tc := range []struct {
		name string
		s    Signer
		typ  string
		to   string
		rand io.Reader
	}{
		{"no sign function", Signer{DID: ok.DID}, "test.ping", "", &nonces{}},
		{"no DID", Signer{Sign: ok.Sign}, "test.ping", "", &nonces{}},
		{"empty type", ok, "", "", &nonces{}},
		{"long type", ok, strings.Repeat("t", MaxType+1), "", &nonces{}},
		{"invalid utf-8 type", ok, "t\xff", "", &nonces{}},
		{"long recipient", ok, "test.ping", strings.Repeat("r", MaxDID+1), &nonces{}},
		{"short random source", ok, "test.ping", "", bytes.NewReader(make([]byte, NonceSize-1))},
		{"signer fails", Signer{DID: ok.DID, Sign: func([]byte) ([]byte, error) { return nil, errSign }}, "test.ping", "", &nonces{}},
		{"signature too long", Signer{DID: ok.DID, Sign: func([]byte) ([]byte, error) { return make([]byte, MaxSig+1), nil }}, "test.ping", "", &nonces{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if data, err := Seal(tc.s, tc.typ, tc.to, nil, t0, tc.rand); err == nil {
				t.Fatalf("sealed %x", data)
			}
		})
	}
	if _, err := Seal(Signer{DID: ok.DID, Sign: func([]byte) ([]byte, error) { return nil, errSign }}, "test.ping", "", nil, t0, &nonces{}); !errors.Is(err, errSign) {
		t.Errorf("the signer's error is not wrapped: %v", err)
	}
}
