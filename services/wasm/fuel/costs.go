package fuel

// CostTableVersion identifies the cost table below and the way it is
// charged. A change to any cost, to the chunk size or stack budget, or to
// where charges are placed changes the fuel a run uses, so it bumps this
// number; caches of rewritten modules are keyed by it, and a receipt's
// fuel_used is only comparable between executors that use the same version.
// A change to what Instrument outputs that leaves every run's fuel as it
// was bumps RewriteVersion instead.
const CostTableVersion = 8

// RewriteVersion identifies the shape of Instrument's output for a given
// cost table: services/wasm keeps rewrites on disk under both numbers, and
// would otherwise go on serving the old ones.
const RewriteVersion = 1

// The cost table, version 8 (3: the code after a guard, an if without
// else whose then-arm traps, is charged with the code before it; 4: a
// frame also weighs the stack slots its refills' renewals take; 5: an
// entry's refill renews nothing, and so weighs nothing; 6: charges move
// into the segments that enter theirs (settle), which leaves the fuel of
// every run that ends normally as it was, but not what a trap leaves; 7:
// Go functions without loops keep their blocks' charges; 8: a block that
// a later block jumps back to gives its charge to that jump too).
// One unit of fuel is about one simple instruction. Each instruction belongs to exactly one class.
const (
	// CostFree: nop, block, loop, else, end, drop. They compile to nothing.
	CostFree = 0
	// CostBasic: everything not listed below: constants, locals and
	// globals, integer and float arithmetic (except division), comparisons,
	// conversions (including the 0xFC 0–7 saturating truncations and the
	// sign extensions), select, the reference instructions, unreachable,
	// if, br, br_if, return, memory.size, table.get, table.set, table.size,
	// data.drop and elem.drop.
	CostBasic = 1
	// CostMemoryAccess: loads and stores (0x28–0x3E).
	CostMemoryAccess = 2
	// CostBrTable: br_table (an indirect jump).
	CostBrTable = 2
	// CostDivide: integer div and rem, float div and sqrt.
	CostDivide = 4
	// CostCall: call.
	CostCall = 10
	// CostCallIndirect: call_indirect (table lookup and signature check).
	CostCallIndirect = 15
	// CostBulk: the static part of memory.copy, memory.fill, memory.init,
	// table.copy, table.fill, table.init and table.grow.
	CostBulk = 20
	// CostMemoryGrow: the static part of memory.grow.
	CostMemoryGrow = 100

	// BulkByteShift: memory.copy, memory.fill and memory.init also cost
	// one unit per 2^BulkByteShift bytes of their length operand (rounded
	// down), charged before they run.
	BulkByteShift = 6
	// GrowPageShift: memory.grow also costs 2^GrowPageShift units per page
	// (64 KiB) of its delta operand, charged before it runs.
	GrowPageShift = 12
	// CostTableElem: table.grow, table.fill, table.copy and table.init also
	// cost CostTableElem units per element of their length operand,
	// charged before they run.
	CostTableElem = 1

	// The WASI host functions that do work in proportion to an argument
	// are called through a wrapper that charges for it, from the arguments
	// (and the iovec array they point to) only, before the host function
	// runs (see host.go):
	//
	//   - fd_write, fd_read, fd_pwrite, fd_pread: CostIOVec per iovec, and
	//     one unit per 2^BulkByteShift bytes of the lengths they hold;
	//   - random_get: one unit per 2^RandomByteShift bytes;
	//   - poll_oneoff: CostSubscription per subscription;
	//   - path_*: one unit per 2^PathByteShift bytes of each path.
	CostIOVec        = 20
	RandomByteShift  = 2
	CostSubscription = 100
	PathByteShift    = 0

	// MinCheckCost is the least a function entry or a loop header costs,
	// so that an empty loop or an empty recursive function still burns fuel.
	MinCheckCost = 1

	// Chunk is the most fuel a running function holds in its local
	// counter between two refills (see the package doc). It bounds how long
	// call-free code runs before the module looks at the interrupt flag.
	Chunk = 1 << 20

	// StackBudget bounds the call depth deterministically. Each function
	// entry takes FrameBase + (parameters + locals) units from it and the
	// caller gives them back when the call returns; a call that would take
	// the budget below zero traps. The budget is far below what wazero's
	// native stack allows for frames of that size (see the package doc).
	StackBudget = 1 << 22
	// FrameBase is the fixed part of a frame's weight in StackBudget units.
	// A frame weighs FrameBase, plus one unit per parameter and local, per
	// slot of the function's deepest operand stack, and per local and stack
	// slot the instrumentation adds (8).
	FrameBase = 4

	// MaxTables bounds the tables of a module (imported and defined), and
	// MaxTableElements the size of each: a larger initial size is an
	// invalid module, and table.grow past it fails (returns -1) whatever
	// the table's maximum. wazero keeps 8 bytes per element, so tables hold
	// at most 64 MiB, outside the memory limit.
	MaxTables        = 8
	MaxTableElements = 1 << 20

	// MaxFuel is the largest fuel a run can be given.
	MaxFuel = 1 << 62
)

// cost returns the static cost class of a one-byte opcode.
func cost(op byte) int64 {
	switch {
	case op == 0x01, op == 0x02, op == 0x03, op == 0x05, op == 0x0B, op == 0x1A:
		return CostFree
	case op >= 0x28 && op <= 0x3E:
		return CostMemoryAccess
	case op == 0x0E:
		return CostBrTable
	case op == 0x10:
		return CostCall
	case op == 0x11:
		return CostCallIndirect
	case op == 0x40:
		return CostMemoryGrow
	case op == 0x6D, op == 0x6E, op == 0x6F, op == 0x70, // i32 div_s div_u rem_s rem_u
		op == 0x7F, op == 0x80, op == 0x81, op == 0x82, // i64 div_s div_u rem_s rem_u
		op == 0x91, op == 0x95, // f32 sqrt, div
		op == 0x9F, op == 0xA3: // f64 sqrt, div
		return CostDivide
	}
	return CostBasic
}

// costFC returns the static cost of a 0xFC-prefixed instruction.
func costFC(sub uint32) int64 {
	switch sub {
	case 8, 10, 11, 12, 14, 15, 17: // memory.init, memory.copy, memory.fill, table.init, table.copy, table.grow, table.fill
		return CostBulk
	}
	return CostBasic
}
