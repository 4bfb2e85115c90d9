package wasm

import (
	"context"
	"errors"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
)

type membersKey struct{}

// policyEngine links the host module the policy imports; its function
// reads the member count from the context of the Call.
func policyEngine(t *testing.T) *Engine {
	return newEngine(t, WithHostModule("icn", func(b wazero.HostModuleBuilder) wazero.HostModuleBuilder {
		return b.NewFunctionBuilder().
			WithFunc(func(ctx context.Context) int64 { return ctx.Value(membersKey{}).(int64) }).
			Export("member_count")
	}))
}

func TestCall(t *testing.T) {
	e := policyEngine(t)
	policy := wasmtest.WAT(t, "policy")
	ctx := context.WithValue(context.Background(), membersKey{}, int64(9))
	for _, tc := range []struct {
		votes uint64
		want  uint64
	}{{5, 0}, {6, 1}, {9, 1}} {
		r, err := e.Call(ctx, Call{Key: "policy", Module: policy, Function: "check", Params: []uint64{tc.votes}})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Results) != 1 || r.Results[0] != tc.want {
			t.Fatalf("check(%d) = %v, want %d", tc.votes, r.Results, tc.want)
		}
		again, err := e.Call(ctx, Call{Key: "policy", Module: policy, Function: "check", Params: []uint64{tc.votes}})
		if err != nil || again.FuelUsed != r.FuelUsed || r.FuelUsed == 0 {
			t.Fatalf("fuel %d then %d (%v)", r.FuelUsed, again.FuelUsed, err)
		}
	}
	r, err := e.Call(ctx, Call{Module: policy, Function: "check", Params: []uint64{1 << 40}, Limits: Limits{Fuel: 100000}})
	if !errors.Is(err, ErrOutOfFuel) || r.Results != nil {
		t.Fatalf("long policy: %v %v", err, r.Results)
	}
	if _, err := e.Call(ctx, Call{Module: policy, Function: "nope"}); !errors.Is(err, ErrInvalidModule) {
		t.Fatalf("missing function: %v", err)
	}
	// A job never links host modules.
	if _, err := e.Run(ctx, Job{Module: policy}); !errors.Is(err, ErrForbiddenImport) {
		t.Fatalf("job importing a host module: %v", err)
	}
}

func TestHostModuleNames(t *testing.T) {
	noop := func(b wazero.HostModuleBuilder) wazero.HostModuleBuilder { return b }
	for _, opts := range [][]Option{
		{WithHostModule("icn", noop), WithHostModule("icn", noop)},
		{WithHostModule("wasi_snapshot_preview1", noop)},
	} {
		if e, err := New(opts...); err == nil {
			_ = e.Close(context.Background())
			t.Fatal("a host module name was accepted twice")
		}
	}
}
