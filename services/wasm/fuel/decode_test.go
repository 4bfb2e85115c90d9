package fuel_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/intercooperative-network/icn-go/services/wasm/fuel"
)

// mod assembles a module from sections given as (id, payload) pairs.
func mod(sections ...[]byte) []byte {
	b := []byte("\x00asm\x01\x00\x00\x00")
	for _, s := range sections {
		b = append(b, s...)
	}
	return b
}

func sec(id byte, payload ...byte) []byte {
	if len(payload) > 127 {
		panic("payload too long for this helper")
	}
	return append([]byte{id, byte(len(payload))}, payload...)
}

// oneFunc is a module with one function () -> () whose body is body
// (locals declaration included) .
func oneFunc(body ...byte) []byte {
	return mod(
		sec(1, 1, 0x60, 0, 0),
		sec(3, 1, 0),
		sec(10, append([]byte{1, byte(len(body))}, body...)...),
	)
}

func TestInstrumentRejects(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     []byte
		offset int
		reason string
	}{
		{"empty", nil, 0, "bad magic"},
		{"bad magic", []byte("\x00asn\x01\x00\x00\x00"), 0, "bad magic"},
		{"component", []byte("\x00asm\x0d\x00\x01\x00"), 4, "unsupported binary version"},
		{"truncated section", mod([]byte{1, 5, 1}), 10, "exceeds"},
		{"unknown section", mod(sec(14, 0)), 8, "unknown section id 14"},
		{"tag section", mod(sec(13, 0)), 8, "exception handling"},
		{"out of order", mod(sec(3, 0), sec(1, 0)), 11, "out of order"},
		{"repeated", mod(sec(1, 0), sec(1, 0)), 11, "out of order"},
		{"overlong u32", mod(sec(1, 0x80, 0x80, 0x80, 0x80, 0x80, 0)), 10, "too long"},
		{"u32 too large", mod(sec(1, 0xff, 0xff, 0xff, 0xff, 0x7f)), 10, "too large"},
		{"huge count", mod(sec(1, 0xff, 0xff, 0xff, 0xff, 0x0f)), 10, "exceeds the bytes left"},
		{"gc type", mod(sec(1, 1, 0x5f, 0, 0)), 11, "not a function type"},
		{"v128 param", mod(sec(1, 1, 0x60, 1, 0x7b, 0)), 13, "SIMD"},
		{"bad utf8 import", mod(sec(1, 0), sec(2, 1, 1, 0xff, 0, 0, 0)), 15, "UTF-8"},
		{"import type out of range", mod(sec(2, 1, 1, 'a', 1, 'b', 0, 5)), 16, "out of range"},
		{"shared memory", mod(sec(5, 1, 3, 1, 2)), 11, "shared memory"},
		{"memory64", mod(sec(5, 1, 4, 1)), 11, "64-bit"},
		{"max below min", mod(sec(5, 1, 1, 2, 1)), 11, "below minimum"},
		{"two memories", mod(sec(5, 2, 0, 1, 0, 1)), 15, "multiple memories"},
		{"reserved export", mod(sec(7, 1, 10, '_', '_', 'i', 'c', 'n', '_', 'f', 'u', 'e', 'l', 3, 0)), 11, "reserved prefix"},
		{"bad const expr", mod(sec(6, 1, 0x7f, 0, 0x20, 0, 0x0b)), 13, "not allowed in a constant expression"},
		{"function without body", mod(sec(1, 1, 0x60, 0, 0), sec(3, 1, 0)), 18, "code section has 0 bodies"},
		{"type index out of range", mod(sec(1, 1, 0x60, 0, 0), sec(3, 1, 7), sec(10, 1, 2, 0, 0x0b)), 22, "type index 7"},
		{"simd opcode", oneFunc(0, 0xfd, 0x0c, 0x0b), 23, "SIMD"},
		{"atomics", oneFunc(0, 0xfe, 0x00, 0x0b), 23, "atomic"},
		{"try", oneFunc(0, 0x06, 0x40, 0x0b, 0x0b), 23, "exception handling"},
		{"tail call", oneFunc(0, 0x12, 0x00, 0x0b), 23, "tail calls"},
		{"unknown 0xfc", oneFunc(0, 0xfc, 18, 0x0b), 24, "0xfc 18"},
		{"unknown opcode", oneFunc(0, 0xc5, 0x0b), 23, "unknown opcode 0xc5"},
		{"branch too deep", oneFunc(0, 0x0c, 1, 0x0b), 23, "branch depth 1"},
		{"body ends early", oneFunc(0, 0x02, 0x40, 0x0b), 26, "ends inside a block"},
		{"bytes after end", oneFunc(0, 0x0b, 0x01), 24, "after the end"},
		{"else without if", oneFunc(0, 0x05, 0x0b), 23, "else without if"},
		{"multi-memory memarg", oneFunc(0, 0x41, 0, 0x28, 0x40, 0, 0, 0x1a, 0x0b), 26, "multiple memories"},
		{"memory.grow index", oneFunc(0, 0x41, 0, 0x40, 1, 0x1a, 0x0b), 26, "multiple memories"},
		{"too many locals", oneFunc(1, 0xff, 0xff, 0x03, 0x7f, 0x0b), 26, "more than 50000 locals"},
		{"bad block type", oneFunc(0, 0x02, 0x80, 0x7f, 0x0b, 0x0b), 24, "bad block type"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := fuel.Instrument(tc.in)
			if err == nil {
				t.Fatalf("accepted: %x", m.Binary)
			}
			if !errors.Is(err, fuel.ErrInvalidModule) {
				t.Fatalf("error %v does not match ErrInvalidModule", err)
			}
			me, ok := errors.AsType[*fuel.ModuleError](err)
			if !ok {
				t.Fatalf("error %T is not a *ModuleError", err)
			}
			if me.Offset != tc.offset || !strings.Contains(me.Reason, tc.reason) {
				t.Fatalf("got offset %d reason %q, want %d and %q", me.Offset, me.Reason, tc.offset, tc.reason)
			}
		})
	}
}

// TestInstrumentAccepts: small valid modules the decoder must pass.
func TestInstrumentAccepts(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty module", mod()},
		{"custom only", mod(sec(0, 3, 'a', 'b', 'c', 9, 9))},
		{"padded u32", mod(sec(1, 0x80, 0x80, 0x80, 0x80, 0x00))},
		{"empty body", oneFunc(0, 0x0b)},
		{"dead code after br", oneFunc(0, 0x02, 0x40, 0x0c, 0, 0x41, 1, 0x1a, 0x0b, 0x0b)},
		{"loop in dead code", oneFunc(0, 0x00, 0x03, 0x40, 0x0c, 0, 0x0b, 0x0b)},
		{"return from if", oneFunc(0, 0x41, 1, 0x04, 0x40, 0x0f, 0x05, 0x0c, 1, 0x0b, 0x0b)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := fuel.Instrument(tc.in); err != nil {
				t.Fatal(err)
			}
		})
	}
}
