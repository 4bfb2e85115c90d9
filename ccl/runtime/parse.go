package runtime

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/intercooperative-network/icn-go/ccl"
	"github.com/intercooperative-network/icn-go/ccl/wasmenc"
)

// funcType is a WebAssembly function signature.
type funcType struct {
	params, results []wasmenc.ValType
}

func (f funcType) equal(p, r []wasmenc.ValType) bool {
	return slices.Equal(f.params, p) && slices.Equal(f.results, r)
}

func (f funcType) String() string { return fmt.Sprintf("%v -> %v", f.params, f.results) }

// moduleImport is one entry of the import section.
type moduleImport struct {
	module, name string
	kind         byte // 0 func, 1 table, 2 memory, 3 global
	typ          funcType
}

// moduleInfo is what Load checks of a module: its imports, its exported
// functions' signatures, its memory and whether it has a start function.
type moduleInfo struct {
	imports   []moduleImport
	exports   map[string]funcType
	memMax    uint32
	hasMem    bool
	hasMemMax bool // false: the memory is unbounded
	hasStart  bool
}

// reader reads the binary format.
type reader struct {
	b   []byte
	off int
}

func (r *reader) errorf(format string, args ...any) error {
	return fmt.Errorf("at byte %d: %s", r.off, fmt.Sprintf(format, args...))
}

func (r *reader) byte() (byte, error) {
	if r.off >= len(r.b) {
		return 0, r.errorf("unexpected end")
	}
	c := r.b[r.off]
	r.off++
	return c, nil
}

func (r *reader) u32() (uint32, error) {
	var v uint64
	for shift := 0; shift < 35; shift += 7 {
		c, err := r.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c&0x80 == 0 {
			if v > 0xffffffff {
				return 0, r.errorf("u32 out of range")
			}
			return uint32(v), nil
		}
	}
	return 0, r.errorf("u32 too long")
}

func (r *reader) bytes(n uint32) ([]byte, error) {
	if uint64(r.off)+uint64(n) > uint64(len(r.b)) {
		return nil, r.errorf("unexpected end")
	}
	out := r.b[r.off : r.off+int(n)]
	r.off += int(n)
	return out, nil
}

func (r *reader) name() (string, error) {
	n, err := r.u32()
	if err != nil {
		return "", err
	}
	b, err := r.bytes(n)
	return string(b), err
}

func (r *reader) valTypes() ([]wasmenc.ValType, error) {
	n, err := r.u32()
	if err != nil {
		return nil, err
	}
	if n > 1000 {
		return nil, r.errorf("too many types")
	}
	out := make([]wasmenc.ValType, n)
	for i := range out {
		c, err := r.byte()
		if err != nil {
			return nil, err
		}
		out[i] = wasmenc.ValType(c)
	}
	return out, nil
}

// limits reads a memory or table's limits; max is 0 without a maximum.
func (r *reader) limits() (hasMax bool, max uint32, err error) {
	flag, err := r.byte()
	if err != nil {
		return false, 0, err
	}
	if _, err := r.u32(); err != nil {
		return false, 0, err
	}
	if flag&1 == 0 {
		return false, 0, nil
	}
	max, err = r.u32()
	return true, max, err
}

