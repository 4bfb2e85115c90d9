package fuel

// This file rewrites function bodies. See the package doc for the scheme.

type segKind uint8

const (
	segPlain segKind = iota // L -= cost
	segLoop                 // L -= max(cost, MinCheckCost), at a loop header
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
	results   int  // number of block results
	base      int  // operand stack height below the block's parameters
	loop      int  // a loop's index in rewriter.loops
	id        int  // its index in rewriter.merges
	thenEnd   int  // an else's then-arm's last segment, or -1
}

// globals are the indices the instrumentation added.
type globals struct {
	bank, chunk, interrupt, stack uint32
	refill                        uint32 // function index
}

// rewriter holds buffers reused from one function to the next.
type rewriter struct {
	scratchBuf  []byte
	src         []byte
	d           *decoded
	types       []FuncType
	g           globals
	wrappers    []uint32 // per imported function: its wrapper's index, or 0 (host.go)
	pieces      []piece
	segs        []segment
	frames      []frame
	snips       []byte
	keepCharges bool // settle moves nothing (tests compare)
	charges     int  // the charges (L -= c) written, for tests
	loops       []loopHeader
	entries     []loopEntry
	merges      []merge
	arrivals    []arrival
	targets     []int // the dispatch loops' br_table entries (loopHeader.targets)

	// settle's buffers
	arrivalAt, arrivalFrom, arrivalNext, mergeOf []int
	given                                        []int64
	arms                                         []int64
	armOf                                        []int

	// what the last instructions were (a dispatch header, x = constant)
	header    int // the loop whose header may still be a dispatch, or -1
	lastConst struct {
		ok bool
		v  uint32
	}
	lastSet constSet

	// per function
	local      uint32    // L: the function's fuel counter (i64)
	depthLoc   uint32    // the stack budget after this function's entry (i64)
	scratch    uint32    // an i32 scratch for dynamic costs
	nlocals    uint32    // the original's parameters and locals
	renewals   []renewal // what a refill renews (appendRenewals)
	refills    int       // the refill sites that renew them
	noRenewals bool      // set for a function with too many (maxRenewals)
	nshadows   uint32    // i64 locals added for renewals, after scratch
	h, maxH    int       // operand stack height, and its maximum so far
	depthAt    int       // index in pieces of the stack budget check
	entryTail  [2]int    // the entry's check, after its charge
	copied     int       // src offset up to which pieces cover the input
	cur        int       // current segment, -1 in unreachable code
	live       bool
	trapped    bool // the code went dead at an unreachable (not a branch or return)

	// snippet ranges in snips, per function
	snipCallBefore, snipCallAfter, snipExit [2]int
	snipGrow, snipBulk, snipTable           [2]int
	snipBackEdge                            [2]int
}

// Stack weight of what the instrumentation adds to a frame: four units
// for its locals (a fixed part of the cost model, whatever their number),
// and at most four operand stack slots above the original's.
const (
	injectedLocals = 4
	injectedStack  = 4
)

// maxRenewed is how many of a function's first locals a refill renews.
const maxRenewed = 32

// maxRenewals bounds a function's renewals (its refill sites times the
// locals each renews); a function over it has none, and its refills keep
// their cost on the hot path (see renewalWeight).
const maxRenewals = 512

// renewalWeight is the stack weight of the renewals of a function:
// refills refill sites that each renew n locals.
// wazero gives the values a renewal makes stack slots of their own, about
// 18 bytes per renewed local and site (measured on
// testdata/wat/deepframes.wat, before maxRenewals: a 22.6 KB frame for 40
// sites of 32, against 352 bytes bare). wazero stops a module whose stack
// outgrows 50 to 100 MB (its callStackCeiling, counted in bytes), about
// 12 bytes per unit of StackBudget; at 3 units a renewal (6 bytes a unit)
// the budget is still what a recursion reaches first, deterministically.
func renewalWeight(refills, n int) int64 { return 3 * int64(refills*n) }

