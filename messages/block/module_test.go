package block

import (
	"bytes"
	"errors"
	"fmt"
	"testing"

	"github.com/ipfs/go-cid"
)

// store is a map of blocks whose get answers errMissing for the others.
type store map[cid.Cid]Block

var errMissing = errors.New("missing")

func (s store) get(c cid.Cid) (Block, error) {
	if b, ok := s[c]; ok {
		return b, nil
	}
	return Block{}, errMissing
}

func splitInto(t *testing.T, data []byte, chunk int) (Block, store) {
	t.Helper()
	root, chunks, err := SplitModule(data, chunk)
	if err != nil {
		t.Fatal(err)
	}
	s := store{}
	for _, c := range chunks {
		s[c.CID()] = c
	}
	return root, s
}

func TestSplitJoinModule(t *testing.T) {
	for _, tc := range []struct {
		size, chunk, chunks int
	}{
		{1, 1, 1},
		{10, 3, 4},
		{12, 3, 4},
		{ModuleChunkSize + 1, ModuleChunkSize, 2},
		{5 << 20, ModuleChunkSize, 5},
	} {
		t.Run(fmt.Sprintf("%d/%d", tc.size, tc.chunk), func(t *testing.T) {
			data := make([]byte, tc.size)
			for i := range data {
				data[i] = byte(i * 7)
			}
			root, chunks, err := SplitModule(data, tc.chunk)
			if err != nil {
				t.Fatal(err)
			}
			if len(chunks) != tc.chunks || root.Codec() != DagCBOR {
				t.Fatalf("%d chunks under a %s root, want %d under dag-cbor", len(chunks), CodecName(root.Codec()), tc.chunks)
			}
			s := store{}
			for _, c := range chunks {
				if c.Size() > tc.chunk || c.Codec() != Raw {
					t.Fatalf("chunk of %d bytes (%s)", c.Size(), CodecName(c.Codec()))
				}
				s[c.CID()] = c
			}
			links, err := Links(root)
			if err != nil || len(links) != tc.chunks {
				t.Fatalf("root links %v, %v", links, err)
			}
			got, err := JoinModule(root, s.get)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, data) {
				t.Fatal("joined bytes differ from the module")
			}
			again, _, err := SplitModule(data, tc.chunk)
			if err != nil || again.CID() != root.CID() {
				t.Fatalf("split again: %s, %v; want %s", again.CID(), err, root.CID())
			}
		})
	}
}

func TestSplitModuleRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		size  int
		chunk int
	}{
		{"empty", 0, 10},
		{"no chunk size", 10, 0},
		{"over the bound", MaxModuleSize + 1, ModuleChunkSize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := SplitModule(make([]byte, tc.size), tc.chunk); !errors.Is(err, ErrInvalidModule) {
				t.Fatalf("err %v, want ErrInvalidModule", err)
			}
		})
	}
}

func TestJoinModuleRefuses(t *testing.T) {
	data := []byte("\x00asm, then forty bytes in five chunks.")
	root, s := splitInto(t, data, 8)
	chunks, size, err := ModuleChunks(root)
	if err != nil || size != uint64(len(data)) || len(chunks) != 5 {
		t.Fatalf("ModuleChunks: %d chunks, size %d, %v", len(chunks), size, err)
	}
	links := func(cs ...cid.Cid) []Link {
		var out []Link
		for _, c := range cs {
			out = append(out, LinkTo(c))
		}
		return out
	}
	encode := func(v any) Block {
		b, err := Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	notRaw := encode(map[string]any{"x": int64(1)})
	for _, tc := range []struct {
		name string
		root Block
		get  func(cid.Cid) (Block, error)
		want error
	}{
		{"a chunk is missing", root, func(c cid.Cid) (Block, error) {
			if c == chunks[3] {
				return Block{}, errMissing
			}
			return s.get(c)
		}, errMissing},
		{"size too small", encode(moduleRoot{Chunks: links(chunks...), Size: size - 1}), s.get, ErrInvalidModule},
		{"size too large", encode(moduleRoot{Chunks: links(chunks...), Size: size + 1}), s.get, ErrInvalidModule},
		{"over the bound", encode(moduleRoot{Chunks: links(chunks...), Size: MaxModuleSize + 1}), s.get, ErrInvalidModule},
		{"no chunks", encode(moduleRoot{Size: 0}), s.get, ErrInvalidModule},
		{"a chunk is dag-cbor", encode(moduleRoot{Chunks: links(chunks[0], notRaw.CID()), Size: 9}), s.get, ErrInvalidModule},
		{"not a module root", notRaw, s.get, ErrInvalidModule},
		{"extra field", encode(map[string]any{"module_chunks": links(chunks...), "size": int64(size), "x": int64(1)}), s.get, ErrInvalidModule},
		{"a raw block", mustRaw(t, "\x00asm"), s.get, ErrInvalidModule},
		{"the wrong block", root, func(cid.Cid) (Block, error) { return s.get(chunks[0]) }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := JoinModule(tc.root, tc.get)
			if err == nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("joined %d bytes, err %v; want %v", len(got), err, tc.want)
			}
		})
	}
}