// parseModule reads the sections Load checks and skips the others.
func parseModule(b []byte) (*moduleInfo, error) {
	if len(b) < 8 || !bytes.Equal(b[:4], []byte("\x00asm")) || !bytes.Equal(b[4:8], []byte{1, 0, 0, 0}) {
		return nil, fmt.Errorf("not a WebAssembly 1.0 binary module")
	}
	info := &moduleInfo{exports: map[string]funcType{}}
	var types []funcType
	var funcs []uint32 // type index of every function, imports first
	type export struct {
		name  string
		index uint32
	}
	var exports []export
	r := &reader{b: b, off: 8}
	for r.off < len(b) {
		id, err := r.byte()
		if err != nil {
			return nil, err
		}
		size, err := r.u32()
		if err != nil {
			return nil, err
		}
		body, err := r.bytes(size)
		if err != nil {
			return nil, err
		}
		s := &reader{b: body}
		switch id {
		case 1: // type
			n, err := s.u32()
			if err != nil {
				return nil, err
			}
			for range n {
				if form, err := s.byte(); err != nil || form != 0x60 {
					return nil, fmt.Errorf("type section: not a function type")
				}
				p, err := s.valTypes()
				if err != nil {
					return nil, err
				}
				res, err := s.valTypes()
				if err != nil {
					return nil, err
				}
				types = append(types, funcType{p, res})
			}
		case 2: // import
			n, err := s.u32()
			if err != nil {
				return nil, err
			}
			for range n {
				var im moduleImport
				if im.module, err = s.name(); err != nil {
					return nil, err
				}
				if im.name, err = s.name(); err != nil {
					return nil, err
				}
				if im.kind, err = s.byte(); err != nil {
					return nil, err
				}
				switch im.kind {
				case 0:
					t, err := s.u32()
					if err != nil {
						return nil, err
					}
					if int(t) >= len(types) {
						return nil, fmt.Errorf("import %s.%s: no type %d", im.module, im.name, t)
					}
					im.typ = types[t]
					funcs = append(funcs, t)
				case 1:
					if _, err := s.byte(); err != nil {
						return nil, err
					}
					if _, _, err := s.limits(); err != nil {
						return nil, err
					}
				case 2:
					if _, _, err := s.limits(); err != nil {
						return nil, err
					}
				case 3:
					if _, err := s.bytes(2); err != nil {
						return nil, err
					}
				default:
					return nil, fmt.Errorf("import %s.%s: unknown kind %d", im.module, im.name, im.kind)
				}
				info.imports = append(info.imports, im)
			}
		case 3: // function
			n, err := s.u32()
			if err != nil {
				return nil, err
			}
			for range n {
				t, err := s.u32()
				if err != nil {
					return nil, err
				}
				if int(t) >= len(types) {
					return nil, fmt.Errorf("function section: no type %d", t)
				}
				funcs = append(funcs, t)
			}
		case 5: // memory
			n, err := s.u32()
			if err != nil {
				return nil, err
			}
			for range n {
				hasMax, max, err := s.limits()
				if err != nil {
					return nil, err
				}
				info.hasMem, info.hasMemMax, info.memMax = true, hasMax, max
			}
		case 7: // export
			n, err := s.u32()
			if err != nil {
				return nil, err
			}
			for range n {
				name, err := s.name()
				if err != nil {
					return nil, err
				}
				kind, err := s.byte()
				if err != nil {
					return nil, err
				}
				idx, err := s.u32()
				if err != nil {
					return nil, err
				}
				if kind == 0 {
					exports = append(exports, export{name, idx})
				}
			}
		case 8: // start
			info.hasStart = true
		}
	}
	for _, ex := range exports {
		if int(ex.index) >= len(funcs) {
			return nil, fmt.Errorf("export %q: no function %d", ex.name, ex.index)
		}
		info.exports[ex.name] = types[funcs[ex.index]]
	}
	return info, nil
}

// checkImports refuses any import but a function of the icn host table
// with its signature.
func checkImports(info *moduleInfo) error {
	for _, im := range info.imports {
		if im.module != ccl.HostModule {
			return &Error{Kind: KindForbiddenImport, Msg: fmt.Sprintf("%s.%s: only the %q host module is linked", im.module, im.name, ccl.HostModule)}
		}
		if im.kind != 0 {
			return &Error{Kind: KindForbiddenImport, Msg: fmt.Sprintf("%s.%s: not a function", im.module, im.name)}
		}
		h, ok := ccl.LookupHost(im.name)
		if !ok {
			return &Error{Kind: KindForbiddenImport, Msg: fmt.Sprintf("%s.%s: no such host function", im.module, im.name)}
		}
		if !im.typ.equal(h.WasmParams, h.WasmResults) {
			return &Error{Kind: KindForbiddenImport, Msg: fmt.Sprintf("%s.%s: signature %s, want %s", im.module, im.name, im.typ,
				funcType{h.WasmParams, h.WasmResults})}
		}
	}
	return nil
}