// renewal is one local a refill gives a new value (appendRenewals).
type renewal struct {
	local  uint32
	typ    ValueType
	shadow uint32 // the i64 local an i32 or f32 goes through
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
	L, D := w.local, w.depthLoc
	S := w.scratch
	g := w.g

	b = appendU32(append(b[:0], 0x20), L)
	b = appendU32(append(b, 0x24), g.chunk)
	w.snipCallBefore = w.snip(b) // R = L
	w.snipExit = w.snipCallBefore

	b = appendU32(append(b[:0], 0x23), g.chunk) // global.get R
	b = appendU32(append(b, 0x21), L)           // local.set L
	b = appendU32(append(b, 0x20), D)           // local.get Dl
	b = appendU32(append(b, 0x24), g.stack)     // global.set D
	w.snipCallAfter = w.snip(b)

	// dyn charges in proportion to the i32 operand on top of the stack,
	// which it leaves there (and in S): scale turns it, as an i64, into
	// the charge.
	dyn := func(scale ...byte) []byte {
		b = appendU32(append(b[:0], 0x22), S) // local.tee S (the operand stays)
		b = appendU32(append(b, 0x20), L)     // local.get L
		b = appendU32(append(b, 0x20), S)     // local.get S
		b = append(b, 0xAD)                   // i64.extend_i32_u
		b = append(b, scale...)               // the charge
		b = append(b, 0x7D)                   // i64.sub
		return w.appendCheckTail(b)           // L = ...; refill if negative
	}
	b = appendU32(append(b[:0], 0x22), L)
	b = append(b, 0x42, 0x00, 0x53, 0x04, 0x40)
	// An entry's refill renews nothing: no loop carries a value across it,
	// and renewing the parameters made them phis, stored on the hot path
	// of every call (a call-bound fib went from 1.45x to 1.7x).
	b = append(w.appendRefillBody(b, nil), 0x0B)
	w.entryTail = w.snip(b)
	w.snipBackEdge = w.snip(w.appendRefillIf(appendU32(append(b[:0], 0x20), L)))
	// memory.grow: the counter goes to the chunk too, so that the host,
	// which stops the run when the grow goes over its limit, reads the
	// exact fuel used.
	b = dyn(append(appendS64([]byte{0x42}, GrowPageShift), 0x86)...) // i64.const shift; i64.shl
	b = appendU32(append(b, 0x20), L)
	b = appendU32(append(b, 0x24), g.chunk)
	w.snipGrow = w.snip(b)
	w.snipBulk = w.snip(dyn(append(appendS64([]byte{0x42}, BulkByteShift), 0x88)...)) // i64.shr_u
	if CostTableElem == 1 {
		w.snipTable = w.snip(dyn())
	} else {
		w.snipTable = w.snip(dyn(append(appendS64([]byte{0x42}, CostTableElem), 0x7E)...)) // i64.mul
	}
}

// depthCheck returns the stack budget check of a function entry, for a
// frame of weight w:
//
//	(local.set $Dl (i64.sub (global.get $D) (i64.const w))) (global.set $D (local.get $Dl))
//	(if (i64.lt_s (local.get $Dl) (i64.const 0)) (then unreachable))
//
// The budget and Dl are i64s: wazero packs the stack slots of spilled
// values without aligning them, so a 4-byte slot that the instrumentation
// adds (Dl lives across every call) misaligns every 8-byte one after it.
func (w *rewriter) depthCheck(weight int64) [2]int {
	s := len(w.snips)
	b := appendU32(append(w.snips, 0x23), w.g.stack) // global.get D
	b = appendS64(append(b, 0x42), weight)           // i64.const w
	b = append(b, 0x7D)                              // i64.sub
	b = appendU32(append(b, 0x22), w.depthLoc)       // local.tee Dl
	b = appendU32(append(b, 0x24), w.g.stack)        // global.set D
	b = appendU32(append(b, 0x20), w.depthLoc)       // local.get Dl
	b = append(b, 0x42, 0x00, 0x53)                  // i64.const 0; i64.lt_s
	w.snips = append(b, 0x04, 0x40, 0x00, 0x0B)      // if unreachable end
	return [2]int{s, len(w.snips)}
}

