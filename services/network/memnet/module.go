package memnet

import (
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"go.uber.org/fx"

	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/network"
)

// Module provides network.Network on a mocknet of its own (one node).
var Module = fx.Module("network.memnet",
	fx.Provide(func(lc fx.Lifecycle) mocknet.Mocknet {
		mn := mocknet.New()
		lc.Append(fx.StopHook(mn.Close))
		return mn
	}, fx.Private),
	fx.Provide(fx.Annotate(provide, fx.As(new(network.Network)))),
)

// SharedModule provides network.Network on mn, which the caller shares
// between the nodes of a multi-node test and closes itself.
func SharedModule(mn mocknet.Mocknet) fx.Option {
	return fx.Module("network.memnet",
		fx.Supply(fx.Annotate(mn, fx.As(new(mocknet.Mocknet))), fx.Private),
		fx.Provide(fx.Annotate(provide, fx.As(new(network.Network)))),
	)
}

func provide(lc fx.Lifecycle, mn mocknet.Mocknet, id *identity.Identity) (*Network, error) {
	n, err := New(mn, id)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StartStopHook(n.Start, n.Stop))
	return n, nil
}
