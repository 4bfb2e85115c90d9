package fuel

import "strings"

// Names under which an instrumented module exports its metering state. No
// original export may start with reservedPrefix.
const (
	reservedPrefix = "__icn_"
	// ExportFuel is the fuel bank, a mutable i64 global: the fuel left is
	// its value plus ExportChunk's.
	ExportFuel = "__icn_fuel"
	// ExportChunk is the fuel handed to the running code, a mutable i64
	// global, current at every call and return.
	ExportChunk = "__icn_fuel_chunk"
	// ExportInterrupt is a mutable i32 global; non-zero makes the module
	// trap the next time it refills (at least every Chunk units).
	ExportInterrupt = "__icn_interrupt"
	// ExportStack is the stack budget left, a mutable i64 global.
	ExportStack = "__icn_stack"
	// ExportStart is the original start function, when there was one.
	ExportStart = "__icn_start"
)

// Instrument decodes a module, injects fuel metering and a deterministic
// call-depth limit, and re-encodes it. Anything it cannot decode, or does
// not support, is a *ModuleError (errors.Is(err, ErrInvalidModule)); it never
// panics. It checks structure, not types: a module whose function bodies
// are ill-typed comes out ill-typed, so validate the result (wazero's
// CompileModule does) before trusting it. For a module that validates, the
// result validates too, and behaves the same except that it burns fuel.
func Instrument(src []byte) (*Module, error) {
	m, _, err := instrument(src, false)
	return m, err
}

// instrument is Instrument; keepCharges leaves every charge in its own
// segment (see settle), and charges counts the subtractions written.
func instrument(src []byte, keepCharges bool) (m *Module, charges int, err error) {
	d, err := decode(src)
	if err != nil {
		return nil, 0, err
	}
	// The rewriter's globals, functions, type and locals come right after
	// the original's, which decode checked never names an index past its
	// own: no index shifts, and the original cannot reach them.
	nfuncs := uint64(d.nfuncs())
	nglobals := uint64(d.nglobals())
	if nfuncs+1+uint64(d.importFuncs) >= 1<<27 || nglobals+4 >= 1<<27 || len(d.types) >= 1<<20 {
		return nil, 0, &ModuleError{Offset: len(src), Reason: "too many functions, globals or types"}
	}
	w := &rewriter{src: src, d: d, types: d.types, keepCharges: keepCharges}
	w.g = globals{
		bank:      uint32(nglobals),
		chunk:     uint32(nglobals + 1),
		interrupt: uint32(nglobals + 2),
		stack:     uint32(nglobals + 3),
		refill:    uint32(nfuncs),
	}
	refillType := uint32(len(d.types))
	// The wrappers of host functions (host.go) follow the refill function.
	var wrapped []uint32 // the imports wrapped, in order
	for f, h := range d.importHost {
		if h >= 0 {
			if w.wrappers == nil {
				w.wrappers = make([]uint32, d.importFuncs)
			}
			w.wrappers[f] = uint32(nfuncs) + 1 + uint32(len(wrapped))
			wrapped = append(wrapped, uint32(f))
		}
	}

	out := make([]byte, 0, len(src)*2+256)
	out = append(out, src[:8]...)
	var tmp []byte

	emitted := map[byte]bool{}
	// emit writes a section that the output needs whether or not the input
	// had it.
	emit := func(id byte, sec *section) {
		emitted[id] = true
		tmp = tmp[:0]
		switch id {
		case secGlobal:
			tmp = w.extend(tmp, sec, 4)
			tmp = append(tmp, byte(I64), 1, 0x42, 0x00, 0x0B)
			tmp = append(tmp, byte(I64), 1, 0x42, 0x00, 0x0B)
			tmp = append(tmp, byte(I32), 1, 0x41, 0x00, 0x0B)
			tmp = append(tmp, byte(I64), 1, 0x42)
			tmp = appendS64(tmp, StackBudget)
			tmp = append(tmp, 0x0B)
		case secType:
			tmp = w.extend(tmp, sec, 1)
			tmp = append(tmp, 0x60, 0x01, byte(I64), 0x01, byte(I64))
		case secFunction:
			tmp = w.extend(tmp, sec, 1+uint32(len(wrapped)))
			tmp = appendU32(tmp, refillType)
			for _, f := range wrapped {
				tmp = appendU32(tmp, d.importTypes[f])
			}
		case secMemory: // only when the module has none: memory.grow 0 is the yield
			tmp = append(tmp, 1, 0x00, 0x00)
		case secExport:
			n := uint32(4)
			if d.start >= 0 {
				n++
			}
			tmp = w.extend(tmp, sec, n)
			tmp = appendExport(tmp, ExportFuel, KindGlobal, w.g.bank)
			tmp = appendExport(tmp, ExportChunk, KindGlobal, w.g.chunk)
			tmp = appendExport(tmp, ExportInterrupt, KindGlobal, w.g.interrupt)
			tmp = appendExport(tmp, ExportStack, KindGlobal, w.g.stack)
			if d.start >= 0 {
				tmp = appendExport(tmp, ExportStart, KindFunc, uint32(d.start))
			}
		}
		out = appendSection(out, id, tmp)
	}
	required := []byte{secType, secFunction, secGlobal, secExport}
	if d.importMems+d.mems == 0 {
		required = []byte{secType, secFunction, secMemory, secGlobal, secExport}
	}
	emitMissing := func(before int) error {
		for _, id := range required {
			if rank(id) < before && !emitted[id] {
				emit(id, nil)
			}
		}
		if rank(secCode) < before && !emitted[secCode] {
			emitted[secCode] = true
			var err error
			out, err = w.code(out, d, nil, wrapped)
			return err
		}
		return nil
	}

	for i := range d.sections {
		sec := &d.sections[i]
		if sec.id != secCustom {
			if err := emitMissing(rank(sec.id)); err != nil {
				return nil, 0, err
			}
		}
		switch sec.id {
		case secCustom:
			if strings.HasPrefix(sec.name, ".debug_") {
				continue // DWARF: its code offsets would be wrong
			}
			out = appendSection(out, secCustom, src[sec.start:sec.end])
		case secType, secFunction, secGlobal, secExport:
			emit(sec.id, sec)
		case secStart:
			// dropped: exported as ExportStart, called by the host once the
			// fuel is set
		case secCode:
			emitted[secCode] = true
			if out, err = w.code(out, d, sec, wrapped); err != nil {
				return nil, 0, err
			}
		case secElement:
			out = appendSection(out, secElement, w.copyPatched(tmp[:0], sec.start, sec.end))
		default:
			out = appendSection(out, sec.id, src[sec.start:sec.end])
		}
	}
	if err := emitMissing(rank(secData) + 1); err != nil {
		return nil, 0, err
	}
	m = &Module{
		Binary:   out,
		Imports:  d.imports,
		Exports:  d.exports,
		Memory:   d.memory,
		HasStart: d.start >= 0,
	}
	return m, w.charges, nil
}

