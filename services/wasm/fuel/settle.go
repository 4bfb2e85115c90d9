package fuel

import "slices"

// This file moves charges out of the segments that a trip round a loop
// crosses and into the segments they are entered from, where that keeps
// the fuel used exactly the same. See "Charges that move" in the package
// doc.

// loopHeader is what decides whether a loop header's charge moves to the
// segments that enter it, and what makes a loop Go's dispatch loop.
type loopHeader struct {
	seg     int  // the header's segment
	outer   int  // the segment that falls into the loop, or -1
	movable bool // every branch to the header is a br from a live segment
	table   int  // index in pieces of the dispatch charges (a placeholder)

	// A dispatch loop starts with blocks, then local.get x and br_table:
	// Go's code jumps between its basic blocks by setting x to a constant
	// and branching to the loop.
	x        uint32 // the dispatch local, once local.get is seen
	getX     bool
	dispatch bool   // its header is a dispatch
	dynamic  bool   // something other than a br after x = constant enters it
	cycles   bool   // a jump goes back to a block that has ended (Go's loops)
	firstID  int    // the merge id of the first block of its header
	nblocks  int    // how many blocks its header opens
	targets  [2]int // its br_table's entries (the default last) in rewriter.targets
}

// dispatchTarget returns the merge id that entry e of loop lh's br_table names,
// or -1 for a frame outside its header.
func (w *rewriter) dispatchTarget(lh *loopHeader, e int) int { return w.targets[lh.targets[0]+e] }

// ntargets is the number of entries of loop lh's br_table.
func ntargets(lh *loopHeader) int { return lh.targets[1] - lh.targets[0] }

// loopEntry is a br from segment from to the header of loops[loop].
type loopEntry struct{ loop, from int }

// merge is what arrives at the segment that starts after a block's, an
// if's or an else's end.
type merge struct {
	seg      int  // the segment after the end, or -1 (none was opened)
	fall     int  // the segment that falls into it, or -1
	cond     bool // it may be entered by a branch that could go elsewhere
	dispatch int  // the dispatch loop whose br_table targets it, or -1
}

// arrival is an unconditional branch from segment from to merges[id]:
// a br, or a jump through a dispatch loop to one of its blocks.
type arrival struct{ id, from int }

// constSet is `i32.const v; local.set x`, the last two instructions.
type constSet struct {
	ok bool
	x  uint32
	v  uint32
}

// newMerge gives a frame being opened its merge record.
func (w *rewriter) newMerge() int {
	w.merges = append(w.merges, merge{seg: -1, fall: -1, dispatch: -1})
	return len(w.merges) - 1
}

// enterLoop records a br from the current segment to the loop at
// relative depth l; set is what the two instructions before it did.
func (w *rewriter) enterLoop(l uint32, set constSet) {
	k := w.frames[len(w.frames)-1-int(l)].loop
	if !w.live || w.cur < 0 {
		return
	}
	w.entries = append(w.entries, loopEntry{loop: k, from: w.cur})
	lh := &w.loops[k]
	if !lh.dispatch {
		return
	}
	if !set.ok || set.x != lh.x {
		lh.dynamic = true
		return
	}
	e := min(int(set.v), ntargets(lh)-1) // br_table's index is unsigned
	if id := w.dispatchTarget(lh, e); id >= 0 {
		w.arrivals = append(w.arrivals, arrival{id: id, from: w.cur})
		if w.merges[id].seg >= 0 {
			lh.cycles = true
		}
	}
}

// enterLoopCond records a br_if or br_table to the loop at relative
// depth l: its header's charge stays, and if it is a dispatch loop, so
// do its blocks'.
func (w *rewriter) enterLoopCond(l uint32) {
	lh := &w.loops[w.frames[len(w.frames)-1-int(l)].loop]
	lh.movable = false
	lh.dynamic = true
}

