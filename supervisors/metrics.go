package supervisors

import (
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the supervision metrics of one tree. The actor label is the
// actor's class path (e.g. /icn/dag, /icn/executors/worker): dynamic children
// of one class share a label value, so cardinality stays bounded.
type metrics struct {
	tree        *Tree
	restarts    *prometheus.CounterVec
	failures    *prometheus.CounterVec
	transitions *prometheus.CounterVec
	deadLetters prometheus.Counter

	breakerDesc   *prometheus.Desc
	mailboxDesc   *prometheus.Desc
	processedDesc *prometheus.Desc
	actorsDesc    *prometheus.Desc

	mu        sync.Mutex
	processed map[string]*atomic.Uint64 // by class
}

func newMetrics(t *Tree, reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		tree: t,
		restarts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icn_actor_restarts_total", Help: "Restarts of actors by their supervisor (including half-open probes).",
		}, []string{"actor"}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icn_actor_failures_total", Help: "Abnormal ends of actors: panics, escalations and fault-injected stops.",
		}, []string{"actor"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icn_breaker_transitions_total", Help: "Circuit breaker transitions, by the state entered.",
		}, []string{"actor", "to"}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "icn_deadletters_total", Help: "Messages sent to actors that no longer exist.",
		}),
		breakerDesc: prometheus.NewDesc("icn_breaker_state",
			"Circuit breaker state per actor class: 0 closed, 1 half_open, 2 open (the worst of the class).", []string{"actor"}, nil),
		mailboxDesc: prometheus.NewDesc("icn_actor_mailbox_messages",
			"Messages waiting in actor mailboxes, per actor class.", []string{"actor"}, nil),
		processedDesc: prometheus.NewDesc("icn_actor_messages_processed_total",
			"Messages handled by actors, per actor class.", []string{"actor"}, nil),
		actorsDesc: prometheus.NewDesc("icn_actors",
			"Actors in the supervision tree by status.", []string{"status"}, nil),
		processed: map[string]*atomic.Uint64{},
	}
	for _, c := range []prometheus.Collector{m.restarts, m.failures, m.transitions, m.deadLetters, m} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// touch creates the zero-valued series of an actor class, so that rate()
// and alert rules see them before the first restart.
func (m *metrics) touch(class string) {
	m.restarts.WithLabelValues(class)
	m.failures.WithLabelValues(class)
	for _, to := range []BreakerState{Closed, HalfOpen, Open} {
		m.transitions.WithLabelValues(class, to.String())
	}
}

func (m *metrics) processedFor(class string) *atomic.Uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	c, ok := m.processed[class]
	if !ok {
		c = new(atomic.Uint64)
		m.processed[class] = c
	}
	return c
}

// Describe implements prometheus.Collector.
func (m *metrics) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.breakerDesc
	ch <- m.mailboxDesc
	ch <- m.processedDesc
	ch <- m.actorsDesc
}

// Collect implements prometheus.Collector: it reads the live registry.
func (m *metrics) Collect(ch chan<- prometheus.Metric) {
	breaker := map[string]int32{}
	mailbox := map[string]int64{}
	var order []string
	statuses := map[Status]int{Running: 0, Restarting: 0, Stopped: 0}
	m.tree.reg.walk(func(e *entry) {
		if _, seen := breaker[e.class]; !seen {
			order = append(order, e.class)
		}
		breaker[e.class] = max(breaker[e.class], e.breaker.Load())
		mailbox[e.class] += e.mailboxLen()
		statuses[e.Status()]++
	})
	for _, class := range order {
		ch <- prometheus.MustNewConstMetric(m.breakerDesc, prometheus.GaugeValue, float64(breaker[class]), class)
		ch <- prometheus.MustNewConstMetric(m.mailboxDesc, prometheus.GaugeValue, float64(mailbox[class]), class)
	}
	m.mu.Lock()
	for class, c := range m.processed {
		ch <- prometheus.MustNewConstMetric(m.processedDesc, prometheus.CounterValue, float64(c.Load()), class)
	}
	m.mu.Unlock()
	for s, n := range statuses {
		ch <- prometheus.MustNewConstMetric(m.actorsDesc, prometheus.GaugeValue, float64(n), s.String())
	}
}
