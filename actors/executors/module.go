package executors

import (
	"log/slog"

	"go.uber.org/fx"

	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/wasm"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// Config sizes the pool.
type Config struct {
	Workers int // 0: this node executes nothing
}

// Module provides the executor pool's supervisor spec, named "executors",
// over the node's engine and identity (receipts are signed with the node's
// key).
var Module = fx.Module(Name,
	fx.Provide(NewMetrics, fx.Private),
	fx.Provide(fx.Annotate(
		func(cfg Config, e *wasm.Engine, id *identity.Identity, c clock.Clock, m *Metrics, log *slog.Logger) *supervisors.Spec {
			return Spec(cfg.Workers, Deps{Engine: e, Identity: id, Clock: c, Metrics: m, Logger: log.With("component", Name)})
		},
		fx.ResultTags(`name:"executors"`))),
)
