package supervisors

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
)

// Params are what a Tree needs from the fx graph.
type Params struct {
	fx.In
	Spec       Spec
	Defaults   Defaults
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	Clock      Clock `optional:"true"`
}

// Module provides the *Tree of the Spec in the graph; the root is spawned on
// start and the tree shut down in order on stop.
var Module = fx.Module("supervisors",
	fx.Provide(func(lc fx.Lifecycle, p Params) (*Tree, error) {
		opts := []Option{WithDefaults(p.Defaults)}
		if p.Clock != nil {
			opts = append(opts, WithClock(p.Clock))
		}
		t, err := New(p.Spec, p.Logger, p.Registerer, opts...)
		if err != nil {
			return nil, err
		}
		lc.Append(fx.StartStopHook(t.Start, t.Stop))
		return t, nil
	}),
)
