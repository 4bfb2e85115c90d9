package ledger

import (
	"bytes"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"

	"github.com/intercooperative-network/icn-go/messages"
)

// observations is how many durations the op's histogram holds.
func observations(t *testing.T, m *Metrics, op string) uint64 {
	t.Helper()
	var out dto.Metric
	if err := m.ops.WithLabelValues(op).(prometheus.Histogram).Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.GetHistogram().GetSampleCount()
}

// TestMetricsFollowTheLedger: the gauges follow the local accounts, every
// operation's duration is observed, and each refusal is counted under the
// reason label reject gives it.
func TestMetricsFollowTheLedger(t *testing.T) {
	n := startNode(t, setup{})
	gauges := func(accounts, supply, reserved float64) {
		t.Helper()
		// A request after a commit is taken after the actor heard of it.
		n.account(t, "")
		if got := testutil.ToFloat64(n.metrics.accounts); got != accounts {
			t.Fatalf("icn_ledger_accounts = %v, want %v", got, accounts)
		}
		if got := testutil.ToFloat64(n.metrics.supply); got != supply {
			t.Fatalf("icn_ledger_mana_supply = %v, want %v", got, supply)
		}
		if got := testutil.ToFloat64(n.metrics.reserved); got != reserved {
			t.Fatalf("icn_ledger_reserved_mana = %v, want %v", got, reserved)
		}
	}
	gauges(1, 1000, 0)
	b := n.newAccount(t)
	gauges(2, 2000, 0)
	ask[*messages.TransferReply](t, n, &messages.Transfer{To: b, Amount: 300})
	ask[*messages.EntryReply](t, n, &messages.Reserve{Account: n.self, Ref: "job-1", Amount: 200})
	gauges(2, 2000, 200) // a transfer between local accounts moves mana, creates none
	ask[*messages.EntryReply](t, n, &messages.Settle{Account: n.self, Ref: "job-1", Pay: 50, To: b})
	remote := "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
	ask[*messages.TransferReply](t, n, &messages.Transfer{To: remote, Amount: 100})
	gauges(2, 1900, 0) // paid out of the node
	ask[*messages.VerifyReport](t, n, &messages.VerifyAccount{Account: b})
	n.account(t, "")
	for op, want := range map[string]uint64{"transfer": 2, "reserve": 1, "settle": 1, "release": 0, "verify": 1} {
		if got := observations(t, n.metrics, op); got != want {
			t.Errorf(`icn_ledger_op_duration_seconds{op=%q} has %d observations, want %d`, op, got, want)
		}
	}

	for _, tc := range []struct {
		name   string
		msg    any
		reason string
	}{
		{"overdraft", &messages.Transfer{To: b, Amount: 1000}, "insufficient_mana"},
		{"reserve too much", &messages.Reserve{Account: n.self, Ref: "big", Amount: 1000}, "insufficient_mana"},
		{"zero", &messages.Transfer{To: b, Amount: 0}, messages.ReasonBadAmount},
		{"over the cap", &messages.Transfer{To: b, Amount: n.params.OpCap + 1}, messages.ReasonBadAmount},
		{"long memo", &messages.Transfer{To: b, Amount: 1, Memo: string(bytes.Repeat([]byte("m"), messages.MaxMemoLength+1))}, messages.ReasonBadOp},
		{"bad payee", &messages.Transfer{To: "did:key:nope", Amount: 1}, "invalid"},
		{"release of none", &messages.Release{Account: n.self, Ref: "job-9"}, "invalid"},
		{"remote payer", &messages.Transfer{From: remote, To: b, Amount: 1}, "not_local"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := n.metrics.rejections.WithLabelValues(tc.reason)
			before := testutil.ToFloat64(c)
			if err := askErr(t, n, tc.msg); err == nil {
				t.Fatal("accepted")
			}
			if got := testutil.ToFloat64(c) - before; got != 1 {
				t.Fatalf(`icn_ledger_rejections_total{reason=%q} rose by %v`, tc.reason, got)
			}
		})
	}
	// The labels of every reason besides the rules' are there from the start.
	if got, want := testutil.CollectAndCount(n.metrics.rejections), len(rejectionReasons)+2; got != want {
		t.Fatalf("icn_ledger_rejections_total has %d series, want %d", got, want)
	}
	gauges(2, 1900, 0)
}
