package clock

import "go.uber.org/fx"

// Module provides the wall clock.
var Module = fx.Module("clock", fx.Provide(func() Clock { return Real{} }))
