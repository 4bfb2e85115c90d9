package metrics

import (
	"runtime"
	"testing"
)

func TestNewRegistryHasGoProcessAndBuildInfo(t *testing.T) {
	mfs, err := NewRegistry("v1.2.3").Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, mf := range mfs {
		names[mf.GetName()] = true
		if mf.GetName() != "icn_build_info" {
			continue
		}
		labels := map[string]string{}
		for _, lp := range mf.GetMetric()[0].GetLabel() {
			labels[lp.GetName()] = lp.GetValue()
		}
		if labels["version"] != "v1.2.3" || labels["goversion"] != runtime.Version() || mf.GetMetric()[0].GetGauge().GetValue() != 1 {
			t.Errorf("icn_build_info: %v = %v", labels, mf.GetMetric()[0].GetGauge().GetValue())
		}
	}
	for _, want := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_start_time_seconds", "process_open_fds", "icn_build_info"} {
		if !names[want] {
			t.Errorf("the node's registry lacks %s", want)
		}
	}
}
