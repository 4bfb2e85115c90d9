// Package metricstest reads series back from a Prometheus registry, for
// tests that check what a node counts. It is for tests only: nothing in
// the daemon imports it.
package metricstest

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// Value returns the first series named name whose labels include labels:
// a counter's or gauge's value, a histogram's sample count. found is false
// when there is none.
func Value(g prometheus.Gatherer, name string, labels map[string]string) (v float64, found bool, err error) {
	mfs, err := g.Gather()
	if err != nil {
		return 0, false, fmt.Errorf("metricstest: gather: %w", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !has(m, labels) {
				continue
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), true, nil
			case m.Gauge != nil:
				return m.Gauge.GetValue(), true, nil
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), true, nil
			}
		}
	}
	return 0, false, nil
}

// has reports whether m carries every label of labels.
func has(m *dto.Metric, labels map[string]string) bool {
	for k, v := range labels {
		found := false
		for _, l := range m.GetLabel() {
			if l.GetName() == k && l.GetValue() == v {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}
