package ledger

import "go.uber.org/fx"

// Module provides the ledger actor's producer, named "ledger" for the tree literal.
var Module = fx.Module(Name, fx.Provide(fx.Annotate(New, fx.ResultTags(`name:"ledger"`))))
