package wasmenc_test

import (
	"bytes"
	"context"
	"math"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/intercooperative-network/icn-go/ccl/wasmenc"
)

func TestLEB128(t *testing.T) {
	for _, tc := range []struct {
		v    uint32
		want []byte
	}{
		{0, []byte{0}}, {1, []byte{1}}, {127, []byte{0x7F}}, {128, []byte{0x80, 0x01}},
		{624485, []byte{0xE5, 0x8E, 0x26}}, {math.MaxUint32, []byte{0xFF, 0xFF, 0xFF, 0xFF, 0x0F}},
	} {
		if got := wasmenc.AppendU32(nil, tc.v); !bytes.Equal(got, tc.want) {
			t.Errorf("U32(%d) = % x, want % x", tc.v, got, tc.want)
		}
	}
	for _, tc := range []struct {
		v    int64
		want []byte
	}{
		{0, []byte{0}}, {1, []byte{1}}, {-1, []byte{0x7F}}, {63, []byte{0x3F}}, {64, []byte{0xC0, 0x00}},
		{-64, []byte{0x40}}, {-65, []byte{0xBF, 0x7F}}, {-123456, []byte{0xC0, 0xBB, 0x78}},
		{math.MaxInt64, []byte{0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x00}},
		{math.MinInt64, []byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7F}},
	} {
		if got := wasmenc.AppendS64(nil, tc.v); !bytes.Equal(got, tc.want) {
			t.Errorf("S64(%d) = % x, want % x", tc.v, got, tc.want)
		}
	}
	if got := wasmenc.AppendS32(nil, math.MinInt32); !bytes.Equal(got, []byte{0x80, 0x80, 0x80, 0x80, 0x78}) {
		t.Errorf("S32(MinInt32) = % x", got)
	}
	if got := wasmenc.AppendName(nil, "icn"); !bytes.Equal(got, []byte{3, 'i', 'c', 'n'}) {
		t.Errorf("Name = % x", got)
	}
}

// TestModule encodes a module with every section and runs it: an import,
// grouped locals, a loop, a mutable global, memory and data.
func TestModule(t *testing.T) {
	var m wasmenc.Module
	i32, i64 := wasmenc.I32, wasmenc.I64
	hostT := m.TypeIndex(wasmenc.FuncType{Params: []wasmenc.ValType{i64}, Results: []wasmenc.ValType{i64}})
	if again := m.TypeIndex(wasmenc.FuncType{Params: []wasmenc.ValType{i64}, Results: []wasmenc.ValType{i64}}); again != hostT {
		t.Fatal("TypeIndex added a type twice")
	}
	m.Imports = []wasmenc.Import{{Module: "env", Name: "double", Type: hostT}}
	// sum(n): s = 0; i = 0; while i < n { s += load8(i); i++ }; return double(s + g)
	var c wasmenc.Code
	c.Block(wasmenc.OpBlock, wasmenc.BlockEmpty)
	c.Block(wasmenc.OpLoop, wasmenc.BlockEmpty)
	c.LocalGet(2)
	c.LocalGet(0)
	c.Op(wasmenc.OpI32GeU)
	c.Index(wasmenc.OpBrIf, 1)
	c.LocalGet(1)
	c.LocalGet(2)
	c.Mem(wasmenc.OpI32Load8U, 0, 16)
	c.Op(wasmenc.OpI64ExtendI32, wasmenc.OpI64Add)
	c.LocalSet(1)
	c.LocalGet(2)
	c.I32Const(1)
	c.Op(wasmenc.OpI32Add)
	c.LocalSet(2)
	c.Index(wasmenc.OpBr, 0)
	c.Op(wasmenc.OpEnd, wasmenc.OpEnd)
	c.LocalGet(1)
	c.Index(wasmenc.OpGlobalGet, 0)
	c.Op(wasmenc.OpI64Add)
	c.Call(0)
	c.Op(wasmenc.OpEnd)
	sumT := m.TypeIndex(wasmenc.FuncType{Params: []wasmenc.ValType{i32}, Results: []wasmenc.ValType{i64}})
	m.Funcs = []wasmenc.Func{{Type: sumT, Locals: []wasmenc.ValType{i64, i32}, Body: c.Bytes()}}
	m.Memory = &wasmenc.Memory{Min: 1, Max: 2}
	m.Globals = []wasmenc.Global{{Type: i64, Mutable: true, Init: -1000}}
	m.Exports = []wasmenc.Export{{Name: "sum", Kind: wasmenc.ExportFunc, Index: 1}}
	m.Data = []wasmenc.Data{{Offset: 16, Bytes: []byte{1, 2, 3, 4, 200}}}
	bin := m.Encode()
	if !bytes.Equal(bin, m.Encode()) {
		t.Fatal("two encodings differ")
	}

	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer func() { _ = rt.Close(ctx) }()
	_, err := rt.NewHostModuleBuilder("env").NewFunctionBuilder().
		WithFunc(func(x int64) int64 { return 2 * x }).Export("double").Instantiate(ctx)
	if err != nil {
		t.Fatal(err)
	}
	mod, err := rt.Instantiate(ctx, bin)
	if err != nil {
		t.Fatal(err)
	}
	r, err := mod.ExportedFunction("sum").Call(ctx, 5)
	if err != nil {
		t.Fatal(err)
	}
	if got := int64(r[0]); got != 2*(1+2+3+4+200-1000) {
		t.Fatalf("sum(5) = %d", got)
	}
}

func TestEmptyModule(t *testing.T) {
	var m wasmenc.Module
	if got := m.Encode(); !bytes.Equal(got, []byte{0, 'a', 's', 'm', 1, 0, 0, 0}) {
		t.Fatalf("empty module: % x", got)
	}
}
