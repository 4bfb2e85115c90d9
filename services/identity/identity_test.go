package identity_test

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/mr-tron/base58"

	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/identity/keyringtest"
)

// RFC 8032 section 7.1, TEST 1: the empty message.
const (
	rfcSeed = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
	rfcPub  = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
	rfcSig  = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065" +
		"224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
)

func rfcIdentity(t *testing.T) *identity.Identity {
	t.Helper()
	return identity.New(ed25519.NewKeyFromSeed(mustHex(t, rfcSeed)))
}

func TestSignMatchesRFC8032(t *testing.T) {
	id := rfcIdentity(t)
	if got := hex.EncodeToString(id.PublicKey()); got != rfcPub {
		t.Fatalf("public key = %s, want %s", got, rfcPub)
	}
	if got := hex.EncodeToString(id.Sign(nil)); got != rfcSig {
		t.Errorf("Sign(\"\") = %s, want %s", got, rfcSig)
	}
	if err := identity.Verify(id.DID(), nil, mustHex(t, rfcSig)); err != nil {
		t.Errorf("Verify(RFC signature): %v", err)
	}
}

func TestVerify(t *testing.T) {
	id := keyringtest.NewNode(t)
	other := keyringtest.NewNode(t)
	msg := []byte("settle job 42")
	sig := id.Sign(msg)

	flip := func(b []byte, i int) []byte {
		c := bytes.Clone(b)
		c[i] ^= 0x01
		return c
	}
	tests := []struct {
		name    string
		did     identity.DID
		msg     []byte
		sig     []byte
		wantErr error
	}{
		{"valid", id.DID(), msg, sig, nil},
		{"other message", id.DID(), []byte("settle job 43"), sig, identity.ErrBadSignature},
		{"empty message", id.DID(), nil, sig, identity.ErrBadSignature},
		{"flipped bit in R", id.DID(), msg, flip(sig, 0), identity.ErrBadSignature},
		{"flipped bit in S", id.DID(), msg, flip(sig, 40), identity.ErrBadSignature},
		{"other signer", other.DID(), msg, sig, identity.ErrBadSignature},
		{"short signature", id.DID(), msg, sig[:63], identity.ErrBadSignature},
		{"long signature", id.DID(), msg, append(bytes.Clone(sig), 0), identity.ErrBadSignature},
		{"no signature", id.DID(), msg, nil, identity.ErrBadSignature},
		{"malformed did", identity.DID("did:key:zzz"), msg, sig, identity.ErrInvalidDID},
		{"empty did", "", msg, sig, identity.ErrInvalidDID},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := identity.Verify(tt.did, tt.msg, tt.sig)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Verify error = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

func TestNewCopiesAndRederivesKey(t *testing.T) {
	seed := mustHex(t, rfcSeed)
	priv := ed25519.NewKeyFromSeed(seed)
	id := identity.New(priv)
	want := id.DID()

	for i := range priv { // the caller's slice is not the identity's
		priv[i] = 0
	}
	if id.DID() != want || identity.Verify(want, []byte("m"), id.Sign([]byte("m"))) != nil {
		t.Fatal("identity changed when the caller overwrote its key slice")
	}

	pub := id.PublicKey()
	pub[0] ^= 0xff // nor is the returned public key
	if !bytes.Equal(id.PublicKey(), mustHex(t, rfcPub)) {
		t.Fatal("identity changed when the caller overwrote PublicKey()")
	}

	// A private key whose public half does not match its seed.
	bad := ed25519.NewKeyFromSeed(seed)
	copy(bad[32:], keyringtest.NewNode(t).PublicKey())
	id2 := identity.New(bad)
	if id2.DID() != want {
		t.Errorf("New used the stored public half: DID %s, want %s", id2.DID(), want)
	}
	if err := identity.Verify(id2.DID(), []byte("m"), id2.Sign([]byte("m"))); err != nil {
		t.Errorf("signature of a key with a wrong public half: %v", err)
	}
}

func TestNewPanicsOnBadLength(t *testing.T) {
	for _, n := range []int{0, 32, 63, 65} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("New accepted a %d-byte key", n)
				}
			}()
			identity.New(make([]byte, n))
		}()
	}
}

func TestGenerate(t *testing.T) {
	seed := bytes.Repeat([]byte{7}, ed25519.SeedSize)
	a, err := identity.Generate(bytes.NewReader(seed))
	if err != nil {
		t.Fatal(err)
	}
	if want := identity.New(ed25519.NewKeyFromSeed(seed)).DID(); a.DID() != want {
		t.Errorf("Generate from a fixed source: %s, want %s", a.DID(), want)
	}
	b, c := keyringtest.NewNode(t), keyringtest.NewNode(t)
	if b.DID() == c.DID() {
		t.Error("two identities from crypto/rand have the same DID")
	}
	if _, err := identity.Generate(bytes.NewReader(seed[:10])); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("Generate from a short source: %v, want io.ErrUnexpectedEOF", err)
	}
}

