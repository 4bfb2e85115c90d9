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
	// ExportStack is the stack budget left, a mutable i32 global.
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
	d, err := decode(src)
	if err != nil {
		return nil, err
	}
	nfuncs := uint64(d.importFuncs) + uint64(len(d.funcTypes))
	nglobals := uint64(d.importGlobal) + uint64(d.globals)
	if nfuncs >= 1<<27 || nglobals+4 >= 1<<27 || len(d.types) >= 1<<20 {
		return nil, &ModuleError{Offset: len(src), Reason: "too many functions, globals or types"}
	}
	w := &rewriter{src: src, types: d.types}
	w.g = globals{
		bank:      uint32(nglobals),
		chunk:     uint32(nglobals + 1),
		interrupt: uint32(nglobals + 2),
		stack:     uint32(nglobals + 3),
		refill:    uint32(nfuncs),
	}
	refillType := uint32(len(d.types))

	out := make([]byte, 0, len(src)*3/2+256)
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
			tmp = extend(tmp, src, sec, 4)
			tmp = append(tmp, byte(I64), 1, 0x42, 0x00, 0x0B)
			tmp = append(tmp, byte(I64), 1, 0x42, 0x00, 0x0B)
			tmp = append(tmp, byte(I32), 1, 0x41, 0x00, 0x0B)
			tmp = append(tmp, byte(I32), 1, 0x41)
			tmp = appendS64(tmp, StackBudget)
			tmp = append(tmp, 0x0B)
		case secType:
			tmp = extend(tmp, src, sec, 1)
			tmp = append(tmp, 0x60, 0x01, byte(I64), 0x01, byte(I64))
		case secFunction:
			tmp = extend(tmp, src, sec, 1)
			tmp = appendU32(tmp, refillType)
		case secMemory: // only when the module has none: memory.grow 0 is the yield
			tmp = append(tmp, 1, 0x00, 0x00)
		case secExport:
			n := uint32(4)
			if d.start >= 0 {
				n++
			}
			tmp = extend(tmp, src, sec, n)
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
			out, err = w.code(out, d, nil)
			return err
		}
		return nil
	}

	for i := range d.sections {
		sec := &d.sections[i]
		if sec.id != secCustom {
			if err := emitMissing(rank(sec.id)); err != nil {
				return nil, err
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
			if out, err = w.code(out, d, sec); err != nil {
				return nil, err
			}
		default:
			out = appendSection(out, sec.id, src[sec.start:sec.end])
		}
	}
	if err := emitMissing(rank(secData) + 1); err != nil {
		return nil, err
	}
	m := &Module{
		Binary:   out,
		Imports:  d.imports,
		Exports:  d.exports,
		Memory:   d.memory,
		HasStart: d.start >= 0,
	}
	return m, nil
}

// extend copies a vector section's payload with its count raised by n.
func extend(dst, src []byte, sec *section, n uint32) []byte {
	if sec == nil {
		return appendU32(dst, n)
	}
	r := &reader{b: src[:sec.end], off: sec.start}
	count, _ := r.u32() // decoded before
	dst = appendU32(dst, count+n)
	return append(dst, src[r.off:sec.end]...)
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
func (w *rewriter) code(out []byte, d *decoded, sec *section) ([]byte, error) {
	n := uint32(len(d.bodies)) + 1
	size := 64
	if sec != nil {
		size += (sec.end - sec.start) * 3 / 2
	}
	payload := make([]byte, 0, size)
	payload = appendU32(payload, n)
	var hdr []byte
	for i, b := range d.bodies {
		params := len(d.types[d.funcTypes[i]].Params)
		localsEnd, err := w.function(b.start, b.end, params)
		if err != nil {
			return nil, err
		}
		// locals header: one group count more each for L (i64) and Dl, S (i32)
		r := &reader{b: w.src[:b.end], off: b.start}
		groups, _ := r.u32()
		hdr = appendU32(hdr[:0], groups+2)
		hdr = append(hdr, w.src[r.off:localsEnd]...)
		hdr = append(hdr, 0x02, byte(I64), 0x02, byte(I32))
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
	A := u32Len(w.acc)
	switch s.kind {
	case segPlain, segLoop:
		if c == 0 {
			return 0
		}
		return 1 + A + 1 + s64Len(c) + 1 + 1 + A
	default:
		return 1 + u32Len(w.g.chunk) + 1 + s64Len(c) + 1 + w.checkTailLen()
	}
}

func (w *rewriter) checkTailLen() int { return w.tailLen }

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
		// A += c: charges accumulate apart from L, which back edges,
		// calls and exits update once (appendFold), so that a long chain
		// of dependent subtractions never sits on a loop's critical path.
		b = appendU32(append(b, 0x20), w.acc)
		b = appendS64(append(b, 0x42), c)
		b = append(b, 0x7C)
		return appendU32(append(b, 0x21), w.acc)
	default:
		b = appendU32(append(b, 0x23), w.g.chunk)
	}
	b = appendS64(append(b, 0x42), c)
	b = append(b, 0x7D)
	return w.appendCheckTail(b)
}
