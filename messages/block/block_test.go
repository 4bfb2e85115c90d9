package block

import (
	"bytes"
	"crypto/sha512"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	carv2 "github.com/ipld/go-car/v2"
	"github.com/ipld/go-car/v2/storage"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/codec/dagjson"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	mh "github.com/multiformats/go-multihash"
)

func mustRaw(t testing.TB, s string) Block {
	t.Helper()
	b, err := NewRaw([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCIDsAgreeWithGoCID(t *testing.T) {
	for _, codec := range []uint64{Raw, DagCBOR} {
		data := []byte("hello, cooperatives")
		want, err := cid.Prefix{Version: 1, Codec: codec, MhType: mh.SHA2_256, MhLength: -1}.Sum(data)
		if err != nil {
			t.Fatal(err)
		}
		if got := Sum(codec, data); !got.Equals(want) || got.String() != want.String() {
			t.Fatalf("codec %x: %s, go-cid says %s", codec, got, want)
		}
	}
	b := mustRaw(t, "hello")
	if s := b.CID().String(); !strings.HasPrefix(s, "bafkrei") {
		t.Fatalf("raw CIDv1 base32 should start with bafkrei: %s", s)
	}
	back, err := Parse(b.CID().String())
	if err != nil || !back.Equals(b.CID()) {
		t.Fatalf("parse: %v %v", back, err)
	}
}

func TestVerified(t *testing.T) {
	good := mustRaw(t, "payload")
	if _, err := Verified(good.CID(), good.Data()); err != nil {
		t.Fatal(err)
	}
	v0 := cid.NewCidV0(good.CID().Hash())
	h512, _ := mh.Sum([]byte("payload"), mh.SHA2_512, -1)
	_ = sha512.Size
	tests := []struct {
		name string
		c    cid.Cid
		data []byte
		want error
	}{
		{"tampered data", good.CID(), []byte("payloaD"), ErrHashMismatch},
		{"truncated data", good.CID(), []byte("payloa"), ErrHashMismatch},
		{"wrong codec for the data", Sum(DagCBOR, []byte("x")), []byte("y"), ErrHashMismatch},
		{"CIDv0", v0, good.Data(), ErrUnsupported},
		{"dag-pb", cid.NewCidV1(cid.DagProtobuf, good.CID().Hash()), good.Data(), ErrUnsupported},
		{"sha2-512", cid.NewCidV1(Raw, h512), []byte("payload"), ErrUnsupported},
		{"undefined", cid.Undef, nil, ErrInvalidCID},
		{"too large", Sum(Raw, nil), make([]byte, MaxSize+1), ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Verified(tt.c, tt.data); !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	for _, bad := range []string{"", "not-a-cid", "bafy", strings.Repeat("b", 300)} {
		if _, err := Parse(bad); !errors.Is(err, ErrInvalidCID) {
			t.Errorf("Parse(%q) = %v", bad, err)
		}
	}
}

// ipldRoundTrip decodes data with go-ipld-prime's dagcbor codec and
// encodes it again with it.
func ipldRoundTrip(t *testing.T, data []byte) []byte {
	t.Helper()
	nb := basicnode.Prototype.Any.NewBuilder()
	if err := dagcbor.Decode(nb, bytes.NewReader(data)); err != nil {
		t.Fatalf("go-ipld-prime cannot decode our dag-cbor: %v\n%x", err, data)
	}
	var out bytes.Buffer
	if err := dagcbor.Encode(nb.Build(), &out); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

type entry struct {
	Account string  `cbor:"account"`
	Seq     uint64  `cbor:"seq"`
	Prev    *Link   `cbor:"prev"`
	Amount  int64   `cbor:"amount"`
	Rate    float64 `cbor:"rate"`
	Memo    []byte  `cbor:"memo"`
	Tags    []string
}

func TestDagCBORAgreesWithGoIPLDPrime(t *testing.T) {
	leaf := mustRaw(t, "leaf")
	link := LinkTo(leaf.CID())
	values := map[string]any{
		"scalars": map[string]any{"null": nil, "t": true, "f": false, "i": int64(-42), "u": uint64(math.MaxUint64),
			"min": int64(math.MinInt64), "f64": 2.5, "small float": 1.0, "s": "héllo ✓", "b": []byte{0, 1, 2, 255}},
		"key order": map[string]any{"bb": 1, "a": 2, "ccc": 3, "aa": 4, "b": 5, "": 6},
		"nested":    []any{[]any{}, map[string]any{}, []any{map[string]any{"x": []any{int64(1), "two", 3.5}}}},
		"links":     map[string]any{"data": "x", "links": map[string]any{"leaf": link, "again": link}},
		"struct": entry{Account: "did:key:z6Mk", Seq: 7, Prev: &link, Amount: -3, Rate: 0.1, Memo: []byte("m"),
			Tags: []string{"x"}},
		"struct nil link": entry{Account: "a"},
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			b, err := Encode(v)
			if err != nil {
				t.Fatal(err)
			}
			if again := ipldRoundTrip(t, b.Data()); !bytes.Equal(again, b.Data()) {
				t.Fatalf("go-ipld-prime re-encodes our bytes differently:\nours   %x\ntheirs %x", b.Data(), again)
			}
			if want := Sum(DagCBOR, b.Data()); !want.Equals(b.CID()) {
				t.Fatal("CID is not the hash of the bytes")
			}
		})
	}
}

func TestWeDecodeWhatGoIPLDPrimeEncodes(t *testing.T) {
	leaf := mustRaw(t, "leaf").CID()
	docs := []string{
		`{"z":1,"aa":[true,null,-7,1.5,"s"],"l":{"/":"` + leaf.String() + `"},"by":{"/":{"bytes":"AAEC"}}}`,
		`[{"k":{"kk":{"kkk":[]}}},9223372036854775807,-9223372036854775808]`,
		`"just a string"`,
	}
	for _, doc := range docs {
		nb := basicnode.Prototype.Any.NewBuilder()
		if err := dagjson.Decode(nb, strings.NewReader(doc)); err != nil {
			t.Fatal(err)
		}
		var theirs bytes.Buffer
		if err := dagcbor.Encode(nb.Build(), &theirs); err != nil {
			t.Fatal(err)
		}
		c := Sum(DagCBOR, theirs.Bytes())
		b, err := Verified(c, theirs.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := Decode(b, &v); err != nil {
			t.Fatal(err)
		}
		ours, err := Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		if !ours.CID().Equals(c) {
			t.Fatalf("%s: our re-encoding differs:\nours   %x\ntheirs %x", doc, ours.Data(), theirs.Bytes())
		}
		// And our JSON view agrees with go-ipld-prime's DAG-JSON.
		js, err := ToJSON(b)
		if err != nil {
			t.Fatal(err)
		}
		var theirJSON bytes.Buffer
		if err := dagjson.Encode(nb.Build(), &theirJSON); err != nil {
			t.Fatal(err)
		}
		if !jsonEqual(t, js, theirJSON.Bytes()) {
			t.Fatalf("JSON views differ:\nours   %s\ntheirs %s", js, theirJSON.Bytes())
		}
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	if err := da.Decode(&x); err != nil {
		t.Fatal(err)
	}
	if err := db.Decode(&y); err != nil {
		t.Fatal(err)
	}
	xb, _ := json.Marshal(x)
	yb, _ := json.Marshal(y)
	return bytes.Equal(xb, yb)
}

func TestEncodeRejectsWhatIPLDCannotHold(t *testing.T) {
	for name, v := range map[string]any{
		"NaN":          map[string]any{"x": math.NaN()},
		"infinity":     []any{math.Inf(1)},
		"int map keys": map[int]string{1: "a"},
		"bad utf-8":    "\xff\xfe",
		"channel":      make(chan int),
	} {
		if _, err := Encode(v); !errors.Is(err, ErrInvalidNode) {
			t.Errorf("%s: err = %v, want ErrInvalidNode", name, err)
		}
	}
}

func TestJSONNodes(t *testing.T) {
	leaf := mustRaw(t, "leaf")
	b, err := FromJSON(Node{Data: json.RawMessage(`{"n":1,"f":1.5,"big":18446744073709551615,"e":1e3,"neg":-2,"s":"x","a":[null,true]}`),
		Links: map[string]string{"leaf": leaf.CID().String()}})
	if err != nil {
		t.Fatal(err)
	}
	var node struct {
		Data  map[string]any  `cbor:"data"`
		Links map[string]Link `cbor:"links"`
	}
	if err := Decode(b, &node); err != nil {
		t.Fatal(err)
	}
	if node.Data["n"] != uint64(1) || node.Data["f"] != 1.5 || node.Data["big"] != uint64(math.MaxUint64) || node.Data["e"] != 1000.0 || node.Data["neg"] != int64(-2) {
		t.Fatalf("numbers: %#v", node.Data)
	}
	if !node.Links["leaf"].Cid.Equals(leaf.CID()) {
		t.Fatalf("links: %#v", node.Links)
	}
	links, err := Links(b)
	if err != nil || len(links) != 1 || !links[0].Equals(leaf.CID()) {
		t.Fatalf("Links = %v, %v", links, err)
	}
	js, err := ToJSON(b)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"data":{"a":[null,true],"big":18446744073709551615,"e":1000,"f":1.5,"n":1,"neg":-2,"s":"x"},"links":{"leaf":{"/":"` + leaf.CID().String() + `"}}}`
	if string(js) != want {
		t.Fatalf("ToJSON:\n%s\nwant\n%s", js, want)
	}
	for name, n := range map[string]Node{
		"bad link":      {Data: json.RawMessage(`1`), Links: map[string]string{"x": "nope"}},
		"bad json":      {Data: json.RawMessage(`{`)},
		"trailing json": {Data: json.RawMessage(`1 2`)},
		"huge number":   {Data: json.RawMessage(`1e999`)},
	} {
		if _, err := FromJSON(n); err == nil {
			t.Errorf("%s accepted", name)
		}
	}
	if _, err := ToJSON(leaf); !errors.Is(err, ErrInvalidNode) {
		t.Fatalf("ToJSON of a raw block: %v", err)
	}
	same, _ := FromJSON(Node{Data: json.RawMessage(`{"neg":-2, "a":[null,true],"s":"x","f":1.5,"n":1,"e":1e3,"big":18446744073709551615}`),
		Links: map[string]string{"leaf": leaf.CID().String()}})
	if !same.CID().Equals(b.CID()) {
		t.Fatal("the same node written with other key order hashes differently")
	}
}

// sampleDAG is a small DAG: a root linking two nodes that share a leaf.
func sampleDAG(t *testing.T) (root Block, all []Block) {
	t.Helper()
	leaf := mustRaw(t, strings.Repeat("leaf", 100))
	a, err := Encode(map[string]any{"name": "a", "leaf": LinkTo(leaf.CID())})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Encode(map[string]any{"name": "b", "leaf": LinkTo(leaf.CID()), "raw": mustRaw(t, "other").Data()})
	if err != nil {
		t.Fatal(err)
	}
	root, err = Encode(map[string]any{"children": []any{LinkTo(a.CID()), LinkTo(b.CID())}})
	if err != nil {
		t.Fatal(err)
	}
	return root, []Block{root, a, leaf, b}
}

func TestCARWeWriteGoCARReads(t *testing.T) {
	root, blocks := sampleDAG(t)
	var buf bytes.Buffer
	w, err := NewCARWriter(&buf, root.CID())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		if err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	br, err := carv2.NewBlockReader(bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if br.Version != 1 || len(br.Roots) != 1 || !br.Roots[0].Equals(root.CID()) {
		t.Fatalf("go-car header: version %d roots %v", br.Version, br.Roots)
	}
	for i := 0; ; i++ {
		b, err := br.Next()
		if errors.Is(err, io.EOF) {
			if i != len(blocks) {
				t.Fatalf("go-car read %d blocks, want %d", i, len(blocks))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !b.Cid().Equals(blocks[i].CID()) || !bytes.Equal(b.RawData(), blocks[i].Data()) {
			t.Fatalf("block %d differs", i)
		}
	}
}

func TestCARGoCARWritesWeRead(t *testing.T) {
	root, blocks := sampleDAG(t)
	for _, v1 := range []bool{true, false} {
		opts := []carv2.Option{carv2.WriteAsCarV1(v1)}
		if !v1 {
			opts = append(opts, carv2.UseDataPadding(37))
		}
		f, err := os.Create(filepath.Join(t.TempDir(), "x.car"))
		if err != nil {
			t.Fatal(err)
		}
		w, err := storage.NewWritable(f, []cid.Cid{root.CID()}, opts...)
		if err != nil {
			t.Fatal(err)
		}
		for _, b := range blocks {
			if err := w.Put(t.Context(), b.CID().KeyString(), b.Data()); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Finalize(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		car, err := os.ReadFile(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		buf := bytes.NewBuffer(car)
		r, err := NewCARReader(bytes.NewReader(buf.Bytes()), MaxSize)
		if err != nil {
			t.Fatalf("v1=%v: %v", v1, err)
		}
		wantVersion := 2
		if v1 {
			wantVersion = 1
		}
		if r.Version != wantVersion || len(r.Roots) != 1 || !r.Roots[0].Equals(root.CID()) {
			t.Fatalf("v1=%v: version %d roots %v", v1, r.Version, r.Roots)
		}
		n := 0
		for {
			b, err := r.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("v1=%v block %d: %v", v1, n, err)
			}
			if !Equal(b, blocks[n]) {
				t.Fatalf("v1=%v: block %d differs", v1, n)
			}
			n++
		}
		if n != len(blocks) {
			t.Fatalf("v1=%v: read %d blocks", v1, n)
		}
	}
}

func TestCARReaderRejectsCorruption(t *testing.T) {
	root, blocks := sampleDAG(t)
	var buf bytes.Buffer
	w, _ := NewCARWriter(&buf, root.CID())
	for _, b := range blocks {
		_ = w.Write(b)
	}
	_ = w.Flush()
	good := buf.Bytes()
	flip := bytes.Clone(good)
	flip[len(flip)-1] ^= 1 // last byte of the last block
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrInvalidCAR},
		{"truncated header", good[:5], ErrInvalidCAR},
		{"truncated block", good[:len(good)-3], ErrInvalidCAR},
		{"flipped bit", flip, ErrHashMismatch},
		{"version 3", append([]byte{0x0b}, mustHeader(t, 3)...), ErrInvalidCAR},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := NewCARReader(bytes.NewReader(tt.data), MaxSize)
			for err == nil {
				_, err = r.Next()
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("err = %v, want %v", err, tt.want)
			}
		})
	}
	// A block over the reader's limit is refused before it is read whole.
	r, err := NewCARReader(bytes.NewReader(good), 100)
	if err != nil {
		t.Fatal(err)
	}
	var errTooLarge error
	for errTooLarge == nil {
		_, errTooLarge = r.Next()
	}
	if !errors.Is(errTooLarge, ErrTooLarge) {
		t.Fatalf("limit: %v", errTooLarge)
	}
}

func mustHeader(t *testing.T, version uint64) []byte {
	t.Helper()
	b, err := dagCBOR.enc.Marshal(carHeader{Version: version})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestJSONNumbersAreExactOrRefused(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want any // nil: refused
	}{
		{"1", int64(1)},
		{"-9223372036854775808", int64(-9223372036854775808)},
		{"18446744073709551615", uint64(18446744073709551615)},
		{"18446744073709551616", nil},
		{"-9223372036854775809", nil},
		{"1.5", 1.5},
		{"1e3", 1000.0},
		{"0.0", 0.0},
		{"0e10", 0.0},
		{"1e400", nil},
		{"1e-400", nil},
		{"-2.5E-400", nil},
	} {
		v, err := jsonValue([]byte(tc.in))
		switch {
		case tc.want == nil && !errors.Is(err, ErrInvalidNode):
			t.Errorf("%s: got %v (%T), want refusal", tc.in, v, v)
		case tc.want != nil && (err != nil || v != tc.want):
			t.Errorf("%s: got %v (%T), %v; want %v (%T)", tc.in, v, v, err, tc.want, tc.want)
		}
	}
}

func TestToJSONRefusesNodesOfTooManyValues(t *testing.T) {
	list := make([]any, MaxJSONValues)
	b, err := Encode(list)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ToJSON(b); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ToJSON of %d values: %v", MaxJSONValues+1, err)
	}
}

func TestCARReadErrorsKeepTheirCause(t *testing.T) {
	var buf bytes.Buffer
	w, err := NewCARWriter(&buf, Sum(Raw, []byte("big")))
	if err != nil {
		t.Fatal(err)
	}
	big, _ := NewRaw(bytes.Repeat([]byte("big"), 1000))
	if err := w.Write(big); err != nil || w.Flush() != nil {
		t.Fatal(err)
	}
	// A body limit cut mid-block is both a broken CAR and the limit's error,
	// so the API can answer 413 rather than 400.
	body := http.MaxBytesReader(nil, io.NopCloser(&buf), int64(buf.Len()-100))
	cr, err := NewCARReader(body, MaxSize)
	if err != nil {
		t.Fatal(err)
	}
	_, err = cr.Next()
	var mbe *http.MaxBytesError
	if !errors.Is(err, ErrInvalidCAR) || !errors.As(err, &mbe) {
		t.Fatalf("got %v", err)
	}
}

func TestLinksRefusesWhatDAGCBORForbids(t *testing.T) {
	for name, data := range map[string][]byte{
		"tag 1":         {0xc1, 0x01},
		"float16":       {0xf9, 0x3c, 0x00},
		"undefined":     {0xf7},
		"duplicate key": {0xa2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02},
		"integer key":   {0xa1, 0x01, 0x01},
		"indefinite":    {0x9f, 0x01, 0xff},
		"trailing":      {0x01, 0x02},
		"huge array":    {0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
		"-2^64":         {0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
	} {
		b, err := Verified(Sum(DagCBOR, data), data)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Links(b); !errors.Is(err, ErrInvalidNode) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
