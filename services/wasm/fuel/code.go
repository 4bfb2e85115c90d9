package fuel

// This file rewrites function bodies. See the package doc for the scheme.

type segKind uint8

const (
	segPlain segKind = iota // A += cost
	segLoop                 // A += max(cost, MinCheckCost), at a loop header
	segEntry                // L = R - max(cost, MinCheckCost); if L < 0 { refill }
)

type segment struct {
	kind segKind
	cost int64
}

type pieceKind uint8

const (
	pieceCopy   pieceKind = iota // src[a:b]
	pieceSnip                    // snips[a:b]
	pieceCharge                  // the charge of segment a
)

type piece struct {
	kind pieceKind
	a, b int
}

type frameKind uint8

const (
	frameFunc frameKind = iota
	frameBlock
	frameLoop
	frameIf
	frameElse
)

type frame struct {
	kind      frameKind
	entryLive bool // the frame's start is reachable
	thenLive  bool // an if's then-arm could fall through to its end
	targeted  bool // a reachable branch targets the frame's label
	outerSeg  int  // segment current when the frame began
	params    int  // number of block parameters
}

// globals are the indices the instrumentation added.
type globals struct {
	bank, chunk, interrupt, stack uint32
	refill                        uint32 // function index
}

// rewriter holds buffers reused from one function to the next.
type rewriter struct {
	scratchBuf []byte
	src        []byte
	types      []FuncType
	g          globals
	pieces     []piece
	segs       []segment
	frames     []frame
	snips      []byte

	// per function
	local    uint32 // L: the function's fuel counter (i64)
	acc      uint32 // A: charges not yet subtracted from L (i64)
	depthLoc uint32 // the stack budget after this function's entry (i32)
	scratch  uint32 // an i32 scratch for dynamic costs
	weight   int64
	tailLen  int
	copied   int // src offset up to which pieces cover the input
	cur      int // current segment, -1 in unreachable code
	live     bool

	// snippet ranges in snips, per function
	snipCallBefore, snipCallAfter, snipExit, snipDepth [2]int
	snipGrow, snipBulk, snipBackEdge                   [2]int
}

func (w *rewriter) snip(b []byte) [2]int {
	s := len(w.snips)
	w.snips = append(w.snips, b...)
	return [2]int{s, len(w.snips)}
}

func appendU32(b []byte, v uint32) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendS64(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
			return append(b, c)
		}
		b = append(b, c|0x80)
	}
}

func u32Len(v uint32) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func s64Len(v int64) int {
	n := 1
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v == 0 && c&0x40 == 0 || v == -1 && c&0x40 != 0 {
			return n
		}
		n++
	}
}

// prepare builds the function's fixed snippets.
func (w *rewriter) prepare() {
	w.snips = w.snips[:0]
	b := w.scratchBuf[:0]
	defer func() { w.scratchBuf = b[:0] }()
	L, A, D, S := w.local, w.acc, w.depthLoc, w.scratch
	g := w.g

	b = w.appendFolded(b[:0])
	b = appendU32(append(b, 0x24), g.chunk)
	w.snipCallBefore = w.snip(b) // R = L - A
	w.snipExit = w.snipCallBefore

	b = appendU32(append(b[:0], 0x23), g.chunk)   // global.get R
	b = appendU32(append(b, 0x21), L)             // local.set L
	b = appendU32(append(b, 0x42, 0x00, 0x21), A) // A = 0
	b = appendU32(append(b, 0x20), D)             // local.get Dl
	b = appendU32(append(b, 0x24), g.stack)       // global.set D
	w.snipCallAfter = w.snip(b)

	b = appendU32(append(b[:0], 0x23), g.stack) // global.get D
	b = appendS64(append(b, 0x41), w.weight)    // i32.const w
	b = append(b, 0x6B)                         // i32.sub
	b = appendU32(append(b, 0x22), D)           // local.tee Dl
	b = appendU32(append(b, 0x24), g.stack)     // global.set D
	b = appendU32(append(b, 0x20), D)           // local.get Dl
	b = append(b, 0x41, 0x00, 0x48)             // i32.const 0; i32.lt_s
	b = append(b, 0x04, 0x40, 0x00, 0x0B)       // if unreachable end
	w.snipDepth = w.snip(b)

	dyn := func(shiftOp byte, shift int64) []byte {
		b = appendU32(append(b[:0], 0x22), S) // local.tee S (the operand stays)
		b = w.appendFolded(b)                 // L - A
		b = appendU32(append(b, 0x20), S)     // local.get S
		b = append(b, 0xAD)                   // i64.extend_i32_u
		b = appendS64(append(b, 0x42), shift) // i64.const shift
		b = append(b, shiftOp, 0x7D)          // shl|shr_u; i64.sub
		b = appendU32(append(b, 0x21), L)     // local.set L
		return w.appendRefillIf(w.appendClearA(b))
	}
	w.tailLen = len(w.appendCheckTail(b[:0]))
	w.snipBackEdge = w.snip(w.appendRefillIf(w.appendFold(b[:0])))
	w.snipGrow = w.snip(dyn(0x86, GrowPageShift))
	w.snipBulk = w.snip(dyn(0x88, BulkByteShift))
}

