package jobs

import (
	"strings"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
)

// Two receipts agree on output and exit code, and on fuel only when they
// measure it in the same cost table: executors on different versions of
// the table report different fuel for the same honest run.
func TestReceiptsAgree(t *testing.T) {
	raw := func(s string) cid.Cid {
		b, err := block.NewRaw([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return b.CID()
	}
	out, other := raw("out"), raw("other")
	run := func(f func(*messages.JobReceipt)) *messages.JobReceipt {
		r := &messages.JobReceipt{Output: out, ExitCode: 0, FuelUsed: 1000, CostTableVersion: 3}
		if f != nil {
			f(r)
		}
		return r
	}
	tests := []struct {
		name  string
		b     *messages.JobReceipt
		agree bool
		why   string // in the reason of a mismatch
	}{
		{"the same run", run(nil), true, ""},
		{"same table, other fuel", run(func(r *messages.JobReceipt) { r.FuelUsed++ }), false, "fuel 1001 at cost table v3) disagree"},
		{"other table, other fuel", run(func(r *messages.JobReceipt) { r.FuelUsed, r.CostTableVersion = 1200, 4 }), true, ""},
		{"other table, same fuel", run(func(r *messages.JobReceipt) { r.CostTableVersion = 4 }), true, ""},
		{"a receipt from before the table was recorded", run(func(r *messages.JobReceipt) { r.FuelUsed, r.CostTableVersion = 900, 0 }), true, ""},
		{"other table, other output", run(func(r *messages.JobReceipt) { r.Output, r.FuelUsed, r.CostTableVersion = other, 1200, 4 }),
			false, "fuel is not compared across cost tables"},
		{"other table, other exit code", run(func(r *messages.JobReceipt) { r.ExitCode, r.CostTableVersion = 1, 4 }),
			false, "fuel is not compared across cost tables"},
		{"same table, other output", run(func(r *messages.JobReceipt) { r.Output = other }), false, "exit 0, fuel 1000 at cost table v3) disagree"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := run(nil)
			if got := agree(a, tt.b); got != tt.agree {
				t.Fatalf("agree = %v, want %v", got, tt.agree)
			}
			if got := agree(tt.b, a); got != tt.agree {
				t.Fatalf("agree is not symmetric")
			}
			if tt.agree {
				return
			}
			why := disagreement("did:key:a", a, "did:key:b", tt.b)
			if !strings.Contains(why, tt.why) {
				t.Fatalf("reason %q, want it to say %q", why, tt.why)
			}
			if sameCostTable(a, tt.b) == strings.Contains(why, "not compared") {
				t.Fatalf("reason %q misstates whether fuel was compared", why)
			}
		})
	}
}