func TestPeerID(t *testing.T) {
	id := rfcIdentity(t)
	pid, err := id.PeerID()
	if err != nil {
		t.Fatal(err)
	}

	// Same as libp2p's own derivation from the key we hand the host.
	sk, err := id.Libp2pKey()
	if err != nil {
		t.Fatal(err)
	}
	fromKey, err := peer.IDFromPrivateKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	if pid != fromKey {
		t.Errorf("PeerID() = %s, peer.IDFromPrivateKey(Libp2pKey()) = %s", pid, fromKey)
	}
	if !pid.MatchesPrivateKey(sk) {
		t.Error("peer ID does not match the libp2p key")
	}

	// Independently, by the libp2p peer-id spec: an Ed25519 key's ID is the
	// identity multihash (0x00, length 0x24) of the protobuf PublicKey
	// {Type: Ed25519 (field 1 = 1), Data (field 2, 32 bytes)}.
	raw := append([]byte{0x00, 0x24, 0x08, 0x01, 0x12, 0x20}, mustHex(t, rfcPub)...)
	if want := base58.Encode(raw); pid.String() != want {
		t.Errorf("PeerID() = %s, want %s", pid, want)
	}
	if !strings.HasPrefix(pid.String(), "12D3KooW") {
		t.Errorf("peer ID %s does not look like an Ed25519 peer ID", pid)
	}

	// Stable: the same key gives the same ID, a different key another.
	again, err := identity.New(ed25519.NewKeyFromSeed(mustHex(t, rfcSeed))).PeerID()
	if err != nil || again != pid {
		t.Errorf("PeerID of the same key again = %s, %v; want %s", again, err, pid)
	}
	otherID, err := keyringtest.NewNode(t).PeerID()
	if err != nil || otherID == pid {
		t.Errorf("PeerID of another key = %s, %v", otherID, err)
	}

	// The libp2p key is the same key: its signatures verify against the DID.
	msg := []byte("libp2p and did agree")
	sig, err := sk.Sign(msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := identity.Verify(id.DID(), msg, sig); err != nil {
		t.Errorf("libp2p key's signature against the DID: %v", err)
	}
}

func TestDIDPeerIDMapping(t *testing.T) {
	id := keyringtest.NewNode(t)
	pid, err := id.PeerID()
	if err != nil {
		t.Fatal(err)
	}
	got, err := identity.PeerIDFromDID(id.DID())
	if err != nil || got != pid {
		t.Errorf("PeerIDFromDID = %s, %v; want %s", got, err, pid)
	}
	d, err := identity.DIDFromPeerID(pid)
	if err != nil || d != id.DID() {
		t.Errorf("DIDFromPeerID = %s, %v; want %s", d, err, id.DID())
	}

	if _, err := identity.PeerIDFromDID("did:key:nope"); !errors.Is(err, identity.ErrInvalidDID) {
		t.Errorf("PeerIDFromDID(bad) error = %v, want ErrInvalidDID", err)
	}

	_, secpPub, err := crypto.GenerateSecp256k1Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	secpID, err := peer.IDFromPublicKey(secpPub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := identity.DIDFromPeerID(secpID); !errors.Is(err, identity.ErrUnsupportedKey) {
		t.Errorf("DIDFromPeerID(secp256k1) error = %v, want ErrUnsupportedKey", err)
	}
	if _, err := identity.DIDFromPeerID(peer.ID("garbage")); err == nil {
		t.Error("DIDFromPeerID accepted a garbage peer ID")
	}
}

func TestIdentityNeverPrintsKey(t *testing.T) {
	id := rfcIdentity(t)
	priv := ed25519.NewKeyFromSeed(mustHex(t, rfcSeed))
	secrets := []string{
		rfcSeed,
		hex.EncodeToString(priv),
		strings.ToUpper(rfcSeed),
		base64.StdEncoding.EncodeToString(priv.Seed()),
		"157 97 177 157", // the seed's first bytes in decimal, as %d or %v of a []byte print them
	}
	check := func(what, out string) {
		t.Helper()
		for _, s := range secrets {
			if strings.Contains(out, s) {
				t.Errorf("%s leaks the key: %q", what, out)
			}
		}
		if !strings.Contains(out, string(id.DID())) {
			t.Errorf("%s does not show the DID: %q", what, out)
		}
	}

	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("started", "identity", id)
	log.Info("started", slog.Any("identity", id))
	check("slog JSON", buf.String())
	if !strings.Contains(buf.String(), `"identity":"`+string(id.DID())+`"`) {
		t.Errorf("slog does not log the identity as its DID: %s", buf.String())
	}

	buf.Reset()
	slog.New(slog.NewTextHandler(&buf, nil)).Info("started", "identity", id)
	check("slog text", buf.String())

	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
		out := fmt.Sprintf(verb, id)
		if verb == "%T %v" {
			out = fmt.Sprintf(verb, id, id)
		}
		check("fmt "+verb, out)
	}
	check("fmt of a struct holding it", fmt.Sprintf("%+v", struct{ ID *identity.Identity }{id}))
	if got := fmt.Sprint(id); got != string(id.DID()) {
		t.Errorf("fmt.Sprint(id) = %q, want the DID", got)
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