// appendFolded pushes L - A, the counter with the pending charges.
func (w *rewriter) appendFolded(b []byte) []byte {
	b = appendU32(append(b, 0x20), w.local)
	b = appendU32(append(b, 0x20), w.acc)
	return append(b, 0x7D)
}

// appendFold folds the pending charges into L and pushes L:
// L = L - A; A = 0; L.
func (w *rewriter) appendFold(b []byte) []byte {
	b = appendU32(append(w.appendFolded(b), 0x21), w.local)
	return w.appendClearA(b)
}

// appendClearA clears A and pushes L: A = 0; L.
func (w *rewriter) appendClearA(b []byte) []byte {
	b = appendU32(append(b, 0x42, 0x00, 0x21), w.acc)
	return appendU32(append(b, 0x20), w.local)
}

// appendCheckTail stores the i64 on the stack in L and refills when it is
// negative (appendRefillIf).
func (w *rewriter) appendCheckTail(b []byte) []byte {
	b = appendU32(append(b, 0x22), w.local)
	return w.appendRefillIf(b)
}

// appendRefillIf takes L's value from the stack and refills when it is
// negative: (if (i64.lt_s L (i64.const 0)) (then (local.set L (call $refill (local.get L))))).
func (w *rewriter) appendRefillIf(b []byte) []byte {
	b = append(b, 0x42, 0x00, 0x53, 0x04, 0x40)
	b = w.appendRefillBody(b)
	return append(b, 0x0B)
}

// appendRefillBody is the inside of appendRefillIf's if: L = refill(L).
// The refill is a function (appendRefillFunc): the call sits on a cold
// path that never rejoins a loop's hot path, so it costs nothing there,
// and it keeps the injected code small (wazero compiles it all).
func (w *rewriter) appendRefillBody(b []byte) []byte {
	b = appendU32(append(b, 0x20), w.local)
	b = appendU32(append(b, 0x10), w.g.refill)
	return appendU32(append(b, 0x21), w.local)
}

func (w *rewriter) flush(upTo int) {
	if upTo > w.copied {
		w.pieces = append(w.pieces, piece{kind: pieceCopy, a: w.copied, b: upTo})
		w.copied = upTo
	}
}

// insert puts a snippet at src offset at (everything before at is copied
// first).
func (w *rewriter) insert(at int, s [2]int) {
	w.flush(at)
	w.pieces = append(w.pieces, piece{kind: pieceSnip, a: s[0], b: s[1]})
}

// open starts a segment whose charge goes at src offset at.
func (w *rewriter) open(at int, kind segKind) {
	w.flush(at)
	w.segs = append(w.segs, segment{kind: kind})
	w.cur = len(w.segs) - 1
	w.pieces = append(w.pieces, piece{kind: pieceCharge, a: w.cur})
}

func (w *rewriter) charge(c int64) {
	if w.live && w.cur >= 0 {
		w.segs[w.cur].cost += c
	}
}

// dead marks the rest of the current frame unreachable.
func (w *rewriter) dead() {
	w.live = false
	w.cur = -1
}

// target records a branch to relative depth l and reports whether it
// leaves the function, and whether it goes back to a loop header.
func (w *rewriter) target(r *reader, at int, l uint32) (exits, back bool, err error) {
	if uint64(l) >= uint64(len(w.frames)) {
		return false, false, r.failAt(at, "branch depth %d exceeds the %d enclosing blocks", l, len(w.frames))
	}
	f := &w.frames[len(w.frames)-1-int(l)]
	if w.live {
		f.targeted = true
	}
	return f.kind == frameFunc, f.kind == frameLoop, nil
}