// enterBlock records a branch from the current segment to the end of the
// block, if or else at relative depth l; cond says it may go elsewhere.
func (w *rewriter) enterBlock(l uint32, cond bool) {
	if !w.live {
		return
	}
	id := w.frames[len(w.frames)-1-int(l)].id
	if cond || w.cur < 0 {
		w.merges[id].cond = true
		return
	}
	w.arrivals = append(w.arrivals, arrival{id: id, from: w.cur})
}

// settle moves charges, once the function's costs are all known.
//
// A loop header entered only by falling into the loop and by br to it
// gives its charge to the segments it is entered from (settleLoops).
// Then, from the last segment to the first, a segment that starts after
// a block's (or an if's, or an else's) end gives its charge, with
// everything given to it, to the segments that enter it, when each of
// them enters it as the last thing it does and comes before it:
//   - the segment that falls into it;
//   - each br to the block;
//   - each jump through a dispatch loop to the block (x = k; br loop),
//     and the loop's entry, which charges by the value x has there
//     (dispatchCharges).
//
// A segment that a branch may also reach from elsewhere (br_if,
// br_table) keeps its charge. A segment entered from a later one (a
// jump back, which in WebAssembly only a dispatch loop makes) gives its
// charge to that later segment too, which has given its own away
// already and keeps what it receives now: every cycle stays charged, at
// its jump back, and a tight Go loop pays one subtraction a trip.
func (w *rewriter) settle() {
	if w.keepCharges {
		return
	}
	w.settleLoops()
	for id := range w.merges {
		m := &w.merges[id]
		if m.dispatch >= 0 && (w.loops[m.dispatch].dynamic || !w.loops[m.dispatch].cycles) {
			m.cond = true
		}
	}
	// Group the arrivals by merge: the merges' order is their frames',
	// not their segments', so count, then place.
	n := len(w.merges)
	w.arrivalAt = zeroed(w.arrivalAt, n+1)
	for _, a := range w.arrivals {
		w.arrivalAt[a.id+1]++
	}
	for i := range n {
		w.arrivalAt[i+1] += w.arrivalAt[i]
	}
	w.arrivalFrom = zeroed(w.arrivalFrom, len(w.arrivals))
	next := append(w.arrivalNext[:0], w.arrivalAt[:n]...)
	for _, a := range w.arrivals {
		w.arrivalFrom[next[a.id]] = a.from
		next[a.id]++
	}
	w.arrivalNext = next
	// The merge whose segment is s, per segment.
	w.mergeOf = zeroed(w.mergeOf, len(w.segs))
	for s := range w.mergeOf {
		w.mergeOf[s] = -1
	}
	for id, m := range w.merges {
		if m.seg >= 0 {
			w.mergeOf[m.seg] = id
		}
	}
	w.given = zeroed(w.given, n)
	for s := len(w.segs) - 1; s >= 0; s-- {
		id := w.mergeOf[s]
		if id < 0 || !w.movable(id) {
			continue
		}
		m := w.merges[id]
		c := w.segCost(w.segs[s])
		w.segs[s].cost = 0
		w.given[id] = c
		if m.fall >= 0 {
			w.give(m.fall, c)
		}
		for _, from := range w.arrivalFrom[w.arrivalAt[id]:w.arrivalAt[id+1]] {
			w.give(from, c)
		}
		if m.dispatch >= 0 {
			lh := w.loops[m.dispatch]
			if lh.outer >= 0 && w.dispatchTarget(&lh, 0) == id {
				w.give(lh.outer, c) // x = 0, as when Go calls a function
			}
		}
	}
	for k := range w.loops {
		w.dispatchCharges(k)
	}
}

// movable reports whether merges[id]'s segment may give its charge away.
func (w *rewriter) movable(id int) bool {
	m := w.merges[id]
	if m.cond || w.segs[m.seg].kind != segPlain {
		return false
	}
	if m.fall >= m.seg {
		return false
	}
	for _, from := range w.arrivalFrom[w.arrivalAt[id]:w.arrivalAt[id+1]] {
		if from < 0 {
			return false
		}
	}
	if m.dispatch >= 0 && w.loops[m.dispatch].outer >= m.seg {
		return false
	}
	return m.fall >= 0 || w.arrivalAt[id+1] > w.arrivalAt[id] || m.dispatch >= 0
}

