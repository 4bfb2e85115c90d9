package fuel

import (
	"fmt"
	"unicode/utf8"
)

// reader decodes the primitive encodings of the binary format from b.
// Offsets in errors are absolute offsets in the module.
type reader struct {
	b   []byte
	off int
}

func (r *reader) failf(format string, args ...any) error {
	return &ModuleError{Offset: r.off, Reason: fmt.Sprintf(format, args...)}
}

func (r *reader) failAt(off int, format string, args ...any) error {
	return &ModuleError{Offset: off, Reason: fmt.Sprintf(format, args...)}
}

func (r *reader) eof() bool { return r.off >= len(r.b) }

func (r *reader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, r.failf("unexpected end")
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

// zeroByte reads a reserved byte that must be 0 (memory index of MVP
// memory instructions; non-zero means multi-memory, which is not supported).
func (r *reader) zeroByte(what string) error {
	c, err := r.byte()
	if err != nil {
		return err
	}
	if c != 0 {
		return r.failAt(r.off-1, "%s: expected 0x00, got 0x%02x (multiple memories are not supported)", what, c)
	}
	return nil
}

func (r *reader) bytes(n uint32) ([]byte, error) {
	if uint64(n) > uint64(len(r.b)-r.off) {
		return nil, r.failf("length %d exceeds the %d bytes left", n, len(r.b)-r.off)
	}
	s := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return s, nil
}

// u32 reads an unsigned LEB128 of at most 32 bits.
func (r *reader) u32() (uint32, error) {
	var v uint32
	start := r.off
	for shift := uint(0); ; shift += 7 {
		if r.off >= len(r.b) {
			return 0, r.failAt(start, "unexpected end in an integer")
		}
		c := r.b[r.off]
		r.off++
		if shift == 28 {
			if c&0xf0 != 0 {
				return 0, r.failAt(start, "integer representation too long or too large")
			}
			return v | uint32(c)<<28, nil
		}
		v |= uint32(c&0x7f) << shift
		if c&0x80 == 0 {
			return v, nil
		}
	}
}

// sleb reads a signed LEB128 of at most bits bits (32, 33 or 64).
func (r *reader) sleb(bits uint) (int64, error) {
	var v int64
	start := r.off
	maxBytes := (bits + 6) / 7
	for i := uint(0); ; i++ {
		if r.off >= len(r.b) {
			return 0, r.failAt(start, "unexpected end in an integer")
		}
		c := r.b[r.off]
		r.off++
		shift := 7 * i
		if i == maxBytes-1 {
			if c&0x80 != 0 {
				return 0, r.failAt(start, "integer representation too long")
			}
			// The unused bits of the last byte must all equal the sign bit.
			used := bits - shift // value bits in this byte, including the sign
			if used < 7 {
				rest := int8(c<<1) >> (used) // sign-extend bits [used-1, 6]
				if rest != 0 && rest != -1 {
					return 0, r.failAt(start, "integer too large")
				}
			}
			v |= int64(c&0x7f) << shift
			if shift+7 < 64 && c&0x40 != 0 {
				v |= -1 << (shift + 7)
			}
			return v, nil
		}
		v |= int64(c&0x7f) << shift
		if c&0x80 == 0 {
			if shift+7 < 64 && c&0x40 != 0 {
				v |= -1 << (shift + 7)
			}
			return v, nil
		}
	}
}

func (r *reader) name() (string, error) {
	n, err := r.u32()
	if err != nil {
		return "", err
	}
	start := r.off
	b, err := r.bytes(n)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(b) {
		return "", r.failAt(start, "name is not valid UTF-8")
	}
	return string(b), nil
}

// count reads a vector length and rejects one that cannot fit in the bytes
// left, each element taking at least minSize bytes.
func (r *reader) count(what string, minSize int) (uint32, error) {
	start := r.off
	n, err := r.u32()
	if err != nil {
		return 0, err
	}
	if uint64(n)*uint64(minSize) > uint64(len(r.b)-r.off) {
		return 0, r.failAt(start, "%s count %d exceeds the bytes left", what, n)
	}
	return n, nil
}
