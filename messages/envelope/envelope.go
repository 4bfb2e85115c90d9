package envelope

import (
	"bytes"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

// Version is the only envelope version this package makes and accepts.
const Version uint8 = 1

// Limits on the fields other than the body. They bound Overhead, and with it
// the size checked before decoding.
const (
	// NonceSize is the length of a nonce: 128 random bits, so two honest
	// envelopes never share one.
	NonceSize = 16
	// MaxType is the longest type name.
	MaxType = 64
	// MaxDID is the longest sender or recipient DID; an Ed25519 did:key is
	// 56 bytes, and services/identity refuses anything over 128.
	MaxDID = 128
	// MaxSig is the longest signature (Ed25519's are 64 bytes).
	MaxSig = 128
)

// Size bounds.
const (
	// DefaultMaxBody is the largest body a Verifier accepts unless told
	// otherwise (WithMaxBody).
	DefaultMaxBody = 1 << 20
	// Overhead is the most the fields other than the body add to an
	// encoded envelope: the map header, eight keys, a body header of at
	// most 5 bytes, and every other field at its limit. A test checks it.
	Overhead = 512
	// MaxEnvelope is the largest envelope a Verifier with the default body
	// limit reads: anything longer is refused before decoding.
	MaxEnvelope = DefaultMaxBody + Overhead
)

// domain prefixes the bytes an envelope's signature covers, so that a
// signature over an envelope is never also a valid signature over a ledger
// entry or any other signed ICN data, and a version 2 can change the shape
// without old signatures meaning anything under it.
const domain = "icn/envelope/v1\n"

// Envelope is a message between nodes, as signed by its sender.
type Envelope struct {
	Version uint8
	Type    string          // what the body is; the Verifier knows which types exist
	From    string          // the sender's DID
	To      string          // the recipient's DID, or "" for a broadcast (gossip)
	Time    int64           // when it was sealed, unix milliseconds
	Nonce   [NonceSize]byte // random, so each envelope is unique
	Body    []byte          // the message, opaque here
	Sig     []byte          // From's signature over everything else
}

// wire is the encoded form. The field order is the canonical key order
// (length-first, then bytewise), which the encoder enforces anyway; the
// nonce is a slice so a nonce of the wrong length decodes and is refused
// with a clear error rather than silently padded or cut.
type wire struct {
	Body    []byte `cbor:"b"`
	From    string `cbor:"f"`
	Nonce   []byte `cbor:"n"`
	Sig     []byte `cbor:"s,omitempty"`
	Type    string `cbor:"t"`
	Version uint8  `cbor:"v"`
	To      string `cbor:"to,omitempty"`
	Time    int64  `cbor:"ts"`
}

// codec holds the CBOR modes; built once, immutable and safe for
// concurrent use (like a compiled regexp). The options are messages/block's
// dag-cbor options, with tags forbidden: an envelope holds no links.
type codec struct {
	enc cbor.UserBufferEncMode
	dec cbor.DecMode
}

var cborCodec = mustCodec()

func mustCodec() codec {
	enc, err := cbor.EncOptions{
		Sort:          cbor.SortLengthFirst,       // keys by length, then bytes
		ShortestFloat: cbor.ShortestFloatNone,     // (no floats in an envelope)
		IndefLength:   cbor.IndefLengthForbidden,  // definite lengths only
		TagsMd:        cbor.TagsForbidden,         // no tags: nothing here needs one
		NilContainers: cbor.NilContainerAsEmpty,   // a nil body is h'', the same as an empty one
		BigIntConvert: cbor.BigIntConvertShortest, // (required with TagsForbidden; no big ints here)
	}.UserBufferEncMode()
	if err != nil {
		panic(err)
	}
	dec, err := cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		MaxNestedLevels:   4,  // the library's minimum: an envelope is one flat map
		MaxArrayElements:  16, // the library's minimum: an envelope has no arrays
		MaxMapPairs:       16, // the library's minimum: an envelope has 8 keys
		UTF8:              cbor.UTF8RejectInvalid,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		// "B" must not land in Body: keys match exactly or not at all.
		FieldNameMatching: cbor.FieldNameMatchingCaseSensitive,
	}.DecMode()
	if err != nil {
		panic(err)
	}
	return codec{enc: enc, dec: dec}
}

func (e Envelope) wire() wire {
	return wire{
		Body: e.Body, From: e.From, Nonce: e.Nonce[:], Sig: e.Sig,
		Type: e.Type, Version: e.Version, To: e.To, Time: e.Time,
	}
}

// Marshal returns the envelope's canonical encoding. For an envelope that
// [Verifier.Open] accepted it is exactly the bytes that were opened.
func (e Envelope) Marshal() ([]byte, error) {
	b, err := cborCodec.enc.Marshal(e.wire())
	if err != nil {
		return nil, fmt.Errorf("envelope: encode: %w", err)
	}
	return b, nil
}

// signingBytes are what the sender signs: the domain, then the envelope
// encoded without its signature (written after the domain, not copied
// behind it: bodies can be large).
func (e Envelope) signingBytes() ([]byte, error) {
	e.Sig = nil
	var buf bytes.Buffer
	buf.Grow(len(domain) + len(e.Body) + Overhead)
	buf.WriteString(domain)
	if err := cborCodec.enc.MarshalToBuffer(e.wire(), &buf); err != nil {
		return nil, fmt.Errorf("envelope: encode: %w", err)
	}
	return buf.Bytes(), nil
}

