package ledger

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/messages"
)

// Metrics are the ledger's metrics; one set per node, shared by every
// incarnation of the actor.
type Metrics struct {
	entries                    *prometheus.CounterVec
	accounts, supply, reserved prometheus.Gauge
	refused                    prometheus.Gauge
	ops                        *prometheus.HistogramVec
	rejections                 *prometheus.CounterVec
	replays                    prometheus.Counter
}

// rejectionReasons are the reason labels of icn_ledger_rejections_total
// besides the rules' reasons (messages.Reason*, those apply gives).
var rejectionReasons = []string{"insufficient_mana", "invalid", "not_local", "key_reused", "broken_chain", "busy", "unavailable", "commit_failed"}

// NewMetrics registers the ledger's metrics.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		entries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "icn_ledger_entries_total",
			Help: "Entries appended to local accounts' chains, durable, by op."}, []string{"op"}),
		accounts: prometheus.NewGauge(prometheus.GaugeOpts{Name: "icn_ledger_accounts", Help: "Local accounts (keys this node holds)."}),
		supply: prometheus.NewGauge(prometheus.GaugeOpts{Name: "icn_ledger_mana_supply",
			Help: "Mana held by local accounts, available and reserved, regeneration to the last change included."}),
		reserved: prometheus.NewGauge(prometheus.GaugeOpts{Name: "icn_ledger_reserved_mana", Help: "Mana held in open reservations of local accounts."}),
		refused: prometheus.NewGauge(prometheus.GaugeOpts{Name: "icn_ledger_refused_accounts",
			Help: "Local accounts refused because their chain does not replay to its head (the log names them)."}),
		ops: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "icn_ledger_op_duration_seconds", Help: "Duration of ledger operations, from the actor taking the request to the durable answer.",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"op"}),
		rejections: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "icn_ledger_rejections_total",
			Help: "Ledger operations refused (nothing recorded), by reason."}, []string{"reason"}),
		replays: prometheus.NewCounter(prometheus.CounterOpts{Name: "icn_ledger_transfer_replays_total",
			Help: "Transfers retried with an idempotency key already paid under, answered with the first transfer's entries."}),
	}
	for _, c := range []prometheus.Collector{m.entries, m.accounts, m.supply, m.reserved, m.refused, m.ops, m.rejections, m.replays} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, op := range []string{messages.OpOpen, messages.OpSend, messages.OpReceive, messages.OpReserve, messages.OpRelease, messages.OpSettle} {
		m.entries.WithLabelValues(op)
	}
	for _, op := range []string{"transfer", "reserve", "release", "settle", "verify"} {
		m.ops.WithLabelValues(op)
	}
	for _, r := range rejectionReasons {
		m.rejections.WithLabelValues(r)
	}
	return m, nil
}
