package jobs

import "go.uber.org/fx"

// Module provides the jobs supervisor spec, named "jobs" for the tree literal.
var Module = fx.Module(Name, fx.Provide(fx.Annotate(Spec, fx.ResultTags(`name:"jobs"`))))
