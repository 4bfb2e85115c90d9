package executors

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/messages"
)

// Metrics are the executor pool's metrics; one set per node, shared by
// every incarnation of the pool and its workers.
type Metrics struct {
	busy prometheus.Gauge
	runs prometheus.Histogram
	// compiles observes each compilation a job's run made (a miss of the
	// engine's memory cache), not the runs that found the module compiled.
	compiles prometheus.Histogram
	jobs     *prometheus.CounterVec
}

// Results of icn_jobs_executed_total besides the failure reasons.
const (
	resultOK       = "ok"        // a receipt with exit code 0
	resultExitCode = "exit_code" // a receipt with another exit code
)

// NewMetrics registers the executor pool's metrics.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		busy: prometheus.NewGauge(prometheus.GaugeOpts{Name: "icn_executor_workers_busy", Help: "Executor workers running a job."}),
		runs: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "icn_wasm_run_duration_seconds",
			Help:    "Wall time of WASM job runs (instantiation and run, not compilation nor dag reads).",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120}}),
		compiles: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "icn_wasm_compile_duration_seconds",
			Help:    "Time of WASM module compilations (fuel instrumentation and wazero compilation), once per miss of the engine's module cache.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}}),
		jobs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "icn_jobs_executed_total",
			Help: "Jobs this node's executors finished, by result: ok, exit_code, or the failure reason."}, []string{"result"}),
	}
	for _, c := range []prometheus.Collector{m.busy, m.runs, m.compiles, m.jobs} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, r := range []string{resultOK, resultExitCode, messages.ReasonTimeout, messages.ReasonFuel, messages.ReasonMemory,
		messages.ReasonInvalidModule, messages.ReasonForbiddenImport, messages.ReasonOutputTooLarge, messages.ReasonExecutorLost} {
		m.jobs.WithLabelValues(r)
	}
	return m, nil
}
