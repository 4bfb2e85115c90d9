package httpapi

import "go.uber.org/fx"

// Module provides the *Server; it listens on start and drains, then stops,
// first on stop (it is started last).
var Module = fx.Module("httpapi",
	fx.Provide(func(lc fx.Lifecycle, cfg Config, deps Deps) (*Server, error) {
		s, err := New(cfg, deps)
		if err != nil {
			return nil, err
		}
		lc.Append(fx.StartStopHook(s.Start, s.Stop))
		return s, nil
	}),
)
