package memnet

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/network"
)

// Module provides network.Network on a fabric of its own (one node).
var Module = fx.Module("network.memnet",
	fx.Provide(func(lc fx.Lifecycle) *Fabric {
		f := NewFabric()
		lc.Append(fx.StopHook(f.Close))
		return f
	}, fx.Private),
	fx.Provide(fx.Annotate(provide, fx.As(new(network.Network)))),
)

// SharedModule provides network.Network on f, which the caller shares
// between the nodes of a multi-node test and closes itself.
func SharedModule(f *Fabric) fx.Option {
	return fx.Module("network.memnet",
		fx.Supply(f, fx.Private),
		fx.Provide(fx.Annotate(provide, fx.As(new(network.Network)))),
	)
}

// Params are the node's dependencies; Options may be absent (no bootstrap).
type Params struct {
	fx.In
	Lifecycle  fx.Lifecycle
	Fabric     *Fabric
	Identity   *identity.Identity
	Options    Options `optional:"true"`
	Registerer prometheus.Registerer
	Logger     *slog.Logger
}

func provide(p Params) (*Network, error) {
	n, err := New(p.Fabric, p.Identity, p.Options, p.Registerer, p.Logger)
	if err != nil {
		return nil, err
	}
	p.Lifecycle.Append(fx.StartStopHook(n.Start, n.Stop))
	return n, nil
}