// tableGrowCap goes between the charge of a table.grow on table x and the
// instruction: it replaces the delta by -1 (0xFFFFFFFF, a grow that fails
// and returns -1) when the table would exceed MaxTableElements.
//
//	(select (i32.const -1) (local.get $S)
//	  (i64.gt_u (i64.add (i64.extend_i32_u (local.get $S)) (i64.extend_i32_u (table.size x)))
//	            (i64.const MaxTableElements)))
func (w *rewriter) tableGrowCap(x uint32) [2]int {
	s := len(w.snips)
	b := append(w.snips, 0x1A, 0x41, 0x7F) // drop (the delta, kept in S); i32.const -1
	b = appendU32(append(b, 0x20), w.scratch)
	b = appendU32(append(b, 0x20), w.scratch)
	b = append(b, 0xAD)
	b = appendU32(append(b, 0xFC, 16), x) // table.size x
	b = append(b, 0xAD, 0x7C)             // i64.extend_i32_u; i64.add
	b = appendS64(append(b, 0x42), MaxTableElements)
	w.snips = append(b, 0x56, 0x1B) // i64.gt_u; select
	return [2]int{s, len(w.snips)}
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
	b = w.appendRefillBody(b, w.renewals)
	return append(b, 0x0B)
}

// appendRefillBody is the inside of appendRefillIf's if: L = refill(L),
// between the renewals of the function's locals (appendRenewals). The
// refill is a function (appendRefillFunc): the call sits on a cold path
// that never rejoins a loop's hot path, so it costs nothing there, and it
// keeps the injected code small (wazero compiles it all).
func (w *rewriter) appendRefillBody(b []byte, renew []renewal) []byte {
	b = appendRenewals(b, renew, true)
	// L + 0: the refill takes a value defined here, on the cold path. Given
	// L itself, where a loop header's charge moved away (settle) that is the
	// header's phi, which wazero would then keep in a stack slot, stored on
	// every trip.
	b = appendU32(append(b, 0x20), w.local)
	b = append(b, 0x42, 0x00, 0x7C) // i64.const 0; i64.add
	b = appendU32(append(b, 0x10), w.g.refill)
	b = appendU32(append(b, 0x21), w.local)
	return appendRenewals(b, renew, false)
}

