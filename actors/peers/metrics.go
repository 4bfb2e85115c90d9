package peers

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/messages/envelope"
)

// Metrics are the peer manager's; one set per node, shared by every
// incarnation. The network service counts connections, messages and bytes.
type Metrics struct {
	rejected     *prometheus.CounterVec
	breakersOpen prometheus.Gauge
	requests     *prometheus.CounterVec
	probes       prometheus.Counter
	rpc          *prometheus.HistogramVec
}

// NewMetrics registers the peer manager's metrics.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "icn_network_rejected_total",
			Help: "Messages from other nodes refused before any subsystem saw them, by reason."}, []string{"reason"}),
		breakersOpen: prometheus.NewGauge(prometheus.GaugeOpts{Name: "icn_peer_breakers_open",
			Help: "Peers whose breaker is open: requests to them fail at once."}),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "icn_peer_requests_total",
			Help: "Requests to other nodes, by result (ok, failed, fast_fail: refused by an open breaker)."}, []string{"result"}),
		probes: prometheus.NewCounter(prometheus.CounterOpts{Name: "icn_peer_probes_total",
			Help: "Probe messages received by gossip."}),
		// Here rather than in the network, which moves opaque bytes: only
		// the envelope says what a request is.
		rpc: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "icn_rpc_duration_seconds",
			Help: "Direct RPC latency by message type (method, \"other\" for types this node does not route): " +
				"a whole request as seen by the caller (side=\"request\"), or the serving of one (side=\"serve\").",
			Buckets: prometheus.ExponentialBuckets(100e-6, 2.5, 13), // 100 µs .. about 6 s
		}, []string{"method", "side"}),
	}
	for _, c := range []prometheus.Collector{m.rejected, m.breakersOpen, m.requests, m.probes, m.rpc} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, r := range envelope.Reasons() {
		m.rejected.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "failed", "fast_fail"} {
		m.requests.WithLabelValues(r)
	}
	return m, nil
}