// plainLoop reports whether relative depth l is a loop without parameters.
func (w *rewriter) plainLoop(l uint32) bool {
	f := &w.frames[len(w.frames)-1-int(l)]
	return f.kind == frameLoop && f.params == 0
}

// backEdge inserts the check of a back edge `br l` (l a loop without
// parameters), whose refill path jumps straight back to the loop header
// rather than rejoining the hot path: that keeps wazero's register
// allocator from reloading the loop's values on every iteration.
//
//	<fold: L -= A; A = 0> (if (i64.lt_s (local.get L) (i64.const 0)) (then <refill> (br l+1)))
func (w *rewriter) backEdge(at int, l uint32) {
	s := len(w.snips)
	b := w.appendFold(w.snips)
	b = append(b, 0x42, 0x00, 0x53, 0x04, 0x40)
	b = w.appendRefillBody(b)
	b = appendU32(append(b, 0x0C), l+1)
	w.snips = append(b, 0x0B)
	w.insert(at, [2]int{s, len(w.snips)})
}

// backEdgeIf replaces `br_if l` (l a loop without parameters) at
// src[at:next] with the same, checked:
//
//	(if (then <fold> (if (i64.lt_s (local.get L) (i64.const 0)) (then <refill> (br l+2))) (br l+1)))
func (w *rewriter) backEdgeIf(at, next int, l uint32) {
	s := len(w.snips)
	b := append(w.snips, 0x04, 0x40)
	b = w.appendFold(b)
	b = append(b, 0x42, 0x00, 0x53, 0x04, 0x40)
	b = w.appendRefillBody(b)
	b = appendU32(append(b, 0x0C), l+2)
	b = append(b, 0x0B)
	b = appendU32(append(b, 0x0C), l+1)
	w.snips = append(b, 0x0B)
	w.insert(at, [2]int{s, len(w.snips)})
	w.copied = next // the original br_if is replaced
}

// branch inserts what goes before a branch at src offset at.
func (w *rewriter) branch(at int, exits, back bool) {
	if exits {
		w.insert(at, w.snipExit)
	}
	if back {
		// Every cycle takes a back edge (or a call, checked at entry): the
		// check here is what stops an infinite loop.
		w.insert(at, w.snipBackEdge)
	}
}

