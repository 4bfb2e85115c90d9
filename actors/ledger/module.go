package ledger

import (
	"log/slog"

	"github.com/asynkron/protoactor-go/actor"
	"go.uber.org/fx"

	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/store"
)

// Module provides the ledger actor's producer, named "ledger" for the tree
// literal. The wiring supplies Params.
var Module = fx.Module(Name,
	fx.Provide(NewMetrics, fx.Private),
	fx.Provide(fx.Annotate(func(k identity.Keyring, s store.Store, c clock.Clock, p Params, m *Metrics, log *slog.Logger) func() actor.Actor {
		return New(Deps{Keyring: k, Store: s, Clock: c, Params: p, Metrics: m, Logger: log})
	}, fx.ResultTags(`name:"ledger"`))),
)
