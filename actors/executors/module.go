package executors

import (
	"go.uber.org/fx"

	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// Config sizes the pool.
type Config struct {
	Workers int // 0: this node executes nothing
}

// Module provides the executor pool's supervisor spec, named "executors".
var Module = fx.Module(Name, fx.Provide(fx.Annotate(
	func(cfg Config, c clock.Clock) *supervisors.Spec { return Spec(cfg.Workers, c) },
	fx.ResultTags(`name:"executors"`))))
