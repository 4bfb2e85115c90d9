package governance

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/fx"

	"github.com/intercooperative-network/icn-go/ccl/runtime"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/wasm"
)

// Module provides the governance actor's producer, named "governance" for
// the tree literal. The CCL runtime (its own wasm engine, with the icn
// host module linked) lives as long as the node and is closed on stop,
// after the tree, which stops first.
var Module = fx.Module(Name,
	fx.Provide(fx.Annotate(func(lc fx.Lifecycle, c clock.Clock, log *slog.Logger) (func() actor.Actor, error) {
		rt, err := runtime.New(runtime.WithEngineOptions(wasm.WithLogger(log.With("component", "ccl"))))
		if err != nil {
			return nil, err
		}
		lc.Append(fx.StopHook(rt.Close))
		return New(Deps{Clock: c, Runtime: rt, Logger: log}), nil
	}, fx.ResultTags(`name:"governance"`))),
)
