package stack

import (
	"testing"
	"time"
)

func TestJitterStaysWithinItsBounds(t *testing.T) {
	for _, tc := range []struct{ delay, floor time.Duration }{
		{250 * time.Millisecond, 125 * time.Millisecond},
		{5 * time.Second, 125 * time.Millisecond},
		{100 * time.Millisecond, time.Second}, // floor capped at delay/2
		{time.Nanosecond, 0},
	} {
		lo := min(tc.floor, tc.delay/2)
		for range 1000 {
			if got := jitter(tc.delay, tc.floor); got < lo || got > tc.delay {
				t.Fatalf("jitter(%s, %s) = %s, want in [%s, %s]", tc.delay, tc.floor, got, lo, tc.delay)
			}
		}
	}
}

func TestConfigDefaults(t *testing.T) {
	c := Config{RedialInitial: 10 * time.Second}.withDefaults()
	if c.RedialMax < c.RedialInitial || c.RecentMax != 32 || c.MaxRPCSize <= 0 || c.RPCTimeout <= 0 {
		t.Fatalf("defaults: %+v", c)
	}
}