// Signer signs envelopes as one DID. Adapters over services/identity are one
// line each:
//
//	envelope.Signer{DID: string(id.DID()), Sign: func(m []byte) ([]byte, error) { return id.Sign(m), nil }}
//	envelope.Signer{DID: string(did), Sign: func(m []byte) ([]byte, error) { return keyring.Sign(did, m) }}
type Signer struct {
	DID  string
	Sign func(msg []byte) ([]byte, error)
}

// Seal makes the envelope of body, of type typ, from s to the DID to ("" for
// a broadcast), stamped with now and a nonce read from rand (crypto/rand.Reader
// outside of tests), and returns its encoding.
//
// Seal does not know the receiver's body limit; a body over DefaultMaxBody
// is refused by a Verifier with the default limit.
func Seal(s Signer, typ, to string, body []byte, now time.Time, rand io.Reader) ([]byte, error) {
	if s.Sign == nil {
		return nil, fmt.Errorf("envelope: seal: signer for %q has no Sign function", s.DID)
	}
	if err := checkText("type", typ, MaxType, false); err != nil {
		return nil, fmt.Errorf("envelope: seal: %w", err)
	}
	if err := checkText("sender", s.DID, MaxDID, false); err != nil {
		return nil, fmt.Errorf("envelope: seal: %w", err)
	}
	if err := checkText("recipient", to, MaxDID, true); err != nil {
		return nil, fmt.Errorf("envelope: seal: %w", err)
	}
	e := Envelope{Version: Version, Type: typ, From: s.DID, To: to, Time: now.UnixMilli(), Body: body}
	if _, err := io.ReadFull(rand, e.Nonce[:]); err != nil {
		return nil, fmt.Errorf("envelope: seal: nonce: %w", err)
	}
	msg, err := e.signingBytes()
	if err != nil {
		return nil, fmt.Errorf("envelope: seal: %w", err)
	}
	sig, err := s.Sign(msg)
	if err != nil {
		return nil, fmt.Errorf("envelope: seal: sign as %s: %w", s.DID, err)
	}
	if len(sig) == 0 || len(sig) > MaxSig {
		return nil, fmt.Errorf("envelope: seal: signature of %d bytes (want 1 to %d)", len(sig), MaxSig)
	}
	e.Sig = sig
	return e.Marshal()
}

// checkText checks a text field against its bound and UTF-8 (the decoder
// refuses invalid UTF-8, so Seal must not produce it).
func checkText(what, s string, max int, optional bool) error {
	switch {
	case s == "" && !optional:
		return fmt.Errorf("empty %s", what)
	case len(s) > max:
		return fmt.Errorf("%s of %d bytes (max %d)", what, len(s), max)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s is not valid UTF-8", what)
	}
	return nil
}

// decode reads an envelope from untrusted bytes and accepts only the
// canonical encoding of a well-formed one. It never panics; every error is
// a *RejectError (malformed or unknown_version).
func decode(data []byte) (Envelope, error) {
	var w wire
	err := cborCodec.dec.Unmarshal(data, &w)
	if err != nil || w.Version != Version {
		// A later version may add or change fields, which this version
		// cannot decode: if the map says which version it is, say that.
		// (A map without "v" decodes as version 0 but is malformed.)
		if v, ok := peekVersion(data); ok && v != uint64(Version) {
			return Envelope{}, reject(ReasonUnknownVersion, fmt.Sprintf("version %d (this node speaks %d)", v, Version), err)
		}
		return Envelope{}, reject(ReasonMalformed, "not an envelope", err)
	}
	if len(w.Nonce) != NonceSize {
		return Envelope{}, reject(ReasonMalformed, fmt.Sprintf("nonce of %d bytes (want %d)", len(w.Nonce), NonceSize), nil)
	}
	if len(w.Sig) == 0 || len(w.Sig) > MaxSig {
		return Envelope{}, reject(ReasonMalformed, fmt.Sprintf("signature of %d bytes (want 1 to %d)", len(w.Sig), MaxSig), nil)
	}
	if err := checkText("type", w.Type, MaxType, false); err != nil {
		return Envelope{}, reject(ReasonMalformed, err.Error(), nil)
	}
	if err := checkText("sender", w.From, MaxDID, false); err != nil {
		return Envelope{}, reject(ReasonMalformed, err.Error(), nil)
	}
	if err := checkText("recipient", w.To, MaxDID, true); err != nil {
		return Envelope{}, reject(ReasonMalformed, err.Error(), nil)
	}
	e := Envelope{
		Version: w.Version, Type: w.Type, From: w.From, To: w.To, Time: w.Time,
		Body: w.Body, Sig: w.Sig,
	}
	copy(e.Nonce[:], w.Nonce)
	// The decoder has refused duplicate keys, unknown keys, indefinite
	// lengths and trailing bytes; encoding again catches the rest (key
	// order, non-shortest integers, an empty "to" written out), so that
	// one envelope has one encoding and its signature covers these bytes.
	again, err := e.Marshal()
	if err != nil {
		return Envelope{}, reject(ReasonMalformed, "cannot re-encode", err)
	}
	if !bytes.Equal(again, data) {
		return Envelope{}, reject(ReasonMalformed, "not the canonical encoding", nil)
	}
	return e, nil
}

// peekVersion reads "v" from a CBOR map without caring about the rest of
// its shape. It runs only after the strict decoding failed.
func peekVersion(data []byte) (uint64, bool) {
	var m map[string]cbor.RawMessage
	if err := cborCodec.dec.Unmarshal(data, &m); err != nil {
		return 0, false
	}
	raw, ok := m["v"]
	if !ok {
		return 0, false
	}
	var v uint64 // wide, so that version 300 is reported as a version
	if err := cborCodec.dec.Unmarshal(raw, &v); err != nil {
		return 0, false
	}
	return v, true
}
