package stack

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/services/network"
)

// Label values of icn_network_messages_total and icn_network_bytes_total.
const (
	dirIn      = "in"
	dirOut     = "out"
	dirDropped = "dropped" // gossip a slow local subscriber missed
	topicRPC   = "rpc"     // the topic label of direct RPC frames
)

type metrics struct {
	messages *prometheus.CounterVec
	bytes    *prometheus.CounterVec
}

// newMetrics registers the network's collectors on reg; peers reports the
// number of connected peers at scrape time.
func newMetrics(reg prometheus.Registerer, peers func() int) (*metrics, error) {
	m := &metrics{
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icn_network_messages_total",
			Help: "Gossip messages and RPC frames (topic=\"rpc\") sent (out), received (in), or dropped for a slow local subscriber.",
		}, []string{"topic", "direction"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "icn_network_bytes_total",
			Help: "Payload bytes of gossip messages and RPC frames, by direction.",
		}, []string{"direction"}),
	}
	connected := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "icn_peers_connected",
		Help: "Peers this node has at least one open connection to.",
	}, func() float64 { return float64(peers()) })
	for _, c := range []prometheus.Collector{m.messages, m.bytes, connected} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("network: register metrics: %w", err)
		}
	}
	// Every series exists from the start, at zero.
	for _, t := range append([]string{topicRPC}, network.Topics()...) {
		for _, d := range []string{dirIn, dirOut, dirDropped} {
			if t == topicRPC && d == dirDropped {
				continue
			}
			m.messages.WithLabelValues(t, d)
		}
	}
	m.bytes.WithLabelValues(dirIn)
	m.bytes.WithLabelValues(dirOut)
	return m, nil
}

func (m *metrics) count(topic, dir string, n int) {
	m.messages.WithLabelValues(topic, dir).Inc()
	if dir != dirDropped {
		m.bytes.WithLabelValues(dir).Add(float64(n))
	}
}
