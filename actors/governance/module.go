package governance

import "go.uber.org/fx"

// Module provides the governance actor's producer, named "governance" for the tree literal.
var Module = fx.Module(Name, fx.Provide(fx.Annotate(New, fx.ResultTags(`name:"governance"`))))
