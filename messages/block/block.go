package block

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// The codecs of the two block kinds.
const (
	Raw     = cid.Raw     // 0x55
	DagCBOR = cid.DagCBOR // 0x71
)

// MaxSize is the largest block any decoder here accepts; nodes configure a
// smaller limit for what they store (4 MiB by default).
const MaxSize = 16 << 20

var (
	// ErrInvalidCID: the text or bytes are not a CID.
	ErrInvalidCID = errors.New("block: invalid CID")
	// ErrUnsupported: a CID with a codec or hash this node does not store
	// (only raw and dag-cbor, only sha2-256).
	ErrUnsupported = errors.New("block: unsupported CID")
	// ErrHashMismatch: the data does not hash to the CID: the block is corrupt.
	ErrHashMismatch = errors.New("block: data does not match its CID")
	// ErrTooLarge: a block over MaxSize.
	ErrTooLarge = errors.New("block: too large")
	// ErrInvalidNode: bytes that are not valid dag-cbor, or a value that
	// cannot be encoded as dag-cbor.
	ErrInvalidNode = errors.New("block: invalid dag-cbor node")
)

// Block is a block whose CID is known to be the hash of its data.
type Block struct {
	cid  cid.Cid
	data []byte
}

// CID returns the block's CID.
func (b Block) CID() cid.Cid { return b.cid }

// Data returns the block's bytes; the caller must not modify them.
func (b Block) Data() []byte { return b.data }

// Codec returns the block's codec (Raw or DagCBOR).
func (b Block) Codec() uint64 { return b.cid.Prefix().Codec }

// Size returns the length of the block's data.
func (b Block) Size() int { return len(b.data) }

// Defined reports whether b is a block (the zero Block is not).
func (b Block) Defined() bool { return b.cid.Defined() }

// Sum returns the CID of data under codec.
func Sum(codec uint64, data []byte) cid.Cid {
	h := sha256.Sum256(data)
	digest, _ := mh.Encode(h[:], mh.SHA2_256) // cannot fail for a 32-byte sha2-256 digest
	return cid.NewCidV1(codec, digest)
}

// NewRaw makes a raw block of data (which it keeps: do not modify it).
func NewRaw(data []byte) (Block, error) {
	if len(data) > MaxSize {
		return Block{}, fmt.Errorf("%w: %d bytes (max %d)", ErrTooLarge, len(data), MaxSize)
	}
	return Block{cid: Sum(Raw, data), data: data}, nil
}

// Verified returns the block (c, data) after checking that c is a CID this
// node stores and that data hashes to it.
func Verified(c cid.Cid, data []byte) (Block, error) {
	if err := Supported(c); err != nil {
		return Block{}, err
	}
	if len(data) > MaxSize {
		return Block{}, fmt.Errorf("%w: %d bytes (max %d)", ErrTooLarge, len(data), MaxSize)
	}
	if !Sum(c.Prefix().Codec, data).Equals(c) {
		return Block{}, fmt.Errorf("%w: %s", ErrHashMismatch, c)
	}
	return Block{cid: c, data: data}, nil
}

// Supported checks that c is a CIDv1 of a raw or dag-cbor block with a
// sha2-256 multihash.
func Supported(c cid.Cid) error {
	if !c.Defined() {
		return fmt.Errorf("%w: empty CID", ErrInvalidCID)
	}
	p := c.Prefix()
	switch {
	case p.Version != 1:
		return fmt.Errorf("%w: %s is CIDv%d (want CIDv1)", ErrUnsupported, c, p.Version)
	case p.Codec != Raw && p.Codec != DagCBOR:
		return fmt.Errorf("%w: %s has codec 0x%x (want raw 0x55 or dag-cbor 0x71)", ErrUnsupported, c, p.Codec)
	case p.MhType != mh.SHA2_256 || p.MhLength != sha256.Size:
		return fmt.Errorf("%w: %s is not hashed with sha2-256", ErrUnsupported, c)
	}
	return nil
}

// Parse reads a CID in any multibase; it does not check Supported.
func Parse(s string) (cid.Cid, error) {
	if s == "" || len(s) > 256 {
		return cid.Undef, fmt.Errorf("%w: %q", ErrInvalidCID, truncate(s))
	}
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: %q: %v", ErrInvalidCID, truncate(s), err)
	}
	return c, nil
}

// Cast reads a CID from its binary form.
func Cast(b []byte) (cid.Cid, error) {
	c, err := cid.Cast(b)
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: %v", ErrInvalidCID, err)
	}
	return c, nil
}

// CodecName names a codec for people ("raw", "dag-cbor").
func CodecName(codec uint64) string {
	switch codec {
	case Raw:
		return "raw"
	case DagCBOR:
		return "dag-cbor"
	}
	return fmt.Sprintf("0x%x", codec)
}

// Equal reports whether two blocks are the same block.
func Equal(a, b Block) bool { return a.cid.Equals(b.cid) && bytes.Equal(a.data, b.data) }

func truncate(s string) string {
	if len(s) > 80 {
		return s[:80] + "..."
	}
	return s
}