// appendRenewals gives the function's first maxRenewed locals new values,
// bit for bit the same, around a refill: before the call (before) each
// i64 becomes itself + 0, each f64 goes through its bits, and each i32 and
// f32 moves, widened, into an i64 shadow local; after it, the shadows move
// back.
//
// Why: wazero's register allocator stores a value that lives across a
// call on the stack where the value is defined, and a value merged at a
// block start (a phi) at every definition. A refill is a call, so without
// renewals every value carried round a loop, which lives across the
// loop's refill, would be stored on every trip, in the hot path. Renewed,
// the values that live across the refill are defined on the cold path,
// and so are their stores. The shadows keep the slots of i32 and f32
// values, which would be 4 bytes, from misaligning the 8-byte slots after
// them (see depthCheck).
func appendRenewals(b []byte, renew []renewal, before bool) []byte {
	for _, r := range renew {
		if before {
			b = appendU32(append(b, 0x20), r.local)
			switch r.typ {
			case I64:
				b = append(b, 0x42, 0x00, 0x7C) // i64.const 0; i64.add
			case F64:
				b = append(b, 0xBD, 0xBF) // i64.reinterpret_f64; f64.reinterpret_i64
			case I32:
				b = appendU32(append(b, 0xAD, 0x21), r.shadow) // i64.extend_i32_u; local.set T
				continue
			case F32:
				b = appendU32(append(b, 0xBC, 0xAD, 0x21), r.shadow) // i32.reinterpret_f32; ...
				continue
			}
			b = appendU32(append(b, 0x21), r.local)
			continue
		}
		switch r.typ {
		case I32:
			b = appendU32(append(b, 0x20), r.shadow)
			b = appendU32(append(b, 0xA7, 0x21), r.local) // i32.wrap_i64; local.set
		case F32:
			b = appendU32(append(b, 0x20), r.shadow)
			b = appendU32(append(b, 0xA7, 0xBE, 0x21), r.local) // ...; f32.reinterpret_i32
		}
	}
	return b
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

// insertRefill inserts a snippet that may refill, renewing the locals.
func (w *rewriter) insertRefill(at int, s [2]int) {
	w.refills++
	w.insert(at, s)
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
	w.trapped = false
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
// allocator from reloading the loop's values on every iteration. The
// hot path is the if's then-arm, which wazero lays out next, so that it
// falls through the check rather than jumping over the refill; the
// original br follows:
//
//	(if (i64.ge_s (local.get L) (i64.const 0)) (then (br l+1))) <refill>
func (w *rewriter) backEdge(at int, l uint32) {
	w.refills++
	s := len(w.snips)
	b := appendU32(append(w.snips, 0x20), w.local)
	b = append(b, 0x42, 0x00, 0x59, 0x04, 0x40) // i64.const 0; i64.ge_s; if
	b = appendU32(append(b, 0x0C), l+1)
	b = append(b, 0x0B)
	w.snips = w.appendRefillBody(b, w.renewals)
	w.insert(at, [2]int{s, len(w.snips)})
}

// backEdgeIf replaces `br_if l` (l a loop without parameters) at
// src[at:next] with the same, checked:
//
//	(if (then (if (i64.ge_s (local.get L) (i64.const 0)) (then (br l+2))) <refill> (br l+1)))
func (w *rewriter) backEdgeIf(at, next int, l uint32) {
	w.refills++
	s := len(w.snips)
	b := append(w.snips, 0x04, 0x40)
	b = appendU32(append(b, 0x20), w.local)
	b = append(b, 0x42, 0x00, 0x59, 0x04, 0x40) // i64.const 0; i64.ge_s; if
	b = appendU32(append(b, 0x0C), l+2)
	b = append(b, 0x0B)
	b = w.appendRefillBody(b, w.renewals)
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
		w.insertRefill(at, w.snipBackEdge)
	}
}

// pop and push track the operand stack height (for the frame's weight).
// Below the current block's base the stack is polymorphic (unreachable
// code) or the module is ill-typed (which validation rejects): either
// way the height stays at the base.
func (w *rewriter) pop(n int) {
	w.h -= n
	if base := w.frames[len(w.frames)-1].base; w.h < base {
		w.h = base
	}
}

func (w *rewriter) push(n int) {
	w.h += n
	w.maxH = max(w.maxH, w.h)
}

// polymorphic: after an unconditional branch the block's stack is empty.
func (w *rewriter) polymorphic() { w.h = w.frames[len(w.frames)-1].base }

// replace puts snippet bytes b in place of the instruction at src[at:next].
func (w *rewriter) replace(at, next int, b []byte) {
	s := len(w.snips)
	w.snips = append(w.snips, b...)
	w.insert(at, [2]int{s, len(w.snips)})
	w.copied = next
}

// funcRef reads a function index in code and, when it names a wrapped host
// function, makes the output name the wrapper.
func (w *rewriter) funcRef(r *reader, at int, op byte) (uint32, error) {
	f, err := r.index("function", w.d.nfuncs())
	if err != nil {
		return 0, err
	}
	if f < uint32(len(w.wrappers)) && w.wrappers[f] != 0 {
		w.replace(at, r.off, appendU32([]byte{op}, w.wrappers[f]))
	}
	return f, nil
}

func (w *rewriter) needMemory(r *reader, at int, what string) error {
	if !w.d.hasMemory() {
		return r.failAt(at, "%s but no memory", what)
	}
	return nil
}

func (w *rewriter) dataIndex(r *reader) error {
	at := r.off
	if !w.d.hasDataCount {
		return r.failAt(at, "memory.init or data.drop without a data count section")
	}
	_, err := r.index("data segment", w.d.dataCount)
	return err
}

// addRenewal records that refills renew local k of type t, if it is one
// of the first maxRenewed and of a type they renew.
func (w *rewriter) addRenewal(k uint32, t ValueType) {
	if k >= maxRenewed {
		return
	}
	switch t {
	case I32, I64, F32, F64:
		w.renewals = append(w.renewals, renewal{local: k, typ: t})
	}
}

// function rewrites one body (src[start:end], after its size) of type ft
// into w.pieces. It returns the body's locals header end offset.
func (w *rewriter) function(start, end int, ft FuncType) (localsEnd int, err error) {
	r := &reader{b: w.src[:end], off: start}
	w.pieces = w.pieces[:0]
	w.segs = w.segs[:0]
	w.frames = w.frames[:0]
	w.loops = w.loops[:0]
	w.entries = w.entries[:0]
	w.merges = w.merges[:0]
	w.arrivals = w.arrivals[:0]
	w.targets = w.targets[:0]
	w.header = -1
	w.lastConst.ok, w.lastSet.ok = false, false

	groups, err := r.count("local group", 2)
	if err != nil {
		return 0, err
	}
	total := uint64(len(ft.Params))
	w.renewals = w.renewals[:0]
	w.refills = 0
	for i, t := range ft.Params {
		w.addRenewal(uint32(i), t)
	}
	for range groups {
		n, err := r.u32()
		if err != nil {
			return 0, err
		}
		first := total
		total += uint64(n)
		if total > maxLocals {
			return 0, r.failf("more than %d locals", maxLocals)
		}
		t, err := r.valueType()
		if err != nil {
			return 0, err
		}
		for k := first; k < min(total, maxRenewed); k++ {
			w.addRenewal(uint32(k), t)
		}
	}
	localsEnd = r.off
	w.nlocals = uint32(total)
	w.local = uint32(total)
	w.depthLoc = w.local + 1
	w.scratch = w.local + 2
	if w.noRenewals {
		w.renewals = w.renewals[:0]
	}
	w.nshadows = 0
	for i := range w.renewals {
		if t := w.renewals[i].typ; t == I32 || t == F32 {
			w.renewals[i].shadow = w.scratch + 1 + w.nshadows
			w.nshadows++
		}
	}
	w.h, w.maxH = 0, 0
	w.prepare()

	w.copied = r.off
	w.live = true
	w.frames = append(w.frames, frame{kind: frameFunc, entryLive: true, outerSeg: -1, results: len(ft.Results), id: -1, thenEnd: -1})
	w.open(r.off, segEntry)
	// The stack budget check: its weight is known at the end.
	w.depthAt = len(w.pieces)
	w.pieces = append(w.pieces, piece{kind: pieceSnip})

	for {
		at := r.off
		op, err := r.byte()
		if err != nil {
			return 0, r.failAt(at, "function body ends inside a block")
		}
		// Only the cases below that continue a dispatch header, or make
		// x = constant, keep these.
		header, set, prevConst := w.header, w.lastSet, w.lastConst
		w.header, w.lastSet.ok, w.lastConst.ok = -1, false, false
		switch op {
		case 0x00: // unreachable
			w.charge(CostBasic)
			w.insert(at, w.snipExit)
			w.dead()
			w.trapped = true
			w.polymorphic()
		case 0x01: // nop
		case 0x1A: // drop
			w.pop(1)
		case 0x02, 0x03, 0x04: // block, loop, if
			params, results, err := r.blockType(w.types)
			if err != nil {
				return 0, err
			}
			w.charge(cost(op))
			if op == 0x04 {
				w.pop(1)
			}
			w.pop(params) // the block's base is below its parameters
			f := frame{entryLive: w.live, outerSeg: w.cur, params: params, results: results, base: w.h, id: w.newMerge(), thenEnd: -1}
			w.h += params
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
			case 0x02:
				if header >= 0 && !w.loops[header].getX && params == 0 && results == 0 {
					w.header = header // a dispatch header's block
					w.loops[header].nblocks++
				}
			case 0x03:
				// The dispatch charges (settle) go before the loop.
				w.flush(at)
				table := len(w.pieces)
				w.pieces = append(w.pieces, piece{kind: pieceSnip})
				// Always charged, even in unreachable code: the minimum cost
				// guarantees that every cycle burns fuel.
				outer := w.cur
				w.open(r.off, segLoop)
				w.frames[len(w.frames)-1].loop = len(w.loops)
				w.header = len(w.loops)
				w.loops = append(w.loops, loopHeader{seg: w.cur, outer: outer, movable: f.entryLive && outer >= 0,
					table: table, firstID: len(w.merges)})
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
			if w.live {
				f.thenEnd = w.cur
			}
			w.live = f.entryLive
			w.h = f.base + f.params
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
				w.settle()
				weight := FrameBase + int64(w.nlocals) + injectedLocals + int64(w.maxH) + injectedStack +
					renewalWeight(w.refills, len(w.renewals))
				s := w.depthCheck(weight)
				w.pieces[w.depthAt] = piece{kind: pieceSnip, a: s[0], b: s[1]}
				return localsEnd, nil
			}
			w.h = f.base
			w.push(f.results)
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
			if back {
				w.enterLoop(l, set)
			} else if !exits {
				w.enterBlock(l, false)
			}
			w.dead()
			w.polymorphic()
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
			if back {
				w.enterLoopCond(l)
			} else if !exits {
				w.enterBlock(l, true)
			}
			w.charge(CostBasic)
			w.pop(1)
			if w.live {
				w.open(r.off, segPlain)
			}
		case 0x0E: // br_table
			n, err := r.count("br_table target", 1)
			if err != nil {
				return 0, err
			}
			exits, back := false, false
			var lh *loopHeader // the dispatch this br_table makes
			if header >= 0 && w.loops[header].getX && w.live {
				lh = &w.loops[header]
				lh.dispatch = true
				lh.targets[0] = len(w.targets)
			}
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
				id := w.frames[len(w.frames)-1-int(l)].id
				if lh != nil {
					lh.targets[1]++
					if id >= lh.firstID && id < lh.firstID+lh.nblocks {
						w.targets = append(w.targets, id)
						w.merges[id].dispatch = header
						continue
					}
					w.targets = append(w.targets, -1)
				}
				if b {
					w.enterLoopCond(l)
				} else if !e {
					w.enterBlock(l, true)
				}
			}
			w.branch(at, exits, back)
			w.charge(CostBrTable)
			w.dead()
			w.polymorphic()
		case 0x0F: // return
			w.insert(at, w.snipExit)
			w.charge(CostBasic)
			w.dead()
			w.polymorphic()
		case 0x10: // call
			w.insert(at, w.snipCallBefore)
			f, err := w.funcRef(r, at, op)
			if err != nil {
				return 0, err
			}
			ft := w.d.funcType(f)
			w.pop(len(ft.Params))
			w.push(len(ft.Results))
			w.charge(cost(op))
			w.insert(r.off, w.snipCallAfter)
		case 0x11: // call_indirect
			t, err := r.index("type", uint32(len(w.types)))
			if err != nil {
				return 0, err
			}
			if _, err := r.index("table", w.d.ntables()); err != nil {
				return 0, err
			}
			w.pop(1 + len(w.types[t].Params))
			w.push(len(w.types[t].Results))
			w.charge(cost(op))
			w.insert(at, w.snipCallBefore)
			w.insert(r.off, w.snipCallAfter)
		case 0x1B: // select
			w.pop(3)
			w.push(1)
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
			w.pop(3)
			w.push(1)
			w.charge(CostBasic)
		case 0x20, 0x21, 0x22: // local.get, local.set, local.tee
			x, err := r.index("local", w.nlocals)
			if err != nil {
				return 0, err
			}
			switch op {
			case 0x20:
				w.push(1)
				if header >= 0 && !w.loops[header].getX {
					w.header = header // a dispatch header's local.get x
					w.loops[header].getX, w.loops[header].x = true, x
				}
			case 0x21:
				w.pop(1)
				if prevConst.ok {
					w.lastSet = constSet{ok: true, x: x, v: prevConst.v}
				}
			}
			w.charge(CostBasic)
		case 0x23, 0x24: // global.get, global.set
			if _, err := r.index("global", w.d.nglobals()); err != nil {
				return 0, err
			}
			if op == 0x23 {
				w.push(1)
			} else {
				w.pop(1)
			}
			w.charge(CostBasic)
		case 0x25, 0x26: // table.get, table.set
			if _, err := r.index("table", w.d.ntables()); err != nil {
				return 0, err
			}
			if op == 0x25 {
				w.pop(1)
				w.push(1)
			} else {
				w.pop(2)
			}
			w.charge(CostBasic)
		case 0x3F: // memory.size
			if err := r.zeroByte("memory.size"); err != nil {
				return 0, err
			}
			if err := w.needMemory(r, at, "memory.size"); err != nil {
				return 0, err
			}
			w.push(1)
			w.charge(CostBasic)
		case 0x40: // memory.grow
			if err := r.zeroByte("memory.grow"); err != nil {
				return 0, err
			}
			if err := w.needMemory(r, at, "memory.grow"); err != nil {
				return 0, err
			}
			w.pop(1)
			w.push(1)
			w.charge(CostMemoryGrow)
			w.insertRefill(at, w.snipGrow)
		case 0x41:
			v, err := r.sleb(32)
			if err != nil {
				return 0, err
			}
			w.lastConst.ok, w.lastConst.v = true, uint32(v)
			w.push(1)
			w.charge(CostBasic)
		case 0x42:
			if _, err := r.sleb(64); err != nil {
				return 0, err
			}
			w.push(1)
			w.charge(CostBasic)
		case 0x43:
			if _, err := r.bytes(4); err != nil {
				return 0, err
			}
			w.push(1)
			w.charge(CostBasic)
		case 0x44:
			if _, err := r.bytes(8); err != nil {
				return 0, err
			}
			w.push(1)
			w.charge(CostBasic)
		case 0xD0: // ref.null
			if _, err := r.refType(); err != nil {
				return 0, err
			}
			w.push(1)
			w.charge(CostBasic)
		case 0xD1: // ref.is_null
			w.pop(1)
			w.push(1)
			w.charge(CostBasic)
		case 0xD2: // ref.func
			if _, err := w.funcRef(r, at, op); err != nil {
				return 0, err
			}
			w.push(1)
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
				if err := w.needMemory(r, at, "load or store"); err != nil {
					return 0, err
				}
				if op <= 0x35 { // load
					w.pop(1)
					w.push(1)
				} else {
					w.pop(2)
				}
				w.charge(CostMemoryAccess)
			case op >= 0x45 && op <= 0xC4: // numeric, sign extension
				if binary(op) {
					w.pop(2)
				} else {
					w.pop(1)
				}
				w.push(1)
				w.charge(cost(op))
			default:
				return 0, r.failAt(at, "%s", unsupported(op))
			}
		}
	}
}

