package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
)

// Version is the build version labelled on icn_build_info.
type Version string

// Module provides the node's private registry as *prometheus.Registry,
// prometheus.Registerer and prometheus.Gatherer.
var Module = fx.Module("metrics",
	fx.Provide(
		func(v Version) *prometheus.Registry { return NewRegistry(string(v)) },
		func(r *prometheus.Registry) prometheus.Registerer { return r },
		func(r *prometheus.Registry) prometheus.Gatherer { return r },
	),
)
