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
	fx.Provide(fx.Annotate(newFromGraph, fx.ResultTags(`name:"peers"`))),
)

// Config is what the node's configuration sets in the peer manager.
type Config struct {
	// MaxBody is the largest message body taken from another node
	// (envelope.DefaultMaxBody if 0): the node's largest block, since the
	// answer to a block fetch carries a whole block.
	MaxBody int
}

// params are the node's parts the peer manager takes.
type params struct {
	fx.In
	Network  network.Network
	Identity *identity.Identity
	Clock    clock.Clock
	Metrics  *Metrics
	Logger   *slog.Logger
	Config   Config `optional:"true"`
}

func newFromGraph(p params) (func() actor.Actor, error) {
	return New(Deps{Network: p.Network, Identity: p.Identity, Clock: p.Clock, Metrics: p.Metrics, Logger: p.Logger,
		MaxBody: p.Config.MaxBody})
}