// binary reports whether numeric instruction op (0x45–0xC4) takes two
// operands (comparisons and binary arithmetic); the others take one.
func binary(op byte) bool {
	switch {
	case op >= 0x46 && op <= 0x4F, op >= 0x51 && op <= 0x66,
		op >= 0x6A && op <= 0x78, op >= 0x7C && op <= 0x8A,
		op >= 0x92 && op <= 0x98, op >= 0xA0 && op <= 0xA6:
		return true
	}
	return false
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
	d := w.d
	elem := func() error {
		_, err := r.index("element segment", d.elemSegments)
		return err
	}
	table := func() (uint32, error) { return r.index("table", d.ntables()) }
	var pop, push int
	switch sub {
	case 0, 1, 2, 3, 4, 5, 6, 7: // saturating truncations
		pop, push = 1, 1
	case 8: // memory.init data 0
		if err := w.needMemory(r, at, "memory.init"); err != nil {
			return err
		}
		if err := w.dataIndex(r); err != nil {
			return err
		}
		if err := r.zeroByte("memory.init"); err != nil {
			return err
		}
		pop = 3
	case 9: // data.drop
		if err := w.dataIndex(r); err != nil {
			return err
		}
	case 10: // memory.copy 0 0
		if err := w.needMemory(r, at, "memory.copy"); err != nil {
			return err
		}
		if err := r.zeroByte("memory.copy"); err != nil {
			return err
		}
		if err := r.zeroByte("memory.copy"); err != nil {
			return err
		}
		pop = 3
	case 11: // memory.fill 0
		if err := w.needMemory(r, at, "memory.fill"); err != nil {
			return err
		}
		if err := r.zeroByte("memory.fill"); err != nil {
			return err
		}
		pop = 3
	case 12: // table.init elem table
		if err := elem(); err != nil {
			return err
		}
		if _, err := table(); err != nil {
			return err
		}
		pop = 3
	case 13: // elem.drop
		if err := elem(); err != nil {
			return err
		}
	case 14: // table.copy table table
		for range 2 {
			if _, err := table(); err != nil {
				return err
			}
		}
		pop = 3
	case 15, 16, 17: // table.grow, table.size, table.fill
		x, err := table()
		if err != nil {
			return err
		}
		switch sub {
		case 15:
			pop, push = 2, 1
			w.insertRefill(at, w.snipTable)
			w.insert(at, w.tableGrowCap(x))
		case 16:
			push = 1
		case 17:
			pop = 3
		}
	default:
		return r.failAt(subOff, "unknown instruction 0xfc %d", sub)
	}
	w.pop(pop)
	w.push(push)
	w.charge(costFC(sub))
	switch sub {
	case 8, 10, 11: // memory.init, memory.copy, memory.fill
		w.insertRefill(at, w.snipBulk)
	case 12, 14, 17: // table.init, table.copy, table.fill
		w.insertRefill(at, w.snipTable)
	}
	return nil
}

