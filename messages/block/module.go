package block

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
)

// A job's module larger than one block is stored chunked: raw blocks of
// its bytes in order, under a dag-cbor root
//
//	{"module_chunks": [<link>, ...], "size": <total bytes>}
//
// whose CID then names the module. A module that fits in a block stays one
// raw block.

const (
	// MaxModuleSize bounds a chunked module once joined: what a node
	// holds in memory to compile it.
	MaxModuleSize = 64 << 20
	// ModuleChunkSize is the chunk size for nodes whose blocks may be that
	// large (1 MiB: a default-sized block holds four).
	ModuleChunkSize = 1 << 20
)

// ErrInvalidModule: a chunked module whose root is not a module root, is
// over MaxModuleSize, or whose chunks do not add up to its size.
var ErrInvalidModule = errors.New("block: invalid chunked module")

// moduleRoot is the root of a chunked module.
type moduleRoot struct {
	Chunks []Link `cbor:"module_chunks"`
	Size   uint64 `cbor:"size"`
}

// SplitModule cuts data into raw chunks of chunkSize bytes (the last may
// be shorter) and makes their root. Store the chunks and the root
// together; the root's CID names the module.
func SplitModule(data []byte, chunkSize int) (root Block, chunks []Block, err error) {
	switch {
	case chunkSize <= 0:
		return Block{}, nil, fmt.Errorf("%w: chunk size %d", ErrInvalidModule, chunkSize)
	case len(data) == 0:
		return Block{}, nil, fmt.Errorf("%w: no bytes", ErrInvalidModule)
	case len(data) > MaxModuleSize:
		return Block{}, nil, fmt.Errorf("%w: %d bytes (max %d)", ErrInvalidModule, len(data), MaxModuleSize)
	}
	r := moduleRoot{Size: uint64(len(data))}
	for rest := data; len(rest) > 0; {
		n := min(chunkSize, len(rest))
		c, err := NewRaw(rest[:n])
		if err != nil {
			return Block{}, nil, err
		}
		chunks = append(chunks, c)
		r.Chunks = append(r.Chunks, LinkTo(c.CID()))
		rest = rest[n:]
	}
	if root, err = Encode(r); err != nil {
		return Block{}, nil, err
	}
	return root, chunks, nil
}

// ModuleChunks reads a chunked module's root: its chunks in order and its
// size. Only the canonical encoding of a root is accepted, so that a
// module has one CID.
func ModuleChunks(root Block) ([]cid.Cid, uint64, error) {
	var r moduleRoot
	if err := Decode(root, &r); err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %w", ErrInvalidModule, root.CID(), err)
	}
	again, err := Encode(r)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %w", ErrInvalidModule, root.CID(), err)
	}
	switch {
	case !bytes.Equal(again.Data(), root.Data()):
		return nil, 0, fmt.Errorf("%w: %s is not the canonical encoding of a module root", ErrInvalidModule, root.CID())
	case r.Size == 0 || len(r.Chunks) == 0:
		return nil, 0, fmt.Errorf("%w: %s has no bytes", ErrInvalidModule, root.CID())
	case r.Size > MaxModuleSize:
		return nil, 0, fmt.Errorf("%w: %s is %d bytes (max %d)", ErrInvalidModule, root.CID(), r.Size, MaxModuleSize)
	case uint64(len(r.Chunks)) > r.Size:
		return nil, 0, fmt.Errorf("%w: %s has %d chunks for %d bytes", ErrInvalidModule, root.CID(), len(r.Chunks), r.Size)
	}
	out := make([]cid.Cid, len(r.Chunks))
	for i, l := range r.Chunks {
		if l.Cid.Prefix().Codec != Raw {
			return nil, 0, fmt.Errorf("%w: %s: chunk %d (%s) is not a raw block", ErrInvalidModule, root.CID(), i, l.Cid)
		}
		out[i] = l.Cid
	}
	return out, r.Size, nil
}

// JoinModule reassembles a chunked module from its root, reading each
// chunk with get (whose error it returns wrapped). The chunks must add up
// to the root's size exactly.
func JoinModule(root Block, get func(cid.Cid) (Block, error)) ([]byte, error) {
	chunks, size, err := ModuleChunks(root)
	if err != nil {
		return nil, err
	}
	data := make([]byte, 0, size)
	for i, c := range chunks {
		b, err := get(c)
		if err != nil {
			return nil, fmt.Errorf("block: module %s: chunk %d of %d (%s): %w", root.CID(), i+1, len(chunks), c, err)
		}
		if !b.CID().Equals(c) {
			return nil, fmt.Errorf("block: module %s: chunk %d: asked for %s, got %s", root.CID(), i+1, c, b.CID())
		}
		if uint64(len(data))+uint64(b.Size()) > size {
			return nil, fmt.Errorf("%w: %s: its chunks exceed its size of %d bytes", ErrInvalidModule, root.CID(), size)
		}
		data = append(data, b.Data()...)
	}
	if uint64(len(data)) != size {
		return nil, fmt.Errorf("%w: %s: its chunks hold %d bytes, its size is %d", ErrInvalidModule, root.CID(), len(data), size)
	}
	return data, nil
}
