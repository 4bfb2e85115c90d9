package block

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/ipfs/go-cid"
)

// FuzzLinks checks the scanner against the full decoder: whatever the
// scanner accepts decodes, renders as JSON, and links to the same CIDs;
// and nothing panics.
func FuzzLinks(f *testing.F) {
	for _, seed := range cborSeeds(f) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var links []cid.Cid
		values, err := scan(data, func(c cid.Cid) { links = append(links, c) })
		if err != nil {
			if !errors.Is(err, ErrInvalidNode) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		if values < 1 || values > len(data) {
			t.Fatalf("%d values in %d bytes", values, len(data))
		}
		v, err := decodeAny(data)
		if err != nil {
			t.Fatalf("scan accepted what the decoder refuses: %v", err)
		}
		var decoded []cid.Cid
		collectLinks(v, &decoded)
		if len(decoded) != len(links) {
			t.Fatalf("scan found %d links, the decoder %d", len(links), len(decoded))
		}
		if _, err := ToJSON(Block{cid: Sum(DagCBOR, data), data: data}); err != nil {
			t.Fatalf("an accepted node has no JSON form: %v", err)
		}
	})
}

func collectLinks(v any, out *[]cid.Cid) {
	switch x := v.(type) {
	case Link:
		*out = append(*out, x.Cid)
	case []any:
		for _, e := range x {
			collectLinks(e, out)
		}
	case map[string]any:
		for _, e := range x {
			collectLinks(e, out)
		}
	}
}

// FuzzFromJSON: a JSON node either is refused with ErrInvalidNode (or a CID
// error) or becomes a block whose JSON form converts back to the same block.
func FuzzFromJSON(f *testing.F) {
	for _, s := range []string{
		`{"data": {"a": 1, "b": [true, null, 1.5, "x"]}}`,
		`{"data": 18446744073709551615}`,
		`{"data": -9223372036854775808}`,
		`{"data": 1e400}`,
		`{"data": 123456789012345678901234567890}`,
		`{"data": 1e-400}`,
		`{"data": [1, 2]]`,
		`{"data": "x", "links": {"prev": "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"}}`,
		`{"data": {"/": "not a link"}}`,
		`{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		var n Node
		if json.Unmarshal(raw, &n) != nil {
			return
		}
		b, err := FromJSON(n)
		if err != nil {
			if !errors.Is(err, ErrInvalidNode) && !errors.Is(err, ErrInvalidCID) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		if _, err := Links(b); err != nil {
			t.Fatalf("FromJSON made a node the scanner refuses: %v", err)
		}
		if _, err := ToJSON(b); err != nil {
			t.Fatalf("FromJSON made a node with no JSON form: %v", err)
		}
	})
}

// FuzzCARReader: a CAR either reads to the end, every block verified and
// within the limit, or fails with a typed error; nothing panics.
func FuzzCARReader(f *testing.F) {
	var car bytes.Buffer
	root, err := Encode(map[string]any{"a": LinkTo(Sum(Raw, []byte("x")))})
	if err != nil {
		f.Fatal(err)
	}
	leaf, _ := NewRaw([]byte("x"))
	cw, err := NewCARWriter(&car, root.CID())
	if err != nil {
		f.Fatal(err)
	}
	if cw.Write(root) != nil || cw.Write(leaf) != nil || cw.Flush() != nil {
		f.Fatal("write seed CAR")
	}
	f.Add(car.Bytes())
	f.Add(car.Bytes()[:len(car.Bytes())-3])
	f.Add([]byte{0x0a, 0xa1, 0x67, 0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x02}) // {version: 2}
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01})
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxBlock = 1 << 10
		cr, err := NewCARReader(bytes.NewReader(data), maxBlock)
		if err != nil {
			if !errors.Is(err, ErrInvalidCAR) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("untyped error: %v", err)
			}
			return
		}
		for range len(data) + 1 {
			b, err := cr.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				for _, typed := range []error{ErrInvalidCAR, ErrTooLarge, ErrInvalidCID, ErrUnsupported, ErrHashMismatch} {
					if errors.Is(err, typed) {
						return
					}
				}
				t.Fatalf("untyped error: %v", err)
			}
			if b.Size() > maxBlock || !Sum(b.Codec(), b.Data()).Equals(b.CID()) {
				t.Fatalf("unverified block %s of %d bytes", b.CID(), b.Size())
			}
		}
		t.Fatal("more blocks than bytes")
	})
}

// cborSeeds are well- and ill-formed nodes for FuzzLinks.
func cborSeeds(f *testing.F) [][]byte {
	node, err := Encode(map[string]any{"name": "x", "n": int64(-3), "f": 1.5, "b": []byte{1},
		"l": []any{LinkTo(Sum(Raw, []byte("a"))), nil, true}})
	if err != nil {
		f.Fatal(err)
	}
	return [][]byte{
		node.Data(),
		{0xa2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02}, // duplicate key
		{0xa2, 0x61, 0x62, 0x01, 0x61, 0x61, 0x02}, // keys out of order
		{0xc1, 0x01},                         // tag 1
		{0xd8, 0x2a, 0x41, 0x00},             // empty link
		{0xf9, 0x3c, 0x00},                   // float16
		{0xfb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0}, // NaN
		{0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // -2^64
		{0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, // huge array
		{0x9f, 0x01, 0xff},              // indefinite array
		bytes.Repeat([]byte{0x81}, 100), // deep nesting
		{0x62, 0xc3, 0x28},              // bad UTF-8
		{0xf7},                          // undefined
		{0x01, 0x02},                    // trailing byte
	}
}
