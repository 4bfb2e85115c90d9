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

func TestDiscoveryRefreshScheduleGrowsThenEnds(t *testing.T) {
	d := &redialer{refreshGap: refreshFirst}
	start := time.Unix(1000, 0)
	if due, _ := d.refreshDue(start, false); due {
		t.Fatal("a refresh with nobody connected")
	}
	if due, _ := d.refreshDue(start, true); !due {
		t.Fatal("no refresh at first contact")
	}
	now := start
	var gaps []time.Duration
	for range 20 {
		due, in := d.refreshDue(now, true)
		if due {
			t.Fatalf("refresh again at once at %s", now.Sub(start))
		}
		if in == 0 {
			break // the schedule ended
		}
		now = now.Add(in)
		if due, _ := d.refreshDue(now, true); !due {
			t.Fatalf("no refresh when it said it would be due (%s)", now.Sub(start))
		}
		gaps = append(gaps, in)
	}
	want := []time.Duration{refreshFirst}
	for g := 2 * refreshFirst; g < refreshEvery; g *= 2 {
		want = append(want, g)
	}
	if len(gaps) != len(want) {
		t.Fatalf("gaps %v, want %v", gaps, want)
	}
	for i := range want {
		if gaps[i] != want[i] {
			t.Fatalf("gaps %v, want %v", gaps, want)
		}
	}
}