// function rewrites one body (src[start:end], after its size) and returns
// the pieces and the new locals declaration appended to out's tail via the
// caller. It returns the body's locals header end offset.
func (w *rewriter) function(start, end int, params int) (localsEnd int, err error) {
	r := &reader{b: w.src[:end], off: start}
	w.pieces = w.pieces[:0]
	w.segs = w.segs[:0]
	w.frames = w.frames[:0]

	groups, err := r.count("local group", 2)
	if err != nil {
		return 0, err
	}
	total := uint64(params)
	for range groups {
		n, err := r.u32()
		if err != nil {
			return 0, err
		}
		total += uint64(n)
		if total > maxLocals {
			return 0, r.failf("more than %d locals", maxLocals)
		}
		if _, err := r.valueType(); err != nil {
			return 0, err
		}
	}
	localsEnd = r.off
	w.local = uint32(total)
	w.acc = w.local + 1
	w.depthLoc = w.local + 2
	w.scratch = w.local + 3
	w.weight = FrameBase + int64(total) + 4
	w.prepare()

	w.copied = r.off
	w.live = true
	w.frames = append(w.frames, frame{kind: frameFunc, entryLive: true, outerSeg: -1})
	w.open(r.off, segEntry)
	w.insert(r.off, w.snipDepth)

	for {
		at := r.off
		op, err := r.byte()
		if err != nil {
			return 0, r.failAt(at, "function body ends inside a block")
		}
		switch op {
		case 0x00: // unreachable
			w.charge(CostBasic)
			w.insert(at, w.snipExit)
			w.dead()
		case 0x01, 0x1A: // nop, drop
		case 0x02, 0x03, 0x04: // block, loop, if
			params, err := r.blockType(w.types)
			if err != nil {
				return 0, err
			}
			w.charge(cost(op))
			f := frame{entryLive: w.live, outerSeg: w.cur, params: params}
			switch op {
			case 0x02:
				f.kind = frameBlock
			case 0x03:
				f.kind = frameLoop
			case 0x04:
				f.kind = frameIf
			}
			w.frames = append(w.frames, f)
			switch op {
			case 0x03:
				// Always charged, even in unreachable code: the minimum cost
				// guarantees that every cycle burns fuel.
				w.open(r.off, segLoop)
			case 0x04:
				w.startArm(r.off)
			}
		case 0x05: // else
			f := &w.frames[len(w.frames)-1]
			if f.kind != frameIf {
				return 0, r.failAt(at, "else without if")
			}
			f.kind = frameElse
			f.thenLive = w.live
			w.live = f.entryLive
			w.startArm(r.off)
		case 0x0B: // end
			f := w.frames[len(w.frames)-1]
			w.frames = w.frames[:len(w.frames)-1]
			if f.kind == frameFunc {
				w.insert(at, w.snipExit)
				if r.off != end {
					return 0, r.failAt(r.off, "%d bytes after the end of the function body", end-r.off)
				}
				w.flush(end)
				return localsEnd, nil
			}
			w.endFrame(f, r.off)
		case 0x0C: // br
			l, err := r.u32()
			if err != nil {
				return 0, err
			}
			exits, back, err := w.target(r, at, l)
			if err != nil {
				return 0, err
			}
			if back && w.plainLoop(l) {
				w.backEdge(at, l)
			} else {
				w.branch(at, exits, back)
			}
			w.charge(CostBasic)
			w.dead()
		case 0x0D: // br_if
			l, err := r.u32()
			if err != nil {
				return 0, err
			}
			exits, back, err := w.target(r, at, l)
			if err != nil {
				return 0, err
			}
			if back && w.plainLoop(l) {
				w.backEdgeIf(at, r.off, l)
			} else {
				w.branch(at, exits, back)
			}
			w.charge(CostBasic)
			if w.live {
				w.open(r.off, segPlain)
			}
		case 0x0E: // br_table
			n, err := r.count("br_table target", 1)
			if err != nil {
				return 0, err
			}
			exits, back := false, false
			for i := uint32(0); i <= n; i++ {
				l, err := r.u32()
				if err != nil {
					return 0, err
				}
				e, b, err := w.target(r, at, l)
				if err != nil {
					return 0, err
				}
				exits, back = exits || e, back || b
			}
			w.branch(at, exits, back)
			w.charge(CostBrTable)
			w.dead()
		case 0x0F: // return
			w.insert(at, w.snipExit)
			w.charge(CostBasic)
			w.dead()
		case 0x10, 0x11: // call, call_indirect
			if _, err := r.u32(); err != nil {
				return 0, err
			}
			if op == 0x11 {
				if _, err := r.u32(); err != nil {
					return 0, err
				}
			}
			w.charge(cost(op))
			w.insert(at, w.snipCallBefore)
			w.insert(r.off, w.snipCallAfter)
		case 0x1B: // select
			w.charge(CostBasic)
		case 0x1C: // select t*
			n, err := r.count("select type", 1)
			if err != nil {
				return 0, err
			}
			for range n {
				if _, err := r.valueType(); err != nil {
					return 0, err
				}
			}
			w.charge(CostBasic)
		case 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26: // locals, globals, table.get/set
			if _, err := r.u32(); err != nil {
				return 0, err
			}
			w.charge(CostBasic)
		case 0x3F: // memory.size
			if err := r.zeroByte("memory.size"); err != nil {
				return 0, err
			}
			w.charge(CostBasic)
		case 0x40: // memory.grow
			if err := r.zeroByte("memory.grow"); err != nil {
				return 0, err
			}
			w.charge(CostMemoryGrow)
			w.insert(at, w.snipGrow)
		case 0x41:
			if _, err := r.sleb(32); err != nil {
				return 0, err
			}
			w.charge(CostBasic)
		case 0x42:
			if _, err := r.sleb(64); err != nil {
				return 0, err
			}
			w.charge(CostBasic)
		case 0x43:
			if _, err := r.bytes(4); err != nil {
				return 0, err
			}
			w.charge(CostBasic)
		case 0x44:
			if _, err := r.bytes(8); err != nil {
				return 0, err
			}
			w.charge(CostBasic)
		case 0xD0: // ref.null
			if _, err := r.refType(); err != nil {
				return 0, err
			}
			w.charge(CostBasic)
		case 0xD1: // ref.is_null
			w.charge(CostBasic)
		case 0xD2: // ref.func
			if _, err := r.u32(); err != nil {
				return 0, err
			}
			w.charge(CostBasic)
		case 0xFC:
			if err := w.prefixFC(r, at); err != nil {
				return 0, err
			}
		default:
			switch {
			case op >= 0x28 && op <= 0x3E: // loads and stores
				alignOff := r.off
				align, err := r.u32()
				if err != nil {
					return 0, err
				}
				if align >= 64 {
					return 0, r.failAt(alignOff, "memory index in memarg: multiple memories are not supported")
				}
				if _, err := r.u32(); err != nil {
					return 0, err
				}
				w.charge(CostMemoryAccess)
			case op >= 0x45 && op <= 0xC4: // numeric, sign extension
				w.charge(cost(op))
			default:
				return 0, r.failAt(at, "%s", unsupported(op))
			}
		}
	}
}

