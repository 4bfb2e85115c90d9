package jobs

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/messages"
)

// Metrics are the job manager's; one set per node, shared by every
// incarnation (the executors count runs, the wasm engine compiles).
type Metrics struct {
	submitted, completed prometheus.Counter
	failed               *prometheus.CounterVec
	active               *prometheus.GaugeVec
	phase                *prometheus.HistogramVec
	bids                 *prometheus.CounterVec
	panics               prometheus.Counter
}

// activeStates are the states a job is active in, the labels of
// icn_jobs_active.
func activeStates() []string {
	return []string{messages.JobSubmitted, messages.JobEscrowed, messages.JobAnnounced,
		messages.JobBidding, messages.JobAssigned, messages.JobRunning}
}

// NewMetrics registers the job manager's metrics.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		submitted: prometheus.NewCounter(prometheus.CounterOpts{Name: "icn_jobs_submitted_total", Help: "Jobs submitted to this node."}),
		completed: prometheus.NewCounter(prometheus.CounterOpts{Name: "icn_jobs_completed_total", Help: "Jobs of this node that completed."}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "icn_jobs_failed_total",
			Help: "Jobs of this node that failed, by reason (timeout, fuel, memory, no_bids, executor_lost, ...)."}, []string{"reason"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "icn_jobs_active",
			Help: "Jobs of this node not yet final, by state."}, []string{"state"}),
		phase: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "icn_job_phase_duration_seconds",
			Help:    "Time jobs spent in each state before the next.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10, 60}}, []string{"phase"}),
		bids: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "icn_bids_total",
			Help: "Bids, by result: sent (this node bid on a job), received (a bid for this node's job), refused (it came after the window), declined (a job over this node's limits), below_min_reputation (a bid the job's min_reputation dropped)."}, []string{"result"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{Name: "icn_jobs_panics_total",
			Help: "Panics recovered in the job manager's goroutines (a job's driver, or a handler of another node's request)."}),
	}
	for _, c := range []prometheus.Collector{m.submitted, m.completed, m.failed, m.active, m.phase, m.bids, m.panics} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, s := range activeStates() {
		m.active.WithLabelValues(s)
		m.phase.WithLabelValues(s)
	}
	for _, r := range []string{"sent", "received", "refused", "declined", "below_min_reputation"} {
		m.bids.WithLabelValues(r)
	}
	return m, nil
}

// transition counts a job moving from one state to the next, entered
// `since` ago in its previous state.
func (m *Metrics) transition(from, to string, since time.Duration, reason string) {
	if from == to {
		return // a settle, not a transition
	}
	if from == "" && to == messages.JobSubmitted {
		m.submitted.Inc()
	}
	if from != "" {
		m.phase.WithLabelValues(from).Observe(since.Seconds())
	}
	switch to {
	case messages.JobCompleted:
		m.completed.Inc()
	case messages.JobFailed:
		r, _, _ := strings.Cut(reason, ":")
		m.failed.WithLabelValues(r).Inc()
	}
}

// resetActive zeroes the active gauges: a new incarnation counts its jobs
// again as it loads them.
func (m *Metrics) resetActive() {
	for _, s := range activeStates() {
		m.active.WithLabelValues(s).Set(0)
	}
}

// moved shifts one job between active states ("" or a final state: not
// counted).
func (m *Metrics) moved(from, to string) {
	if from == to {
		return
	}
	if !messages.JobFinal(from) && from != "" {
		m.active.WithLabelValues(from).Dec()
	}
	if !messages.JobFinal(to) && to != "" {
		m.active.WithLabelValues(to).Inc()
	}
}
