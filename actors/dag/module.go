package dag

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/fx"

	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/store"
)

// Module provides the dag actor's producer, named "dag" for the tree literal.
var Module = fx.Module(Name,
	fx.Provide(NewMetrics, fx.Private),
	fx.Provide(fx.Annotate(func(s store.Store, c clock.Clock, cfg Config, m *Metrics, log *slog.Logger) func() actor.Actor {
		return New(Deps{Store: s, Clock: c, Config: cfg, Metrics: m, Logger: log})
	}, fx.ResultTags(`name:"dag"`))),
)
