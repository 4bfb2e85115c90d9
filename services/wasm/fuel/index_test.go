package fuel_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/intercooperative-network/icn-go/services/wasm/fuel"
)

// Module pieces for the index tests. The injected globals of a module with
// no globals are 0 (fuel bank), 1 (chunk), 2 (interrupt) and 3 (stack
// budget); the injected refill function of a module with one function is
// function 1, and its type is type 1 when the module has one type.
var (
	typeVoid  = sec(1, 1, 0x60, 0, 0) // type 0: () -> ()
	funcVoid  = sec(3, 1, 0)          // function 0 has type 0
	oneTable  = sec(4, 1, 0x70, 0, 1) // table 0: 1 funcref
	oneMemory = sec(5, 1, 0, 1)       // memory 0: 1 page
)

// code is a code section with one body (locals declaration, instructions
// and end).
func code(body ...byte) []byte {
	return sec(10, append([]byte{1, byte(len(body))}, body...)...)
}

// bigI64 is i64.const 2^62 - 1.
var bigI64 = []byte{0x42, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x3f}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

type attack struct {
	name   string
	in     []byte
	reason string
}

// indexAttacks are modules that name an index out of range, most of them
// one the rewriter gives to its own globals, functions, type or locals
// (the seed corpus of FuzzInstrument holds them too).
func indexAttacks() []attack {
	importedGlobal := sec(2, 1, 1, 'm', 1, 'g', 3, 0x7e, 1) // global 0 imported: mut i64
	definedGlobal := sec(6, 1, 0x7e, 1, 0x42, 0, 0x0b)      // a mut i64 global
	i32Global := sec(6, 1, 0x7f, 0, 0x41, 0, 0x0b)          // global 0: i32
	typeI32 := sec(1, 2, 0x60, 0, 0, 0x60, 1, 0x7f, 0)      // types 0: () -> (), 1: (i32) -> ()
	return []attack{
		// global.get and global.set in code
		{"global.set of the fuel bank", oneFunc(cat([]byte{0}, bigI64, []byte{0x24, 0, 0x0b})...), "global index 0"},
		{"global.set of the chunk", oneFunc(cat([]byte{0}, bigI64, []byte{0x24, 1, 0x0b})...), "global index 1"},
		{"global.set clearing the interrupt", oneFunc(0, 0x41, 0, 0x24, 2, 0x0b), "global index 2"},
		{"global.get of the stack budget", oneFunc(0, 0x23, 3, 0x1a, 0x0b), "global index 3"},
		{"global.set of the bank after imported and defined globals",
			mod(typeVoid, importedGlobal, funcVoid, definedGlobal, code(cat([]byte{0}, bigI64, []byte{0x24, 2, 0x0b})...)), "global index 2"},
		// locals: the injected counter L is the first local after the original's
		{"local.set of the counter", oneFunc(cat([]byte{0}, bigI64, []byte{0x21, 0, 0x0b})...), "local index 0"},
		{"local.set of the counter after parameters and locals",
			mod(typeI32, sec(3, 1, 1), code(cat([]byte{1, 2, 0x7e}, bigI64, []byte{0x21, 3, 0x0b})...)), "local index 3"},
		{"local.set of the stack budget copy", oneFunc(0, 0x41, 0, 0x21, 2, 0x0b), "local index 2"},
		// functions
		{"call of the refill", oneFunc(cat([]byte{0}, bigI64, []byte{0x10, 1, 0x1a, 0x0b})...), "function index 1"},
		{"ref.func of the refill", oneFunc(0, 0xd2, 1, 0x1a, 0x0b), "function index 1"},
		{"call_indirect with the refill's type",
			mod(typeVoid, funcVoid, oneTable, code(cat([]byte{0}, bigI64, []byte{0x41, 0, 0x11, 1, 0, 0x1a, 0x0b})...)), "type index 1"},
		{"call_indirect without a table", mod(typeVoid, funcVoid, code(0, 0x41, 0, 0x11, 0, 0, 0x0b)), "table index 0"},
		{"start function out of range", mod(typeVoid, funcVoid, sec(8, 1), code(0, 0x0b)), "start function 1"},
		{"start function with parameters", mod(typeI32, sec(3, 1, 1), sec(8, 0), code(0, 0x0b)), "start function 0 has type"},
		// constant expressions
		{"global init reading the bank",
			mod(sec(6, 2, 0x7e, 0, 0x42, 0, 0x0b, 0x7e, 0, 0x23, 2, 0x0b)), "global index 2"},
		{"global init ref.func of the refill",
			mod(typeVoid, funcVoid, sec(6, 1, 0x70, 0, 0xd2, 1, 0x0b), code(0, 0x0b)), "function index 1"},
		{"data offset reading the interrupt",
			mod(oneMemory, sec(11, 1, 0, 0x23, 2, 0x0b, 0)), "global index 2"},
		{"element offset reading the interrupt",
			mod(typeVoid, funcVoid, oneTable, i32Global, sec(9, 1, 0, 0x23, 3, 0x0b, 0), code(0, 0x0b)), "global index 3"},
		{"element holding the refill",
			mod(typeVoid, funcVoid, oneTable, sec(9, 1, 0, 0x41, 0, 0x0b, 1, 1), code(0, 0x0b)), "function index 1"},
		{"element expression ref.func of the refill",
			mod(typeVoid, funcVoid, oneTable, sec(9, 1, 4, 0x41, 0, 0x0b, 1, 0xd2, 1, 0x0b), code(0, 0x0b)), "function index 1"},
		{"element for a missing table",
			mod(typeVoid, funcVoid, sec(9, 1, 2, 3, 0x41, 0, 0x0b, 0, 1, 0), code(0, 0x0b)), "table index 3"},
		// exports
		{"export of the refill", mod(typeVoid, funcVoid, sec(7, 1, 1, 'f', 0, 1), code(0, 0x0b)), "function index 1"},
		{"export of the fuel bank", mod(sec(7, 1, 1, 'g', 3, 0)), "global index 0"},
		{"export of a missing memory", mod(sec(7, 1, 1, 'm', 2, 0)), "memory index 0"},
		{"export of a missing table", mod(sec(7, 1, 1, 't', 1, 0)), "table index 0"},
		// memory: a module without one gets an empty one for the yield
		{"load without a memory", oneFunc(0, 0x41, 0, 0x28, 2, 0, 0x1a, 0x0b), "no memory"},
		{"store without a memory", oneFunc(0, 0x41, 0, 0x41, 0, 0x36, 2, 0, 0x0b), "no memory"},
		{"memory.size without a memory", oneFunc(0, 0x3f, 0, 0x1a, 0x0b), "no memory"},
		{"memory.grow without a memory", oneFunc(0, 0x41, 0, 0x40, 0, 0x1a, 0x0b), "no memory"},
		{"memory.fill without a memory", oneFunc(0, 0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 11, 0, 0x0b), "no memory"},
		{"active data segment without a memory", mod(sec(11, 1, 0, 0x41, 0, 0x0b, 0)), "no memory"},
		// tables, element and data segments
		{"table.get without a table", oneFunc(0, 0x41, 0, 0x25, 0, 0x1a, 0x0b), "table index 0"},
		{"table.size of a missing table", mod(typeVoid, funcVoid, oneTable, code(0, 0xfc, 16, 1, 0x1a, 0x0b)), "table index 1"},
		{"elem.drop out of range", oneFunc(0, 0xfc, 13, 0, 0x0b), "element segment index 0"},
		{"data.drop without a data count", oneFunc(0, 0xfc, 9, 0, 0x0b), "data count"},
		{"memory.init out of range",
			mod(typeVoid, funcVoid, oneMemory, sec(12, 0), code(0, 0x41, 0, 0x41, 0, 0x41, 0, 0xfc, 8, 0, 0, 0x0b)), "data segment index 0"},
	}
}

