package block

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
)

// maxDepth bounds how deeply a node may nest (as the decoder does).
const maxDepth = 64

// scan checks that data is one well-formed DAG-CBOR value of the IPLD data
// model and reports each link in the order it is encoded. It builds no
// values, so checking a block costs no more memory than its nesting depth
// and its largest map's keys: a block of tiny elements cannot make a
// decoder allocate many times its size. It returns how many data-model
// values the node holds (what rendering it would build).
//
// It accepts what DAG-CBOR allows: definite lengths only, text map keys
// (no duplicates), tag 42 over a 0x00-prefixed CID and no other tag,
// finite 64-bit floats, true, false and null, and integers that fit the
// data model's 64 bits.
func scan(data []byte, link func(cid.Cid)) (values int, err error) {
	s := scanner{data: data, link: link}
	if err := s.value(0); err != nil {
		return 0, fmt.Errorf("%w: at byte %d: %v", ErrInvalidNode, s.pos, err)
	}
	if s.pos != len(data) {
		return 0, fmt.Errorf("%w: %d bytes after the node", ErrInvalidNode, len(data)-s.pos)
	}
	return s.values, nil
}

type scanner struct {
	data   []byte
	pos    int
	values int
	link   func(cid.Cid)
}

const (
	majorUint = iota
	majorNegInt
	majorBytes
	majorText
	majorArray
	majorMap
	majorTag
	majorSimple
)

// head reads an item's major type and argument.
func (s *scanner) head() (major byte, arg uint64, info byte, err error) {
	if s.pos >= len(s.data) {
		return 0, 0, 0, fmt.Errorf("unexpected end")
	}
	ib := s.data[s.pos]
	s.pos++
	major, info = ib>>5, ib&0x1f
	var n int
	switch {
	case info < 24:
		return major, uint64(info), info, nil
	case info == 24:
		n = 1
	case info == 25:
		n = 2
	case info == 26:
		n = 4
	case info == 27:
		n = 8
	case info == 31:
		return 0, 0, 0, fmt.Errorf("indefinite length (DAG-CBOR needs definite lengths)")
	default:
		return 0, 0, 0, fmt.Errorf("reserved additional information %d", info)
	}
	if len(s.data)-s.pos < n {
		return 0, 0, 0, fmt.Errorf("unexpected end")
	}
	var b [8]byte
	copy(b[8-n:], s.data[s.pos:s.pos+n])
	s.pos += n
	return major, binary.BigEndian.Uint64(b[:]), info, nil
}

// take returns the next n bytes of a string.
func (s *scanner) take(n uint64) ([]byte, error) {
	if n > uint64(len(s.data)-s.pos) {
		return nil, fmt.Errorf("string of %d bytes runs past the end", n)
	}
	b := s.data[s.pos : s.pos+int(n)]
	s.pos += int(n)
	return b, nil
}

func (s *scanner) value(depth int) error {
	s.values++
	major, arg, info, err := s.head()
	if err != nil {
		return err
	}
	if (major == majorArray || major == majorMap || major == majorTag) && depth >= maxDepth {
		return fmt.Errorf("nested more than %d deep", maxDepth) // arrays, maps and tags each count
	}
	left := uint64(len(s.data) - s.pos) // every element takes at least one byte
	switch major {
	case majorUint:
	case majorNegInt:
		if arg > math.MaxInt64 {
			return fmt.Errorf("integer -%d-1 does not fit 64 bits", arg)
		}
	case majorBytes:
		_, err = s.take(arg)
	case majorText:
		var b []byte
		if b, err = s.take(arg); err == nil && !utf8.Valid(b) {
			err = fmt.Errorf("invalid UTF-8 string")
		}
	case majorArray:
		if arg > left {
			return fmt.Errorf("array of %d elements in %d bytes", arg, left)
		}
		for range arg {
			if err := s.value(depth + 1); err != nil {
				return err
			}
		}
	case majorMap:
		if arg > left/2 {
			return fmt.Errorf("map of %d entries in %d bytes", arg, left)
		}
		err = s.mapEntries(arg, depth)
	case majorTag:
		err = s.tag(arg)
	case majorSimple:
		switch info {
		case 20, 21, 22: // false, true, null
		case 27:
			if f := math.Float64frombits(arg); math.IsNaN(f) || math.IsInf(f, 0) {
				return fmt.Errorf("NaN and infinities are not in the IPLD data model")
			}
		case 25, 26:
			return fmt.Errorf("16- and 32-bit floats are not DAG-CBOR (floats are 64-bit)")
		default:
			return fmt.Errorf("simple value %d is not in the IPLD data model", arg)
		}
	}
	return err
}

// mapEntries scans n key/value pairs: text keys, none twice.
func (s *scanner) mapEntries(n uint64, depth int) error {
	var keys [][]byte
	sorted := true // DAG-CBOR order (length, then bytes): no duplicates possible
	for range n {
		major, arg, _, err := s.head()
		if err != nil {
			return err
		}
		if major != majorText {
			return fmt.Errorf("map keys must be strings")
		}
		s.values++
		k, err := s.take(arg)
		if err != nil {
			return err
		}
		if !utf8.Valid(k) {
			return fmt.Errorf("invalid UTF-8 map key")
		}
		if len(keys) > 0 && keyOrder(keys[len(keys)-1], k) >= 0 {
			sorted = false
		}
		keys = append(keys, k)
		if err := s.value(depth + 1); err != nil {
			return err
		}
	}
	if !sorted {
		slices.SortFunc(keys, keyOrder)
		for i := 1; i < len(keys); i++ {
			if bytes.Equal(keys[i-1], keys[i]) {
				return fmt.Errorf("duplicate map key %q", keys[i])
			}
		}
	}
	return nil
}

// keyOrder is DAG-CBOR's map key order: shorter first, then bytewise.
func keyOrder(a, b []byte) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return bytes.Compare(a, b)
}

// tag scans the content of a tag, which must be a link (tag 42).
func (s *scanner) tag(tag uint64) error {
	if tag != 42 {
		return fmt.Errorf("CBOR tag %d (only 42, links, is allowed)", tag)
	}
	major, arg, _, err := s.head()
	if err != nil {
		return err
	}
	if major != majorBytes {
		return fmt.Errorf("a link must be a byte string")
	}
	b, err := s.take(arg)
	if err != nil {
		return err
	}
	var l Link
	if err := l.UnmarshalBinary(b); err != nil {
		return err
	}
	if s.link != nil {
		s.link(l.Cid)
	}
	return nil
}