func unsupported(op byte) string {
	switch {
	case op >= 0x06 && op <= 0x0A, op == 0x18, op == 0x19, op == 0x1F:
		return "exception handling instructions are not supported"
	case op == 0x12, op == 0x13:
		return "tail calls are not supported"
	case op >= 0x14 && op <= 0x17, op >= 0xD3 && op <= 0xD6:
		return "typed function references are not supported"
	case op == 0xFB:
		return "GC instructions are not supported"
	case op == 0xFD:
		return "SIMD instructions are not supported"
	case op == 0xFE:
		return "atomic (threads) instructions are not supported"
	}
	return "unknown opcode 0x" + hex2(op)
}

func hex2(b byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&15]})
}

func (w *rewriter) prefixFC(r *reader, at int) error {
	subOff := r.off
	sub, err := r.u32()
	if err != nil {
		return err
	}
	switch sub {
	case 0, 1, 2, 3, 4, 5, 6, 7: // saturating truncations
	case 8: // memory.init data 0
		if _, err := r.u32(); err != nil {
			return err
		}
		if err := r.zeroByte("memory.init"); err != nil {
			return err
		}
	case 9, 13, 15, 16, 17: // data.drop, elem.drop, table.grow, table.size, table.fill
		if _, err := r.u32(); err != nil {
			return err
		}
	case 10: // memory.copy 0 0
		if err := r.zeroByte("memory.copy"); err != nil {
			return err
		}
		if err := r.zeroByte("memory.copy"); err != nil {
			return err
		}
	case 11: // memory.fill 0
		if err := r.zeroByte("memory.fill"); err != nil {
			return err
		}
	case 12, 14: // table.init elem table, table.copy table table
		if _, err := r.u32(); err != nil {
			return err
		}
		if _, err := r.u32(); err != nil {
			return err
		}
	default:
		return r.failAt(subOff, "unknown instruction 0xfc %d", sub)
	}
	w.charge(costFC(sub))
	if sub == 8 || sub == 10 || sub == 11 {
		w.insert(at, w.snipBulk)
	}
	return nil
}

// blockType reads a block type and returns its number of parameters.
func (r *reader) blockType(types []FuncType) (params int, err error) {
	if r.off >= len(r.b) {
		return 0, r.failf("unexpected end in a block type")
	}
	switch c := r.b[r.off]; {
	case c == 0x40:
		r.off++
		return 0, nil
	case c&0xC0 == 0x40: // a one-byte negative s33: a value type
		_, err := r.valueType()
		return 0, err
	}
	at := r.off
	v, err := r.sleb(33)
	if err != nil {
		return 0, err
	}
	if v < 0 || v >= int64(len(types)) {
		return 0, r.failAt(at, "bad block type %d", v)
	}
	return len(types[v].Params), nil
}

// startArm opens the segment of an if's then-arm or else-arm.
func (w *rewriter) startArm(at int) {
	if w.live {
		w.open(at, segPlain)
	} else {
		w.cur = -1
	}
}

// endFrame handles the end of a block, loop, if or else at src offset
// after (just past the end opcode).
func (w *rewriter) endFrame(f frame, after int) {
	var liveAfter, merge bool
	switch f.kind {
	case frameBlock:
		liveAfter = w.live || f.targeted
		merge = f.targeted
	case frameLoop:
		liveAfter = w.live
	case frameIf: // no else: the false path skips to the end
		liveAfter = w.live || f.entryLive || f.targeted
		merge = true
	case frameElse:
		liveAfter = w.live || f.thenLive || f.targeted
		merge = true
	}
	if !liveAfter {
		w.dead()
		return
	}
	if merge || !w.live {
		w.live = true
		w.open(after, segPlain)
	}
}