// TestOutOfRangeIndices: an index the original module cannot name, above
// all an index that after the rewrite would name the injected fuel
// globals, refill function or locals, is an invalid module, not a way to
// mint fuel or clear the interrupt. wazero rejects every one of these
// inputs too (checked), so the rewriter must never turn one into a module
// that validates.
func TestOutOfRangeIndices(t *testing.T) {
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	t.Cleanup(func() { _ = rt.Close(ctx) })
	for _, tc := range indexAttacks() {
		t.Run(tc.name, func(t *testing.T) {
			if cm, err := rt.CompileModule(ctx, tc.in); err == nil {
				_ = cm.Close(ctx)
				t.Fatal("wazero accepts the input: not a test of an invalid index")
			}
			m, err := fuel.Instrument(tc.in)
			if err == nil {
				msg := "and wazero rejects the rewritten module"
				if cm, err := rt.CompileModule(ctx, m.Binary); err == nil {
					_ = cm.Close(ctx)
					msg = "and wazero ACCEPTS the rewritten module"
				}
				t.Fatalf("accepted, %s", msg)
			}
			me, ok := errors.AsType[*fuel.ModuleError](err)
			if !ok || !errors.Is(err, fuel.ErrInvalidModule) {
				t.Fatalf("error %v (%T) is not a *ModuleError", err, err)
			}
			if me.Offset < 0 || me.Offset > len(tc.in) || !strings.Contains(me.Reason, tc.reason) {
				t.Fatalf("offset %d reason %q, want a reason with %q", me.Offset, me.Reason, tc.reason)
			}
		})
	}
}
