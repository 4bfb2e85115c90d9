package block

import (
	"fmt"
	"reflect"

	"github.com/fxamacker/cbor/v2"
	"github.com/ipfs/go-cid"
)

// Link is a link from a dag-cbor node to another block: CBOR tag 42 over
// the CID's bytes with a 0x00 prefix (the IPLD spec's identity multibase).
type Link struct{ Cid cid.Cid }

// LinkTo is Link{c}.
func LinkTo(c cid.Cid) Link { return Link{Cid: c} }

// MarshalBinary is the content of the tag: 0x00 then the CID's bytes.
func (l Link) MarshalBinary() ([]byte, error) {
	if !l.Cid.Defined() {
		return nil, fmt.Errorf("%w: undefined link", ErrInvalidNode)
	}
	return append([]byte{0}, l.Cid.Bytes()...), nil
}

// UnmarshalBinary reads the content of a tag 42.
func (l *Link) UnmarshalBinary(b []byte) error {
	if len(b) < 2 || b[0] != 0 {
		return fmt.Errorf("%w: a link must be 0x00 followed by a CID", ErrInvalidNode)
	}
	c, err := cid.Cast(b[1:])
	if err != nil {
		return fmt.Errorf("%w: link: %v", ErrInvalidNode, err)
	}
	l.Cid = c
	return nil
}

// codec holds the CBOR modes; built once, immutable and safe for
// concurrent use (like a compiled regexp).
type codec struct {
	enc cbor.EncMode
	dec cbor.DecMode
}

var dagCBOR = mustCodec()

func mustCodec() codec {
	tags := cbor.NewTagSet()
	if err := tags.Add(cbor.TagOptions{EncTag: cbor.EncTagRequired, DecTag: cbor.DecTagRequired}, reflect.TypeFor[Link](), 42); err != nil {
		panic(err)
	}
	enc, err := cbor.EncOptions{
		Sort:          cbor.SortLengthFirst,       // DAG-CBOR: keys by length, then bytes
		ShortestFloat: cbor.ShortestFloatNone,     // floats are always 64-bit
		IndefLength:   cbor.IndefLengthForbidden,  // definite lengths only
		TagsMd:        cbor.TagsAllowed,           // tag 42 for links
		Time:          cbor.TimeUnix,              // (use int64 fields; time.Time is not IPLD data)
		NilContainers: cbor.NilContainerAsEmpty,   // nil slice/map is [] / {}, never null by accident
		BigIntConvert: cbor.BigIntConvertShortest, // (no big ints in IPLD either)
	}.EncModeWithTags(tags)
	if err != nil {
		panic(err)
	}
	dec, err := cbor.DecOptions{
		DupMapKey:        cbor.DupMapKeyEnforcedAPF,
		IndefLength:      cbor.IndefLengthForbidden,
		TagsMd:           cbor.TagsAllowed,
		MaxNestedLevels:  64,
		MaxArrayElements: MaxSize, // what a block can hold: scan and MaxJSONValues bound the cost
		MaxMapPairs:      MaxSize / 2,
		DefaultMapType:   reflect.TypeFor[map[string]any](),
		UTF8:             cbor.UTF8RejectInvalid,
	}.DecModeWithTags(tags)
	if err != nil {
		panic(err)
	}
	return codec{enc: enc, dec: dec}
}

// Encode encodes v as a dag-cbor block. v is any Go value of the IPLD data
// model: maps with string keys, structs (field names or `cbor:"name"`
// tags), slices, strings, bytes, integers, finite floats, booleans, nil and
// Link.
func Encode(v any) (Block, error) {
	data, err := dagCBOR.enc.Marshal(v)
	if err != nil {
		return Block{}, fmt.Errorf("%w: %v", ErrInvalidNode, err)
	}
	if len(data) > MaxSize {
		return Block{}, fmt.Errorf("%w: node of %d bytes (max %d)", ErrTooLarge, len(data), MaxSize)
	}
	// Reject what DAG-CBOR forbids and the CBOR encoder allows.
	if err := checkDataModel(data); err != nil {
		return Block{}, err
	}
	return Block{cid: Sum(DagCBOR, data), data: data}, nil
}

// Decode decodes a dag-cbor block into v.
func Decode(b Block, v any) error {
	if b.Codec() != DagCBOR {
		return fmt.Errorf("%w: %s is a %s block", ErrInvalidNode, b.cid, CodecName(b.Codec()))
	}
	if err := dagCBOR.dec.Unmarshal(b.data, v); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidNode, err)
	}
	return nil
}

// decodeAny decodes dag-cbor bytes into the generic data model: map[string]any,
// []any, string, []byte, uint64, int64, float64, bool, nil and Link.
func decodeAny(data []byte) (any, error) {
	var v any
	if err := dagCBOR.dec.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidNode, err)
	}
	return v, nil
}

// checkDataModel checks that encoded bytes hold only what the IPLD data
// model has a place for (see scan).
func checkDataModel(data []byte) error {
	_, err := scan(data, nil)
	return err
}

// Links returns the CIDs a block links to, in the order they are encoded
// (maps in DAG-CBOR key order); a raw block links to nothing. It checks
// that a dag-cbor block is well-formed without decoding it into values.
func Links(b Block) ([]cid.Cid, error) {
	if b.Codec() == Raw {
		return nil, nil
	}
	var links []cid.Cid
	if _, err := scan(b.data, func(c cid.Cid) { links = append(links, c) }); err != nil {
		return nil, err
	}
	return links, nil
}
