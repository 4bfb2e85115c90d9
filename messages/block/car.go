package block

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/ipfs/go-cid"
)

// CAR: the content-addressed archive format, version 1 (written) and
// versions 1 and 2 (read): a dag-cbor header {roots, version} and then one
// section per block, each prefixed with its length as an unsigned varint.

// ErrInvalidCAR: the bytes are not a well-formed CAR.
var ErrInvalidCAR = errors.New("block: invalid CAR")

// maxCARHeader bounds the header a reader accepts.
const maxCARHeader = 1 << 20

type carHeader struct {
	Roots   []Link `cbor:"roots"`
	Version uint64 `cbor:"version"`
}

// CARWriter writes a CARv1 stream.
type CARWriter struct {
	w *bufio.Writer
}

// NewCARWriter writes the header of a CARv1 with the given roots.
func NewCARWriter(w io.Writer, roots ...cid.Cid) (*CARWriter, error) {
	h := carHeader{Version: 1, Roots: make([]Link, len(roots))}
	for i, r := range roots {
		h.Roots[i] = LinkTo(r)
	}
	hdr, err := dagCBOR.enc.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrInvalidCAR, err)
	}
	cw := &CARWriter{w: bufio.NewWriterSize(w, 64<<10)}
	if err := cw.section(hdr, nil); err != nil {
		return nil, err
	}
	return cw, nil
}

// Write appends a block.
func (cw *CARWriter) Write(b Block) error { return cw.section(b.cid.Bytes(), b.data) }

func (cw *CARWriter) section(a, b []byte) error {
	var n [binary.MaxVarintLen64]byte
	if _, err := cw.w.Write(n[:binary.PutUvarint(n[:], uint64(len(a)+len(b)))]); err != nil {
		return err
	}
	if _, err := cw.w.Write(a); err != nil {
		return err
	}
	_, err := cw.w.Write(b)
	return err
}

// Flush writes what is buffered.
func (cw *CARWriter) Flush() error { return cw.w.Flush() }

// CARReader reads a CAR (v1, or the v1 payload of a v2) and verifies every
// block it yields.
type CARReader struct {
	r        *bufio.Reader
	limit    int64 // bytes of payload left (v2), or -1
	maxBlock int
	// Roots are the CAR's roots, from its header.
	Roots []cid.Cid
	// Version is 1 or 2.
	Version int
}

// NewCARReader reads the header; maxBlock bounds each block (at most MaxSize).
func NewCARReader(r io.Reader, maxBlock int) (*CARReader, error) {
	cr := &CARReader{r: bufio.NewReaderSize(r, 64<<10), limit: -1, maxBlock: min(maxBlock, MaxSize)}
	h, err := cr.header()
	if err != nil {
		return nil, err
	}
	switch h.Version {
	case 1:
	case 2:
		if err := cr.enterV2(); err != nil {
			return nil, err
		}
		if h, err = cr.header(); err != nil {
			return nil, err
		}
		if h.Version != 1 {
			return nil, fmt.Errorf("%w: CARv2 payload has version %d", ErrInvalidCAR, h.Version)
		}
		cr.Version = 2
	default:
		return nil, fmt.Errorf("%w: version %d (want 1 or 2)", ErrInvalidCAR, h.Version)
	}
	if cr.Version == 0 {
		cr.Version = 1
	}
	for _, l := range h.Roots {
		cr.Roots = append(cr.Roots, l.Cid)
	}
	return cr, nil
}

func (cr *CARReader) header() (carHeader, error) {
	n, err := cr.uvarint()
	if err != nil {
		return carHeader{}, fmt.Errorf("%w: header length: %w", ErrInvalidCAR, eofIsUnexpected(err))
	}
	if n == 0 || n > maxCARHeader {
		return carHeader{}, fmt.Errorf("%w: header of %d bytes", ErrInvalidCAR, n)
	}
	buf := make([]byte, n)
	if err := cr.full(buf); err != nil {
		return carHeader{}, fmt.Errorf("%w: header: %w", ErrInvalidCAR, err)
	}
	var h carHeader
	if err := dagCBOR.dec.Unmarshal(buf, &h); err != nil {
		return carHeader{}, fmt.Errorf("%w: header: %v", ErrInvalidCAR, err)
	}
	return h, nil
}

