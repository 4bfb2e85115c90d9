package identity_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/mr-tron/base58"

	"github.com/intercooperative-network/icn-go/services/identity"
)

// W3C did:key method, Ed25519 test vectors (https://w3c-ccg.github.io/did-method-key/).
var specDIDs = []string{
	"did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp",
	"did:key:z6MkjchhfUsD6mmvni8mCdXHw216Xrm9bQe2mBH1P5RDjVJG",
	"did:key:z6MknGc3ocHs3zdPiJbnaaqDi58NGb4pk1Sp9WxWufuXSdxf",
}

func TestParseDIDSpecExamplesRoundTrip(t *testing.T) {
	for _, s := range specDIDs {
		t.Run(s, func(t *testing.T) {
			d, pub, err := identity.ParseDID(s)
			if err != nil {
				t.Fatalf("ParseDID: %v", err)
			}
			if string(d) != s {
				t.Errorf("ParseDID returned %q, want %q", d, s)
			}
			if len(pub) != ed25519.PublicKeySize {
				t.Fatalf("public key is %d bytes", len(pub))
			}
			if got := identity.DIDFromPublicKey(pub); string(got) != s {
				t.Errorf("DIDFromPublicKey(ParseDID(s)) = %q, want %q", got, s)
			}
			pub2, err := d.PublicKey()
			if err != nil || !bytes.Equal(pub2, pub) {
				t.Errorf("DID.PublicKey() = %x, %v; want %x", pub2, err, pub)
			}
		})
	}
}

// Vectors pairing a did:key with its raw public key, both written down
// independently of this package.
var keyVectors = []struct {
	did, pubB58, privB58 string
}{
	{
		did:     "did:key:z6MkwJSaEMnE4u6LiqrZV1BJHSkc9x8S4mTm3ArNL1m19BZR",
		pubB58:  "HrBXe7XnjMbscM1roSDTSMCcLNraetDQM9wSVjnzDxn3",
		privB58: "3FFXDEFub6DPDX9CEZugQKAFikm1rfnNFwdycUGksAWhrs6BNca6USdttMcyx6oAdKmtnFBQijgisU58r26JfXJF",
	},
	{
		did:    "did:key:z6MkmjY8GnV5i9YTDtPETC2uUAW6ejw3nk5mXF5yci5ab7th",
		pubB58: "8HH5gYEeNc3z7PYXmd54d4x6qAfCNrqQqEB3nS7Zfu7K",
	},
}

func TestKeyVectors(t *testing.T) {
	for _, v := range keyVectors {
		t.Run(v.did, func(t *testing.T) {
			pub := mustB58(t, v.pubB58)
			if got := identity.DIDFromPublicKey(pub); string(got) != v.did {
				t.Errorf("DIDFromPublicKey = %q, want %q", got, v.did)
			}
			_, parsed, err := identity.ParseDID(v.did)
			if err != nil {
				t.Fatalf("ParseDID: %v", err)
			}
			if !bytes.Equal(parsed, pub) {
				t.Errorf("ParseDID key = %x, want %x", parsed, pub)
			}
			if v.privB58 == "" {
				return
			}
			priv := mustB58(t, v.privB58)
			if len(priv) != ed25519.PrivateKeySize {
				t.Fatalf("private key vector is %d bytes, want %d", len(priv), ed25519.PrivateKeySize)
			}
			if !bytes.Equal(priv[32:], pub) {
				t.Fatalf("vector's seed||pub does not end in the public key")
			}
			// Derive from the seed alone, not from the pub half of the vector.
			id := identity.New(ed25519.NewKeyFromSeed(priv[:32]))
			if !bytes.Equal(id.PublicKey(), pub) {
				t.Errorf("seed derives public key %x, want %x", id.PublicKey(), pub)
			}
			if string(id.DID()) != v.did {
				t.Errorf("seed derives DID %q, want %q", id.DID(), v.did)
			}
			msg := []byte("icn identity vector")
			sig := id.Sign(msg)
			if err := identity.Verify(identity.DID(v.did), msg, sig); err != nil {
				t.Errorf("Verify: %v", err)
			}
			if !ed25519.Verify(pub, msg, sig) {
				t.Errorf("crypto/ed25519 does not verify the signature")
			}
		})
	}
}

