package dag

import "go.uber.org/fx"

// Module provides the dag actor's producer, named "dag" for the tree literal.
var Module = fx.Module(Name, fx.Provide(fx.Annotate(New, fx.ResultTags(`name:"dag"`))))
