package wiring

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// BenchmarkJobAcrossNodes: three production nodes on loopback (libp2p
// TCP, badger, every commit synced); jobs are submitted on a node with no
// workers, so each is announced, bid for by the two others, assigned,
// run there, and its receipt and output fetched, verified and paid for.
// An op is one trivial job (upper.wasm) from submit to completed.
func BenchmarkJobAcrossNodes(b *testing.B) {
	noWorkers := func(c *Config) {
		c.Workers = 0
		c.Ledger.Initial = c.Ledger.Capacity // each job pays 10: room for 1,000
	}
	a := prodNodeWith(b, noWorkers)
	var addr string
	for _, x := range a.Network.Addrs() {
		addr = x.String() + "/p2p/" + a.Network.ID().String()
	}
	prodNode(b, addr)
	prodNode(b, addr)
	ctx := context.Background()
	if err := waitUntil(20*time.Second, func() bool {
		l, err := supervisors.Ask[*messages.PeerList](ctx, a.Tree, "peers", &messages.ListPeers{})
		connected := 0
		if err == nil {
			for _, p := range l.Peers {
				if p.Connected {
					connected++
				}
			}
		}
		return connected >= 2
	}); err != nil {
		b.Fatal("the executors never connected")
	}
	mod, err := block.NewRaw(wasmtest.WAT(b, "upper"))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := a.Tree.Request(ctx, "dag", &messages.PutBlocks{Blocks: []block.Block{mod}, Pin: &messages.PinBlock{CID: mod.CID()}}); err != nil {
		b.Fatal(err)
	}
	run := func(b *testing.B, i, verify int) time.Duration {
		began := time.Now()
		s, err := supervisors.Ask[*messages.JobStatus](ctx, a.Tree, "jobs", &messages.SubmitJob{Spec: messages.JobSpec{
			Module: mod.CID(), Input: fmt.Appendf(nil, "job %d %d", i, began.UnixNano()), Verify: verify}})
		if err != nil {
			b.Fatal(err)
		}
		for {
			st, err := supervisors.Ask[*messages.JobStatus](ctx, a.Tree, "jobs", &messages.GetJob{ID: s.ID})
			if err != nil {
				b.Fatal(err)
			}
			if messages.JobFinal(st.State) {
				if st.State != messages.JobCompleted {
					b.Fatalf("job %s: %s %s", s.ID, st.State, st.Reason)
				}
				return time.Since(began)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	run(b, -1, 2) // both executors compile the module once
	// verify=2: the job runs on both executors at once and their receipts
	// are compared; each is paid from its own share of the escrow.
	for _, verify := range []int{1, 2} {
		b.Run(fmt.Sprintf("verify=%d", verify), func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			for i := range b.N {
				lat = append(lat, run(b, i, verify))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
		})
	}
}
