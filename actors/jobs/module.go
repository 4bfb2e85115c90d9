package jobs

import (
	"log/slog"

	"go.uber.org/fx"

	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// Module provides the jobs supervisor spec, named "jobs" for the tree
// literal, over the node's identity (its account escrows, and it is the
// executor of its own jobs) and the Config the wiring provides.
var Module = fx.Module(Name,
	fx.Provide(NewMetrics, fx.Private),
	fx.Provide(fx.Annotate(
		func(cfg Config, id *identity.Identity, c clock.Clock, m *Metrics, log *slog.Logger) *supervisors.Spec {
			return Spec(Deps{Identity: id, Clock: c, Config: cfg, Metrics: m, Logger: log.With("component", Name)})
		},
		fx.ResultTags(`name:"jobs"`))))