// blockType reads a block type and returns its numbers of parameters and
// results.
func (r *reader) blockType(types []FuncType) (params, results int, err error) {
	if r.off >= len(r.b) {
		return 0, 0, r.failf("unexpected end in a block type")
	}
	switch c := r.b[r.off]; {
	case c == 0x40:
		r.off++
		return 0, 0, nil
	case c&0xC0 == 0x40: // a one-byte negative s33: a value type
		_, err := r.valueType()
		return 0, 1, err
	}
	at := r.off
	v, err := r.sleb(33)
	if err != nil {
		return 0, 0, err
	}
	if v < 0 || v >= int64(len(types)) {
		return 0, 0, r.failAt(at, "bad block type %d", v)
	}
	return len(types[v].Params), len(types[v].Results), nil
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
		if !w.live && w.trapped && !f.targeted && f.entryLive && f.outerSeg >= 0 {
			// A guard (if cond { trap }), as checked arithmetic and bounds
			// checks compile to: only the false path reaches the end, so
			// what follows continues the segment before the if and is
			// charged with it. That overcharges only a run that traps.
			w.live, w.trapped, w.cur = true, false, f.outerSeg
			return
		}
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
		m := &w.merges[f.id]
		if w.live {
			m.fall = w.cur
			if w.cur < 0 {
				m.cond = true
			}
		}
		switch f.kind {
		case frameIf:
			// The false edge, from the segment before the if: that one
			// could take the charge only if the then-arm gave it back,
			// and a check in between (at a call) would see fuel missing
			// that the run did not use.
			if f.entryLive {
				m.cond = true
			}
		case frameElse:
			if f.thenLive {
				if f.thenEnd < 0 {
					m.cond = true
				} else {
					w.arrivals = append(w.arrivals, arrival{id: f.id, from: f.thenEnd})
				}
			}
		}
		w.live = true
		w.open(after, segPlain)
		m.seg = w.cur
	}
}
