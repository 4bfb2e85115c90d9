package identity

import (
	"crypto/ed25519"
	"fmt"
	"io"
	"log/slog"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// Identity is the node's Ed25519 key pair. It signs with the private key and
// names itself by its [DID]; it never prints, logs or exports the private key
// except to build the libp2p key ([Identity.Libp2pKey]).
//
// An Identity is immutable and safe for concurrent use.
type Identity struct {
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
	did  DID
}

// New returns the identity of priv. The key is copied, and its public half is
// re-derived from its seed, so a private key with an inconsistent public half
// cannot make signatures that do not verify against the DID.
//
// It panics if len(priv) is not ed25519.PrivateKeySize, like crypto/ed25519
// does for keys of the wrong size.
func New(priv ed25519.PrivateKey) *Identity {
	if len(priv) != ed25519.PrivateKeySize {
		panic(fmt.Sprintf("identity: bad ed25519 private key length %d", len(priv)))
	}
	k := ed25519.NewKeyFromSeed(priv.Seed())
	pub := k.Public().(ed25519.PublicKey)
	return &Identity{priv: k, pub: pub, did: DIDFromPublicKey(pub)}
}

// Generate returns a new identity with a key made from rand, which should be
// crypto/rand.Reader outside of tests.
func Generate(rand io.Reader) (*Identity, error) {
	_, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return nil, fmt.Errorf("identity: generate key: %w", err)
	}
	return New(priv), nil
}

// DID returns the did:key of the identity's public key.
func (id *Identity) DID() DID { return id.did }

// PublicKey returns a copy of the identity's public key.
func (id *Identity) PublicKey() ed25519.PublicKey {
	return append(ed25519.PublicKey(nil), id.pub...)
}

// Sign returns the Ed25519 signature of msg. [Verify] with the identity's
// DID checks it.
func (id *Identity) Sign(msg []byte) []byte {
	return ed25519.Sign(id.priv, msg)
}

// Libp2pKey returns the identity's key as a libp2p private key, for the
// libp2p host (libp2p.Identity). The host's peer ID is then [Identity.PeerID].
func (id *Identity) Libp2pKey() (crypto.PrivKey, error) {
	// UnmarshalEd25519PrivateKey keeps the slice it is given: hand it a copy.
	k, err := crypto.UnmarshalEd25519PrivateKey(append([]byte(nil), id.priv...))
	if err != nil {
		return nil, fmt.Errorf("identity: libp2p key: %w", err)
	}
	return k, nil
}

// PeerID returns the libp2p peer ID of the identity's key. It is a function
// of the key alone, so it is stable across restarts for a node whose key is
// kept (see the keystore package).
func (id *Identity) PeerID() (peer.ID, error) {
	return peerIDOf(id.pub)
}

// LogValue implements slog.LogValuer: an identity logs as its DID only.
func (id *Identity) LogValue() slog.Value {
	return slog.StringValue(string(id.did))
}

// String returns the identity's DID.
func (id *Identity) String() string { return string(id.did) }

// Format implements fmt.Formatter so that every verb (%v, %+v, %#v, %x, %d,
// ...) prints the DID and never the key bytes.
func (id *Identity) Format(f fmt.State, verb rune) {
	if id == nil {
		_, _ = io.WriteString(f, "<nil>")
		return
	}
	if verb == 'q' {
		_, _ = fmt.Fprintf(f, "%q", string(id.did))
		return
	}
	_, _ = io.WriteString(f, string(id.did))
}

// PeerIDFromDID returns the libp2p peer ID of the key d names. A node's
// [Identity.PeerID] equals PeerIDFromDID of its [Identity.DID].
func PeerIDFromDID(d DID) (peer.ID, error) {
	pub, err := d.PublicKey()
	if err != nil {
		return "", err
	}
	return peerIDOf(pub)
}

// peerIDOf is the one place a peer ID is derived from an Ed25519 public key.
func peerIDOf(pub ed25519.PublicKey) (peer.ID, error) {
	// UnmarshalEd25519PublicKey keeps the slice it is given: hand it a copy.
	lpub, err := crypto.UnmarshalEd25519PublicKey(append([]byte(nil), pub...))
	if err != nil {
		return "", fmt.Errorf("identity: libp2p public key: %w", err)
	}
	pid, err := peer.IDFromPublicKey(lpub)
	if err != nil {
		return "", fmt.Errorf("identity: peer id: %w", err)
	}
	return pid, nil
}

// DIDFromPeerID returns the DID of the Ed25519 key embedded in a libp2p peer
// ID, so a connection's remote peer can be matched against the DID that
// signed a message. It fails with an error wrapping [ErrUnsupportedKey] for a
// peer ID of another key type.
func DIDFromPeerID(id peer.ID) (DID, error) {
	pub, err := id.ExtractPublicKey()
	if err != nil {
		return "", fmt.Errorf("identity: peer id %s: %w", id, err)
	}
	if pub.Type() != crypto.Ed25519 {
		return "", fmt.Errorf("%w: peer id %s has a %s key", ErrUnsupportedKey, id, pub.Type())
	}
	raw, err := pub.Raw()
	if err != nil {
		return "", fmt.Errorf("identity: peer id %s: %w", id, err)
	}
	if len(raw) != ed25519.PublicKeySize {
		return "", fmt.Errorf("%w: peer id %s: ed25519 key of %d bytes", ErrUnsupportedKey, id, len(raw))
	}
	return DIDFromPublicKey(raw), nil
}
