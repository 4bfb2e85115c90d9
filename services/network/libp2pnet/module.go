package libp2pnet

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"

	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/network"
)

// Module provides network.Network as a libp2p host that listens on start.
var Module = fx.Module("network.libp2p",
	fx.Provide(fx.Annotate(func(lc fx.Lifecycle, id *identity.Identity, opts Options, reg prometheus.Registerer, log *slog.Logger) (*Network, error) {
		n, err := New(id, opts, reg, log)
		if err != nil {
			return nil, err
		}
		lc.Append(fx.StartStopHook(n.Start, n.Stop))
		return n, nil
	}, fx.As(new(network.Network)))),
)