// enterV2 reads the fixed CARv2 header after the pragma and skips to the
// CARv1 payload, limiting reads to its size.
func (cr *CARReader) enterV2() error {
	var h [40]byte // characteristics (16), data offset, data size, index offset (8 each, little endian)
	if err := cr.full(h[:]); err != nil {
		return fmt.Errorf("%w: v2 header: %w", ErrInvalidCAR, err)
	}
	offset := binary.LittleEndian.Uint64(h[16:24])
	size := binary.LittleEndian.Uint64(h[24:32])
	const read = 11 + 40 // pragma and header
	if offset < read || size == 0 || offset > 1<<40 || size > 1<<50 {
		return fmt.Errorf("%w: v2 payload at %d, %d bytes", ErrInvalidCAR, offset, size)
	}
	if _, err := cr.r.Discard(int(offset - read)); err != nil {
		return fmt.Errorf("%w: v2 payload offset: %w", ErrInvalidCAR, err)
	}
	cr.limit = int64(size)
	return nil
}

// Next returns the next block, verified, or io.EOF after the last one.
func (cr *CARReader) Next() (Block, error) {
	if cr.limit == 0 {
		return Block{}, io.EOF
	}
	n, err := cr.uvarint()
	if errors.Is(err, io.EOF) {
		if cr.limit > 0 {
			return Block{}, fmt.Errorf("%w: payload ends %d bytes early", ErrInvalidCAR, cr.limit)
		}
		return Block{}, io.EOF
	}
	if err != nil {
		return Block{}, fmt.Errorf("%w: section length: %w", ErrInvalidCAR, err)
	}
	if n == 0 || n > uint64(cr.maxBlock)+128 {
		return Block{}, fmt.Errorf("%w: section of %d bytes (blocks are at most %d)", ErrTooLarge, n, cr.maxBlock)
	}
	buf := make([]byte, n)
	if err := cr.full(buf); err != nil {
		return Block{}, fmt.Errorf("%w: section: %w", ErrInvalidCAR, err)
	}
	read, c, err := cid.CidFromBytes(buf)
	if err != nil {
		return Block{}, fmt.Errorf("%w: section CID: %v", ErrInvalidCAR, err)
	}
	if len(buf)-read > cr.maxBlock {
		return Block{}, fmt.Errorf("%w: block %s of %d bytes (max %d)", ErrTooLarge, c, len(buf)-read, cr.maxBlock)
	}
	return Verified(c, buf[read:])
}

func (cr *CARReader) uvarint() (uint64, error) {
	first := true
	var x uint64
	var s uint
	for i := 0; i < binary.MaxVarintLen64; i++ {
		b, err := cr.byte()
		if err != nil {
			if errors.Is(err, io.EOF) && !first {
				return 0, io.ErrUnexpectedEOF
			}
			return 0, err
		}
		first = false
		if b < 0x80 {
			if i == binary.MaxVarintLen64-1 && b > 1 {
				return 0, errors.New("varint overflows 64 bits")
			}
			return x | uint64(b)<<s, nil
		}
		x |= uint64(b&0x7f) << s
		s += 7
	}
	return 0, errors.New("varint overflows 64 bits")
}

func (cr *CARReader) byte() (byte, error) {
	if cr.limit == 0 {
		return 0, io.EOF
	}
	b, err := cr.r.ReadByte()
	if err == nil && cr.limit > 0 {
		cr.limit--
	}
	return b, err
}

func (cr *CARReader) full(buf []byte) error {
	if cr.limit >= 0 && int64(len(buf)) > cr.limit {
		return io.ErrUnexpectedEOF
	}
	if _, err := io.ReadFull(cr.r, buf); err != nil {
		return eofIsUnexpected(err)
	}
	if cr.limit > 0 {
		cr.limit -= int64(len(buf))
	}
	return nil
}

func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