// give adds c to segment s's charge, a header's or an entry's minimum
// taken first, so that the minimum does not swallow it.
func (w *rewriter) give(s int, c int64) {
	w.segs[s].cost = w.segCost(w.segs[s]) + c
}

// settleLoops moves the charge of each loop header that is entered only
// by falling into the loop and by br to it into the segments it is
// entered from: a header is entered exactly when one of them is, as the
// last thing each does, so the fuel used stays the same, and the check
// at each br (which comes after the charge) sees the header paid. That
// takes a subtraction off every trip round a loop, and Go's code goes
// through its dispatch loop's header on every trip round its own loops.
// Only segments that are not loop headers receive these charges, so none
// moves twice.
func (w *rewriter) settleLoops() {
	for _, e := range w.entries {
		if w.segs[e.from].kind == segLoop {
			w.loops[e.loop].movable = false
		}
	}
	for k := range w.loops {
		lh := &w.loops[k]
		if lh.movable && w.segs[lh.outer].kind == segLoop {
			lh.movable = false
		}
	}
	for _, e := range w.entries {
		if lh := w.loops[e.loop]; lh.movable {
			w.give(e.from, w.segCost(w.segs[lh.seg]))
		}
	}
	for _, lh := range w.loops {
		if lh.movable {
			w.give(lh.outer, w.segCost(w.segs[lh.seg]))
			w.segs[lh.seg] = segment{kind: segPlain}
		}
	}
}

// dispatchCharges fills loop k's placeholder, before the loop, with what
// a dispatch loop's entry charges: the charge given away by the block x
// selects, less that of the block x = 0 selects (which the segment
// before the loop already took):
//
//	(if (local.get x) (then
//	  (block $d (block $d-1 … (block $0 (br_table … (local.get x)))
//	    (L -= c0) (br $d-1…)) … (L -= cd))))
func (w *rewriter) dispatchCharges(k int) {
	lh := w.loops[k]
	if !lh.dispatch || lh.dynamic || lh.outer < 0 {
		return
	}
	charge := func(e int) int64 {
		if id := w.dispatchTarget(&lh, e); id >= 0 {
			return w.given[id]
		}
		return 0
	}
	c0 := charge(0)
	// One arm per distinct charge.
	arms := w.arms[:0]
	armOf := w.armOf[:0]
	for e := range ntargets(&lh) {
		c := charge(e) - c0
		a := -1
		for i, v := range arms {
			if v == c {
				a = i
				break
			}
		}
		if a < 0 {
			a = len(arms)
			arms = append(arms, c)
		}
		armOf = append(armOf, a)
	}
	w.arms, w.armOf = arms, armOf
	if len(arms) == 1 && arms[0] == 0 {
		return
	}
	s := len(w.snips)
	b := appendU32(append(w.snips, 0x20), lh.x)
	b = append(b, 0x04, 0x40) // if
	for range arms {
		b = append(b, 0x02, 0x40) // block
	}
	b = appendU32(append(b, 0x20), lh.x)
	b = appendU32(append(b, 0x0E), uint32(len(armOf)-1))
	for _, a := range armOf {
		b = appendU32(b, uint32(a))
	}
	for i, c := range arms {
		b = append(b, 0x0B) // end of arm i's block
		if c != 0 {
			b = appendU32(append(b, 0x20), w.local)
			b = appendS64(append(b, 0x42), c)
			b = append(b, 0x7D)
			b = appendU32(append(b, 0x21), w.local)
		}
		if i < len(arms)-1 {
			b = appendU32(append(b, 0x0C), uint32(len(arms)-1-i))
		}
	}
	w.snips = append(b, 0x0B) // end if
	w.pieces[lh.table] = piece{kind: pieceSnip, a: s, b: len(w.snips)}
}

// zeroed returns s resized to n zeros, reusing its array when it can.
func zeroed[T int | int64](s []T, n int) []T {
	s = slices.Grow(s[:0], n)[:n]
	clear(s)
	return s
}