// extend copies a vector section's payload with its count raised by n.
func (w *rewriter) extend(dst []byte, sec *section, n uint32) []byte {
	if sec == nil {
		return appendU32(dst, n)
	}
	r := &reader{b: w.src[:sec.end], off: sec.start}
	count, _ := r.u32() // decoded before
	dst = appendU32(dst, count+n)
	return w.copyPatched(dst, r.off, sec.end)
}

// copyPatched copies src[start:end], with each function index there that
// names a wrapped host function replaced by its wrapper's index.
func (w *rewriter) copyPatched(dst []byte, start, end int) []byte {
	refs := w.d.funcRefs
	for len(refs) > 0 && refs[0].start < start {
		refs = refs[1:]
	}
	for ; len(refs) > 0 && refs[0].end <= end; refs = refs[1:] {
		dst = append(dst, w.src[start:refs[0].start]...)
		dst = appendU32(dst, w.wrappers[refs[0].fn])
		start = refs[0].end
	}
	return append(dst, w.src[start:end]...)
}

func appendExport(b []byte, name string, kind ExternKind, idx uint32) []byte {
	b = appendU32(b, uint32(len(name)))
	b = append(b, name...)
	b = append(b, byte(kind))
	return appendU32(b, idx)
}

func appendSection(out []byte, id byte, payload []byte) []byte {
	out = append(out, id)
	out = appendU32(out, uint32(len(payload)))
	return append(out, payload...)
}

// code writes the rewritten code section.
func (w *rewriter) code(out []byte, d *decoded, sec *section, wrapped []uint32) ([]byte, error) {
	n := uint32(len(d.bodies)) + 1 + uint32(len(wrapped))
	size := 64
	if sec != nil {
		size += (sec.end - sec.start) * 5 / 2
	}
	payload := make([]byte, 0, size)
	payload = appendU32(payload, n)
	var hdr []byte
	for i, b := range d.bodies {
		ft := d.types[d.funcTypes[i]]
		localsEnd, err := w.function(b.start, b.end, ft)
		if err == nil && w.refills*len(w.renewals) > maxRenewals {
			w.noRenewals = true
			localsEnd, err = w.function(b.start, b.end, ft)
			w.noRenewals = false
		}
		if err != nil {
			return nil, err
		}
		// locals header: one group each more for L and Dl (i64), S
		// (i32) and the renewals' shadows (i64)
		r := &reader{b: w.src[:b.end], off: b.start}
		groups, _ := r.u32()
		extra := uint32(2)
		if w.nshadows > 0 {
			extra++
		}
		hdr = appendU32(hdr[:0], groups+extra)
		hdr = append(hdr, w.src[r.off:localsEnd]...)
		hdr = append(hdr, 0x02, byte(I64), 0x01, byte(I32))
		if w.nshadows > 0 {
			hdr = append(appendU32(hdr, w.nshadows), byte(I64))
		}
		size := len(hdr)
		for _, p := range w.pieces {
			size += w.pieceLen(p)
		}
		payload = appendU32(payload, uint32(size))
		payload = append(payload, hdr...)
		for _, p := range w.pieces {
			payload = w.appendPiece(payload, p)
		}
	}
	payload = w.appendRefillFunc(payload)
	for _, f := range wrapped {
		payload = w.appendHostWrapper(payload, f, hostFuncs[d.importHost[f]])
	}
	return appendSection(out, secCode, payload), nil
}

