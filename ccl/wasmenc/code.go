package wasmenc

// Opcodes of the instructions the encoder's users emit.
const (
	OpUnreachable  = 0x00
	OpBlock        = 0x02
	OpLoop         = 0x03
	OpIf           = 0x04
	OpElse         = 0x05
	OpEnd          = 0x0B
	OpBr           = 0x0C
	OpBrIf         = 0x0D
	OpReturn       = 0x0F
	OpCall         = 0x10
	OpDrop         = 0x1A
	OpLocalGet     = 0x20
	OpLocalSet     = 0x21
	OpLocalTee     = 0x22
	OpGlobalGet    = 0x23
	OpGlobalSet    = 0x24
	OpI32Load      = 0x28
	OpI64Load      = 0x29
	OpI32Load8U    = 0x2D
	OpI32Store     = 0x36
	OpI64Store     = 0x37
	OpMemorySize   = 0x3F
	OpMemoryGrow   = 0x40
	OpI32Const     = 0x41
	OpI64Const     = 0x42
	OpI32Eqz       = 0x45
	OpI32Eq        = 0x46
	OpI32Ne        = 0x47
	OpI32LtU       = 0x49
	OpI32GtU       = 0x4B
	OpI32GeU       = 0x4F
	OpI64Eqz       = 0x50
	OpI64Eq        = 0x51
	OpI64Ne        = 0x52
	OpI64LtS       = 0x53
	OpI64GtS       = 0x55
	OpI64LeS       = 0x57
	OpI64GeS       = 0x59
	OpI64GeU       = 0x5A
	OpI32Add       = 0x6A
	OpI32Sub       = 0x6B
	OpI32Mul       = 0x6C
	OpI32And       = 0x71
	OpI32Or        = 0x72
	OpI32Xor       = 0x73
	OpI32Shl       = 0x74
	OpI32ShrU      = 0x76
	OpI64Add       = 0x7C
	OpI64Sub       = 0x7D
	OpI64Mul       = 0x7E
	OpI64DivS      = 0x7F
	OpI64RemS      = 0x81
	OpI64And       = 0x83
	OpI64Xor       = 0x85
	OpI32WrapI64   = 0xA7
	OpI64ExtendI32 = 0xAD // i64.extend_i32_u
)

// BlockType is the type of a block, loop or if: empty or one result.
type BlockType byte

// Block types.
const (
	BlockEmpty BlockType = 0x40
	BlockI32   BlockType = BlockType(I32)
	BlockI64   BlockType = BlockType(I64)
)

// Code builds a function body. The zero value is empty and ready to use.
type Code struct {
	b []byte
}

// Bytes returns the instructions so far.
func (c *Code) Bytes() []byte { return c.b }

// Len is the number of bytes so far.
func (c *Code) Len() int { return len(c.b) }

// Op appends instructions without immediates.
func (c *Code) Op(ops ...byte) { c.b = append(c.b, ops...) }

// I32Const appends i32.const v.
func (c *Code) I32Const(v int32) { c.b = AppendS32(append(c.b, OpI32Const), v) }

// I64Const appends i64.const v.
func (c *Code) I64Const(v int64) { c.b = AppendS64(append(c.b, OpI64Const), v) }

// Index appends an instruction whose immediate is one index (local.get,
// call, br, global.set, ...).
func (c *Code) Index(op byte, idx uint32) { c.b = AppendU32(append(c.b, op), idx) }

// LocalGet appends local.get i.
func (c *Code) LocalGet(i uint32) { c.Index(OpLocalGet, i) }

// LocalSet appends local.set i.
func (c *Code) LocalSet(i uint32) { c.Index(OpLocalSet, i) }

// LocalTee appends local.tee i.
func (c *Code) LocalTee(i uint32) { c.Index(OpLocalTee, i) }

// Call appends call f.
func (c *Code) Call(f uint32) { c.Index(OpCall, f) }

// Mem appends a load or store with its alignment (log2 bytes) and offset.
func (c *Code) Mem(op byte, align, offset uint32) {
	c.b = AppendU32(AppendU32(append(c.b, op), align), offset)
}

// Block appends block, loop or if with its block type.
func (c *Code) Block(op byte, t BlockType) { c.b = append(c.b, op, byte(t)) }

// MemorySize appends memory.size of memory 0.
func (c *Code) MemorySize() { c.b = append(c.b, OpMemorySize, 0x00) }

// MemoryGrow appends memory.grow of memory 0.
func (c *Code) MemoryGrow() { c.b = append(c.b, OpMemoryGrow, 0x00) }
