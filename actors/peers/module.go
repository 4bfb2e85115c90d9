package peers

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/fx"

	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/network"
)

// Module provides the peer manager's producer, named "peers" for the tree literal.
var Module = fx.Module(Name,
	fx.Provide(NewMetrics, fx.Private),
	fx.Provide(fx.Annotate(func(n network.Network, id *identity.Identity, c clock.Clock, m *Metrics, log *slog.Logger) (func() actor.Actor, error) {
		return New(Deps{Network: n, Identity: id, Clock: c, Metrics: m, Logger: log})
	}, fx.ResultTags(`name:"peers"`))),
)
