package wiring

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/intercooperative-network/icn-go/actors/actortest"
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

// BenchmarkJobThroughputDurable is actors/jobs' BenchmarkJobThroughput on
// one production node (badger, every commit synced) running its jobs on its
// own workers: b.N trivial jobs (upper.wasm) with 100 in flight, each from
// submit to completed; reports jobs/s. Each waiter polls GetJob every
// 100 ms: the floor that sets (1,000 jobs/s) is far above the result, and
// the pollers cost the manager little.
func BenchmarkJobThroughputDurable(b *testing.B) {
	const (
		inFlight = 100
		poll     = 100 * time.Millisecond
	)
	n := prodNodeWith(b, func(c *Config) {
		c.Workers = 2                        // one per core of the 2-core machine the goals are set for
		c.Ledger.Initial = c.Ledger.Capacity // room for the jobs' payments
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	mod, err := block.NewRaw(wasmtest.WAT(b, "upper"))
	if err != nil {
		b.Fatal(err)
	}
	// The dag may still be loading its index: the module is put once it
	// answers.
	if err := waitUntil(20*time.Second, func() bool {
		_, err := n.Tree.Request(ctx, "dag", &messages.PutBlocks{Blocks: []block.Block{mod}, Pin: &messages.PinBlock{CID: mod.CID()}})
		return err == nil
	}); err != nil {
		b.Fatal("the dag never took the module")
	}
	// max_mana 20 covers the production price (10) and the worst fuel cost
	// at the default fuel limit (10); 100 jobs in flight hold 2,000.
	run := func(tag string) error {
		s, err := askRunning[*messages.JobStatus](ctx, n, "jobs", &messages.SubmitJob{Spec: messages.JobSpec{
			Module: mod.CID(), Input: []byte(tag), MaxMana: 20}})
		if err != nil {
			return err
		}
		for !messages.JobFinal(s.State) {
			time.Sleep(poll)
			if s, err = askRunning[*messages.JobStatus](ctx, n, "jobs", &messages.GetJob{ID: s.ID}); err != nil {
				return err
			}
		}
		if s.State != messages.JobCompleted {
			return fmt.Errorf("job %s %s: %s", s.ID, s.State, s.Reason)
		}
		return nil
	}
	// The module is compiled and cached before the clock starts.
	if err := run(fmt.Sprintf("warm-up %d", time.Now().UnixNano())); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	elapsed, err := actortest.InFlight(b.N, inFlight, func(i int) error { return run(fmt.Sprintf("durable %d", i)) })
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "jobs/s")
}

// askRunning asks the named subsystem until it is past loading or
// restarting.
func askRunning[R any](ctx context.Context, n *Node, name string, msg any) (R, error) {
	for {
		r, err := supervisors.Ask[R](ctx, n.Tree, name, msg)
		var u *supervisors.UnavailableError
		if (errors.As(err, &u) || errors.Is(err, supervisors.ErrNotRunning)) && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
			continue
		}
		return r, err
	}
}
