package dag

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the dag's metrics; one set per node, shared by every
// incarnation of the actor.
type Metrics struct {
	blocks, bytes prometheus.Gauge
	puts, gets    prometheus.Counter
	gcRemoved     prometheus.Counter
	corrupt       prometheus.Counter
	cacheHits     prometheus.Counter
	cacheBytes    prometheus.Gauge
	fetches       *prometheus.CounterVec
	announces     *prometheus.CounterVec
	dagFetches    prometheus.Gauge   // whole-DAG fetches in flight
	dagBlocks     prometheus.Counter // blocks walked by whole-DAG fetches
	ops           *prometheus.HistogramVec
}

// NewMetrics registers the dag's metrics.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		blocks:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "icn_dag_blocks", Help: "Blocks in the node's store."}),
		bytes:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "icn_dag_bytes", Help: "Bytes of block data in the node's store."}),
		puts:       prometheus.NewCounter(prometheus.CounterOpts{Name: "icn_dag_puts_total", Help: "Blocks stored (acknowledged puts, re-puts included)."}),
		gets:       prometheus.NewCounter(prometheus.CounterOpts{Name: "icn_dag_gets_total", Help: "Block reads, found or not."}),
		gcRemoved:  prometheus.NewCounter(prometheus.CounterOpts{Name: "icn_dag_gc_removed_total", Help: "Blocks removed by garbage collection."}),
		corrupt:    prometheus.NewCounter(prometheus.CounterOpts{Name: "icn_dag_corrupt_blocks_total", Help: "Reads that found a block whose bytes no longer match its CID."}),
		cacheHits:  prometheus.NewCounter(prometheus.CounterOpts{Name: "icn_dag_cache_hits_total", Help: "Block reads served from the cache of verified blocks."}),
		cacheBytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "icn_dag_cache_bytes", Help: "Bytes of blocks in the cache of verified blocks."}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "icn_dag_fetch_total",
			Help: "Blocks asked of other nodes, by result (fetched, not_found, corrupt: a node sent bytes that did not match)."}, []string{"result"}),
		announces: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "icn_dag_announces_total",
			Help: "Provider records put out for pinned roots, by result (announced, failed: retried later)."}, []string{"result"}),
		dagFetches: prometheus.NewGauge(prometheus.GaugeOpts{Name: "icn_dag_fetch_dags_in_flight", Help: "Whole-DAG fetches in flight."}),
		dagBlocks: prometheus.NewCounter(prometheus.CounterOpts{Name: "icn_dag_fetch_dag_blocks_total",
			Help: "Blocks walked by whole-DAG fetches, found here or fetched (those are also in icn_dag_fetch_total)."}),
		ops: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "icn_dag_op_duration_seconds", Help: "Duration of dag operations, from the actor taking the request to the answer.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"op"}),
	}
	for _, c := range []prometheus.Collector{m.blocks, m.bytes, m.puts, m.gets, m.gcRemoved, m.corrupt, m.cacheHits, m.cacheBytes, m.fetches, m.announces, m.dagFetches, m.dagBlocks, m.ops} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	for _, r := range []string{"fetched", "not_found", "corrupt"} {
		m.fetches.WithLabelValues(r)
	}
	for _, r := range []string{"announced", "failed"} {
		m.announces.WithLabelValues(r)
	}
	for _, op := range []string{"put", "get", "stat", "pin", "unpin", "gc", "walk"} {
		m.ops.WithLabelValues(op)
	}
	return m, nil
}
