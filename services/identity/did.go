package identity

import (
	"crypto/ed25519"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/mr-tron/base58"
)

// Errors returned by this package. Callers branch on them with errors.Is; the
// returned errors wrap them with detail.
var (
	// ErrInvalidDID reports a string that is not an Ed25519 did:key
	// identifier.
	ErrInvalidDID = errors.New("identity: invalid did")
	// ErrBadSignature reports a signature that does not verify.
	ErrBadSignature = errors.New("identity: bad signature")
	// ErrUnsupportedKey reports a libp2p peer ID whose key is not Ed25519, so
	// it has no did:key of ours.
	ErrUnsupportedKey = errors.New("identity: unsupported key type")
)

const (
	// didPrefix is the scheme and method of every DID this package makes.
	didPrefix = "did:key:"
	// multibaseBase58BTC is the multibase prefix of base58btc.
	multibaseBase58BTC = 'z'
	// codecEd25519Pub is the multicodec code of an Ed25519 public key;
	// as an unsigned varint it is the two bytes 0xed 0x01.
	codecEd25519Pub = 0xed
	// maxDIDLen bounds the input ParseDID decodes. An Ed25519 did:key is 56
	// characters; anything much longer is rejected before base58 decoding,
	// whose cost grows with the square of the length.
	maxDIDLen = 128
)

// DID is a did:key identifier for an Ed25519 public key, such as
// "did:key:z6MkiTBz1ymuepAQ4HEHYSF1H8quG5GLVVQR3djdX3mDooWp".
//
// A DID made by [DIDFromPublicKey] or returned by [ParseDID] is valid; a DID
// converted from an arbitrary string is not checked until it is used
// ([DID.PublicKey], [Verify]).
type DID string

// String returns the DID as a string.
func (d DID) String() string { return string(d) }

// DIDFromPublicKey returns the did:key of an Ed25519 public key:
// "did:key:z" + base58btc(0xed 0x01 || pub).
//
// It panics if len(pub) is not ed25519.PublicKeySize, like crypto/ed25519
// does for keys of the wrong size.
func DIDFromPublicKey(pub ed25519.PublicKey) DID {
	if len(pub) != ed25519.PublicKeySize {
		panic(fmt.Sprintf("identity: bad ed25519 public key length %d", len(pub)))
	}
	var b [2 + ed25519.PublicKeySize]byte
	b[0], b[1] = codecEd25519Pub, 0x01
	copy(b[2:], pub)
	return DID(didPrefix + string(multibaseBase58BTC) + base58.Encode(b[:]))
}

// ParseDID checks that s is an Ed25519 did:key identifier and returns it with
// its public key. It accepts exactly the strings [DIDFromPublicKey] produces:
// the prefix "did:key:", the multibase prefix 'z' (base58btc), the multicodec
// varint 0xed 0x01 and a 32-byte key, with nothing before or after (no DID URL
// path, query or fragment). Any other input gives an error wrapping
// [ErrInvalidDID] that says what is wrong.
func ParseDID(s string) (DID, ed25519.PublicKey, error) {
	if len(s) > maxDIDLen {
		return "", nil, invalid(s, fmt.Sprintf("longer than %d bytes", maxDIDLen))
	}
	rest, ok := strings.CutPrefix(s, didPrefix)
	if !ok {
		return "", nil, invalid(s, "missing prefix "+didPrefix)
	}
	if rest == "" {
		return "", nil, invalid(s, "empty method-specific identifier")
	}
	if rest[0] != multibaseBase58BTC {
		return "", nil, invalid(s, fmt.Sprintf("multibase prefix %q, want %q (base58btc)", rest[0], multibaseBase58BTC))
	}
	raw, err := base58.Decode(rest[1:])
	if err != nil {
		return "", nil, invalid(s, "base58btc: "+err.Error())
	}
	code, n := binary.Uvarint(raw)
	if n <= 0 {
		return "", nil, invalid(s, "bad multicodec varint")
	}
	if code != codecEd25519Pub {
		return "", nil, invalid(s, fmt.Sprintf("multicodec 0x%x (%s), want 0xed (ed25519-pub)", code, codecName(code)))
	}
	if n != 2 {
		return "", nil, invalid(s, "non-minimal multicodec varint")
	}
	key := raw[n:]
	if len(key) != ed25519.PublicKeySize {
		return "", nil, invalid(s, fmt.Sprintf("public key is %d bytes, want %d", len(key), ed25519.PublicKeySize))
	}
	pub := ed25519.PublicKey(key)
	// base58 is canonical for a given byte string, so this cannot fail for
	// a correct decoder; it makes "accepted implies re-encodes the same"
	// hold by construction.
	if d := DIDFromPublicKey(pub); string(d) != s {
		return "", nil, invalid(s, "non-canonical encoding")
	}
	return DID(s), pub, nil
}

// PublicKey returns the Ed25519 public key d names. It fails with an error
// wrapping [ErrInvalidDID] if d is not a valid did:key (see [ParseDID]).
func (d DID) PublicKey() (ed25519.PublicKey, error) {
	_, pub, err := ParseDID(string(d))
	return pub, err
}

// Verify checks that sig is a valid Ed25519 signature of msg by the key did
// names. It returns nil if it is, an error wrapping [ErrInvalidDID] if did is
// malformed, and an error wrapping [ErrBadSignature] otherwise.
func Verify(did DID, msg, sig []byte) error {
	pub, err := did.PublicKey()
	if err != nil {
		return err
	}
	if len(sig) != ed25519.SignatureSize {
		return fmt.Errorf("%w: signature is %d bytes, want %d", ErrBadSignature, len(sig), ed25519.SignatureSize)
	}
	if !ed25519.Verify(pub, msg, sig) {
		return fmt.Errorf("%w: by %s", ErrBadSignature, did)
	}
	return nil
}

// invalid wraps ErrInvalidDID with the (shortened) input and what is wrong.
func invalid(s, why string) error {
	const show = 64
	if len(s) > show {
		s = s[:show] + "..."
	}
	return fmt.Errorf("%w %q: %s", ErrInvalidDID, s, why)
}

// codecName names the multicodec key codes a did:key commonly carries, to
// make errors about a DID of another key type readable.
func codecName(code uint64) string {
	switch code {
	case 0xe7:
		return "secp256k1-pub"
	case 0xec:
		return "x25519-pub"
	case 0x1200:
		return "p256-pub"
	case 0x1201:
		return "p384-pub"
	case 0x1205:
		return "rsa-pub"
	case 0xeb:
		return "bls12_381-g2-pub"
	default:
		return "unsupported"
	}
}
