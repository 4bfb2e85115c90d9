package wiring

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/messages/block/blocktest"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// prodNode starts a production node (libp2p on 127.0.0.1, badger under a
// temp dir) bootstrapping from bootstrap, if given.
func prodNode(b testing.TB, bootstrap ...string) *Node {
	b.Helper()
	return prodNodeWith(b, nil, bootstrap...)
}

// prodNodeWith is prodNode with mutate applied to the config.
func prodNodeWith(b testing.TB, mutate func(*Config), bootstrap ...string) *Node {
	b.Helper()
	cfg, err := Default(ProfileProduction)
	if err != nil {
		b.Fatal(err)
	}
	if mutate != nil {
		mutate(&cfg)
	}
	cfg.DataDir = b.TempDir()
	cfg.APIAddr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.P2P.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.P2P.Bootstrap = bootstrap
	cfg.LogLevel = "error"
	n, err := New(cfg, Options{Logger: discard(), Version: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = n.Stop(context.Background()) })
	return n
}

// wideDAG is a root linking `fanout` nodes of `fanout` leaves of size
// bytes each: 1 + fanout + fanout² blocks.
func wideDAG(b *testing.B, fanout, size int) (cid.Cid, []block.Block) {
	root, all, err := blocktest.WideDAG(fanout, size)
	if err != nil {
		b.Fatal(err)
	}
	return root, all
}

// BenchmarkFetchDAG: one production node fetches a DAG from another over
// libp2p on loopback (every block asked by RPC, checked, stored durably),
// next to the node that has the DAG walking it (the same walk, every block
// a local get).
func BenchmarkFetchDAG(b *testing.B) {
	for _, size := range []int{4 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			src := prodNode(b)
			var addr string
			for _, a := range src.Network.Addrs() {
				addr = a.String() + "/p2p/" + src.Network.ID().String()
			}
			ctx := context.Background()
			var bytes int64
			var blocks int
			var fetchTook, localTook time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				root, all := wideDAG(b, 20, size) // 421 blocks
				for s := 0; s < len(all); s += 100 {
					if _, err := src.Tree.Request(ctx, "dag", &messages.PutBlocks{Blocks: all[s:min(s+100, len(all))]}); err != nil {
						b.Fatal(err)
					}
				}
				if _, err := src.Tree.Request(ctx, "dag", &messages.PinBlock{CID: root, Recursive: true}); err != nil {
					b.Fatal(err)
				}
				dst := prodNode(b, addr)
				if err := waitUntil(10*time.Second, func() bool {
					l, err := supervisors.Ask[*messages.PeerList](ctx, dst.Tree, "peers", &messages.ListPeers{})
					return err == nil && len(l.Peers) > 0 && l.Peers[0].Connected
				}); err != nil {
					b.Fatal("no connection")
				}
				b.StartTimer()
				began := time.Now()
				r, err := supervisors.Ask[*messages.FetchDAGReply](ctx, dst.Tree, "dag", &messages.FetchDAG{Root: root})
				if err != nil || r.Fetched != len(all) {
					b.Fatalf("fetch: %+v %v", r, err)
				}
				fetchTook += time.Since(began)
				b.StopTimer()
				began = time.Now()
				// The same walk on the node that has it all: every block a local get.
				if lr, err := supervisors.Ask[*messages.FetchDAGReply](ctx, src.Tree, "dag", &messages.FetchDAG{Root: root}); err != nil || lr.Fetched != 0 {
					b.Fatalf("local walk: %+v %v", lr, err)
				}
				localTook += time.Since(began)
				bytes += r.Bytes
				blocks += r.Fetched
				b.StartTimer()
			}
			b.ReportMetric(float64(blocks)/fetchTook.Seconds(), "fetch-blocks/s")
			b.ReportMetric(float64(bytes)/fetchTook.Seconds()/(1<<20), "fetch-MiB/s")
			b.ReportMetric(float64(blocks)/localTook.Seconds(), "local-blocks/s")
		})
	}
}