func TestParseDIDRejects(t *testing.T) {
	valid := specDIDs[0]
	_, pub, err := identity.ParseDID(valid)
	if err != nil {
		t.Fatal(err)
	}
	mb := func(b ...[]byte) string { return "did:key:z" + base58.Encode(bytes.Join(b, nil)) }
	ed := []byte{0xed, 0x01}

	x25519 := mb([]byte{0xec, 0x01}, pub)
	if !strings.HasPrefix(x25519, "did:key:z6LS") {
		t.Fatalf("test setup: x25519 did:key %q does not start with z6LS", x25519)
	}

	tests := []struct {
		name, in string
	}{
		{"empty", ""},
		{"prefix only", "did:key:"},
		{"no prefix", strings.TrimPrefix(valid, "did:key:")},
		{"other method", "did:web:example.com"},
		{"upper-case scheme", "DID:KEY:" + strings.TrimPrefix(valid, "did:key:")},
		{"missing colon", "did:key" + strings.TrimPrefix(valid, "did:key:")},
		{"multibase base58flickr", "did:key:Z" + strings.TrimPrefix(valid, "did:key:z")},
		{"multibase base64url", "did:key:uAe0B" + strings.Repeat("A", 43)},
		{"multibase base16", "did:key:fed01" + strings.Repeat("00", 32)},
		{"multibase only", "did:key:z"},
		{"bad base58 zero", valid[:20] + "0" + valid[21:]},
		{"bad base58 capital O", valid[:20] + "O" + valid[21:]},
		{"bad base58 capital I", valid[:20] + "I" + valid[21:]},
		{"bad base58 lower l", valid[:20] + "l" + valid[21:]},
		{"non-ascii", valid[:20] + "é" + valid[22:]},
		{"x25519 key", x25519},
		{"secp256k1 key", mb([]byte{0xe7, 0x01}, make([]byte, 33))},
		{"p256 key", mb([]byte{0x80, 0x24}, make([]byte, 33))},
		{"no multicodec", mb(pub)},
		{"truncated varint", mb([]byte{0xed})},
		{"non-minimal varint", mb([]byte{0xed, 0x81, 0x00}, pub)},
		{"codec only", mb(ed)},
		{"key 31 bytes", mb(ed, pub[:31])},
		{"key 33 bytes", mb(ed, pub, []byte{0})},
		{"key 64 bytes", mb(ed, pub, pub)},
		{"leading zero byte", mb([]byte{0}, ed, pub)},
		{"fragment", valid + "#" + strings.TrimPrefix(valid, "did:key:")},
		{"path", valid + "/x"},
		{"query", valid + "?x=1"},
		{"trailing space", valid + " "},
		{"leading space", " " + valid},
		{"trailing newline", valid + "\n"},
		{"very long", "did:key:z" + strings.Repeat("6Mk", 10000)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, pub, err := identity.ParseDID(tt.in)
			if !errors.Is(err, identity.ErrInvalidDID) {
				t.Fatalf("ParseDID(%q) = %q, %x, %v; want ErrInvalidDID", tt.in, d, pub, err)
			}
			if d != "" || pub != nil {
				t.Errorf("ParseDID returned %q, %x alongside an error", d, pub)
			}
			if _, err := identity.DID(tt.in).PublicKey(); !errors.Is(err, identity.ErrInvalidDID) {
				t.Errorf("DID.PublicKey() error = %v, want ErrInvalidDID", err)
			}
			if err := identity.Verify(identity.DID(tt.in), []byte("m"), make([]byte, ed25519.SignatureSize)); !errors.Is(err, identity.ErrInvalidDID) {
				t.Errorf("Verify error = %v, want ErrInvalidDID", err)
			}
		})
	}
}

func TestParseDIDErrorSaysWhy(t *testing.T) {
	_, pub, err := identity.ParseDID(specDIDs[0])
	if err != nil {
		t.Fatal(err)
	}
	short := "did:key:z" + base58.Encode(append([]byte{0xed, 0x01}, pub[:31]...))
	_, _, err = identity.ParseDID(short)
	if err == nil || !strings.Contains(err.Error(), "public key is 31 bytes") {
		t.Errorf("error for a short key = %v, want it to name the key length", err)
	}
	x := "did:key:z" + base58.Encode(append([]byte{0xec, 0x01}, pub...))
	_, _, err = identity.ParseDID(x)
	if err == nil || !strings.Contains(err.Error(), "x25519-pub") {
		t.Errorf("error for an x25519 did = %v, want it to name x25519-pub", err)
	}
}

func TestDIDFromPublicKeyPanicsOnBadLength(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("DIDFromPublicKey accepted a 31-byte key")
		}
	}()
	identity.DIDFromPublicKey(make([]byte, 31))
}

func mustB58(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base58.Decode(s)
	if err != nil {
		t.Fatalf("base58 %q: %v", s, err)
	}
	return b
}
