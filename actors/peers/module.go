package peers

import "go.uber.org/fx"

// Module provides the peer manager's producer, named "peers" for the tree literal.
var Module = fx.Module(Name, fx.Provide(fx.Annotate(New, fx.ResultTags(`name:"peers"`))))