// appendRefillFunc appends the body of the refill function, which the
// checks call when a function's counter L goes negative:
//
//	(func $refill (param $l i64) (result i64)
//	  (drop (memory.grow (i32.const 0)))  ;; leaves compiled code: a safe point for Go
//	  (if (global.get $interrupt) (then unreachable))
//	  (local.set $l (i64.add (global.get $bank) (local.get $l)))  ;; the fuel left
//	  (if (i64.lt_s (local.get $l) (i64.const 0)) (then
//	    (global.set $chunk (local.get $l)) (global.set $bank (i64.const 0)) unreachable))
//	  (if (i64.gt_s (local.get $l) (i64.const Chunk))
//	    (then (global.set $bank (i64.sub (local.get $l) (i64.const Chunk))) (local.set $l (i64.const Chunk)))
//	    (else (global.set $bank (i64.const 0))))
//	  (global.set $chunk (local.get $l))
//	  (local.get $l))
func (w *rewriter) appendRefillFunc(payload []byte) []byte {
	g := w.g
	b := []byte{0x00} // no locals
	b = append(b, 0x41, 0x00, 0x40, 0x00, 0x1a)
	b = appendU32(append(b, 0x23), g.interrupt)
	b = append(b, 0x04, 0x40, 0x00, 0x0B)
	b = appendU32(append(b, 0x23), g.bank)
	b = append(b, 0x20, 0x00, 0x7C, 0x22, 0x00)
	b = append(b, 0x42, 0x00, 0x53, 0x04, 0x40)
	b = appendU32(append(b, 0x20, 0x00, 0x24), g.chunk)
	b = appendU32(append(b, 0x42, 0x00, 0x24), g.bank)
	b = append(b, 0x00, 0x0B)
	b = appendS64(append(b, 0x20, 0x00, 0x42), Chunk)
	b = append(b, 0x55, 0x04, 0x40) // i64.gt_s; if
	b = appendS64(append(b, 0x20, 0x00, 0x42), Chunk)
	b = appendU32(append(b, 0x7D, 0x24), g.bank)
	b = appendS64(append(b, 0x42), Chunk)
	b = append(b, 0x21, 0x00)
	b = appendU32(append(b, 0x05, 0x42, 0x00, 0x24), g.bank) // else
	b = append(b, 0x0B)
	b = appendU32(append(b, 0x20, 0x00, 0x24), g.chunk)
	b = append(b, 0x20, 0x00, 0x0B)
	payload = appendU32(payload, uint32(len(b)))
	return append(payload, b...)
}

func (w *rewriter) segCost(s segment) int64 {
	if s.kind != segPlain && s.cost < MinCheckCost {
		return MinCheckCost
	}
	return s.cost
}

func (w *rewriter) pieceLen(p piece) int {
	switch p.kind {
	case pieceCopy, pieceSnip:
		return p.b - p.a
	}
	s := w.segs[p.a]
	c := w.segCost(s)
	L := u32Len(w.local)
	switch s.kind {
	case segPlain, segLoop:
		if c == 0 {
			return 0
		}
		return 1 + L + 1 + s64Len(c) + 1 + 1 + L
	default:
		return 1 + u32Len(w.g.chunk) + 1 + s64Len(c) + 1 + w.entryTailLen()
	}
}

func (w *rewriter) entryTailLen() int { return w.entryTail[1] - w.entryTail[0] }

func (w *rewriter) appendPiece(b []byte, p piece) []byte {
	switch p.kind {
	case pieceCopy:
		return append(b, w.src[p.a:p.b]...)
	case pieceSnip:
		return append(b, w.snips[p.a:p.b]...)
	}
	s := w.segs[p.a]
	c := w.segCost(s)
	switch s.kind {
	case segPlain, segLoop:
		if c == 0 {
			return b
		}
		// L -= c
		w.charges++
		b = appendU32(append(b, 0x20), w.local)
		b = appendS64(append(b, 0x42), c)
		b = append(b, 0x7D)
		return appendU32(append(b, 0x21), w.local)
	default:
		b = appendU32(append(b, 0x23), w.g.chunk)
	}
	b = appendS64(append(b, 0x42), c)
	b = append(b, 0x7D)
	return append(b, w.snips[w.entryTail[0]:w.entryTail[1]]...)
}
