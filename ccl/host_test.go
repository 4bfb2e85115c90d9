package ccl_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/intercooperative-network/icn-go/ccl"
	"github.com/intercooperative-network/icn-go/services/wasm"
	"github.com/intercooperative-network/icn-go/services/wasm/fuel"
)

// snapshot is the fake host's state for one call, carried in the Call's
// context.
type snapshot struct {
	members    []string // sorted
	votes      map[string]int64
	now        int64
	created    int64
	ends       int64
	proposer   string
	caller     string
	treasury   string
	params     map[string]int64
	balances   map[string]int64
	reputation map[string]int64
	args       []string // Did and String arguments, by parameter index
	result     string   // set by icn.result
}

type snapshotKey struct{}

// trapError is how the fake host stops a call: icn.trap panics with it,
// and wazero returns it (wrapped) from the call.
type trapError struct {
	code ccl.TrapCode
	msg  string
}

func (e *trapError) Error() string { return fmt.Sprintf("trap %s: %q", e.code, e.msg) }

func read(m api.Module, ptr, n uint64) string {
	b, ok := m.Memory().Read(uint32(ptr), uint32(n))
	if !ok {
		panic(fmt.Errorf("read out of memory: %d+%d", ptr, n))
	}
	return string(b)
}

// writeBytes is the (buf, cap) -> len half of the ABI.
func writeBytes(m api.Module, s string, buf, capacity uint64) uint64 {
	if uint64(len(s)) > capacity {
		panic(fmt.Errorf("%d bytes do not fit in %d", len(s), capacity))
	}
	if !m.Memory().Write(uint32(buf), []byte(s)) {
		panic(fmt.Errorf("write out of memory at %d", buf))
	}
	return uint64(len(s))
}

// fakeHost exports every function of ccl.HostFuncs with the signature the
// table gives it, reading the snapshot from the call's context.
func fakeHost(b wazero.HostModuleBuilder) wazero.HostModuleBuilder {
	for _, h := range ccl.HostFuncs() {
		fn := hostImpl(h.Name)
		params := make([]api.ValueType, len(h.WasmParams))
		for i, p := range h.WasmParams {
			params[i] = api.ValueType(p)
		}
		results := make([]api.ValueType, len(h.WasmResults))
		for i, r := range h.WasmResults {
			results[i] = api.ValueType(r)
		}
		b = b.NewFunctionBuilder().WithGoModuleFunction(fn, params, results).Export(h.Name)
	}
	return b
}

func hostImpl(name string) api.GoModuleFunc {
	return func(ctx context.Context, m api.Module, st []uint64) {
		s, _ := ctx.Value(snapshotKey{}).(*snapshot)
		if s == nil {
			s = &snapshot{}
		}
		switch name {
		case "member_count":
			st[0] = uint64(len(s.members))
		case "member_at":
			i := int64(st[0])
			if i < 0 || i >= int64(len(s.members)) {
				panic(&trapError{code: ccl.TrapIndexOutOfBounds})
			}
			st[0] = writeBytes(m, s.members[i], st[1], st[2])
		case "is_member":
			d := read(m, st[0], st[1])
			st[0] = 0
			for _, x := range s.members {
				if x == d {
					st[0] = 1
				}
			}
		case "vote_count":
			var n int64
			for _, v := range s.votes {
				if v == int64(st[0]) {
					n++
				}
			}
			st[0] = uint64(n)
		case "votes_cast":
			st[0] = uint64(len(s.votes))
		case "vote_of":
			st[0] = uint64(s.votes[read(m, st[0], st[1])])
		case "now":
			st[0] = uint64(s.now)
		case "proposal_created":
			st[0] = uint64(s.created)
		case "voting_ends":
			st[0] = uint64(s.ends)
		case "proposer":
			st[0] = writeBytes(m, s.proposer, st[0], st[1])
		case "caller":
			st[0] = writeBytes(m, s.caller, st[0], st[1])
		case "treasury":
			st[0] = writeBytes(m, s.treasury, st[0], st[1])
		case "proposal_param":
			v, ok := s.params[read(m, st[0], st[1])]
			if !ok {
				panic(&trapError{code: ccl.TrapMissingParam})
			}
			st[0] = uint64(v)
		case "balance_of":
			st[0] = uint64(s.balances[read(m, st[0], st[1])])
		case "reputation_of":
			st[0] = uint64(s.reputation[read(m, st[0], st[1])])
		case "trap":
			panic(&trapError{code: ccl.TrapCode(int32(st[0])), msg: read(m, st[1], st[2])})
		case "arg":
			st[0] = writeBytes(m, s.args[int32(st[0])], st[1], st[2])
		case "result":
			s.result = read(m, st[0], st[1])
		default:
			panic("no host function " + name)
		}
	}
}

// newEngine returns an engine with the fake icn host module linked.
func newEngine(t testing.TB) *wasm.Engine {
	t.Helper()
	e, err := wasm.New(wasm.WithHostModule(ccl.HostModule, fakeHost))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.Close(context.Background()) })
	return e
}

// mustCompile compiles src, and checks that wazero validates the module
// before and after fuel instrumentation.
func mustCompile(t testing.TB, src string) *ccl.Output {
	t.Helper()
	out, err := ccl.Compile("test.ccl", []byte(src))
	if err != nil {
		t.Fatalf("compile: %v\n%s", err, src)
	}
	validate(t, out.WASM)
	return out
}

func validate(t testing.TB, bin []byte) {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer func() { _ = rt.Close(ctx) }()
	cm, err := rt.CompileModule(ctx, bin)
	if err != nil {
		t.Fatalf("wazero rejects the module: %v", err)
	}
	_ = cm.Close(ctx)
	m, err := fuel.Instrument(bin)
	if err != nil {
		t.Fatalf("fuel.Instrument: %v", err)
	}
	if m.HasStart {
		t.Fatal("the module has a start function")
	}
	if m.Memory == nil || !m.Memory.HasMax || m.Memory.Max > ccl.MaxMemoryPages {
		t.Fatalf("memory %+v: want a maximum of at most %d pages", m.Memory, ccl.MaxMemoryPages)
	}
	cm, err = rt.CompileModule(ctx, m.Binary)
	if err != nil {
		t.Fatalf("wazero rejects the instrumented module: %v", err)
	}
	_ = cm.Close(ctx)
}

// call runs an export of a compiled program under the engine; a trap the
// program raised comes back as a *trapError in the error chain.
func call(t testing.TB, e *wasm.Engine, out *ccl.Output, s *snapshot, fn string, params ...uint64) (wasm.CallResult, error) {
	t.Helper()
	if s == nil {
		s = &snapshot{}
	}
	ctx := context.WithValue(context.Background(), snapshotKey{}, s)
	return e.Call(ctx, wasm.Call{Module: out.WASM, Function: fn, Params: params, Limits: wasm.Limits{Fuel: 10_000_000}})
}

func trapOf(err error) (ccl.TrapCode, string, bool) {
	if te, ok := errors.AsType[*trapError](err); ok {
		return te.code, te.msg, true
	}
	return 0, "", false
}
