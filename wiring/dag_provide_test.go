package wiring

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/metrics/metricstest"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// TestAPinnedPutIsFoundThroughProviderRecords: node A puts a pinned DAG
// through its dag actor; node C, which joined through B and was never told
// of A, finds A in the provider record A announced, and fetches the DAG.
//
// The DHT's own walks (C's on joining, A's to place its record) may dial A
// from C in a federation this small, so the test holds C to the provider
// record, not to the absence of a connection: without the announce there
// is no record, and the lookup finds nobody.
func TestAPinnedPutIsFoundThroughProviderRecords(t *testing.T) {
	nodes := federation(t, 3) // B first: A and C bootstrap from it
	a, c := nodes[1], nodes[2]
	blocks := chain(t, 10)
	root := blocks[len(blocks)-1].CID()
	ctx := t.Context()
	if _, err := a.Tree.Request(ctx, "dag", &messages.PutBlocks{Blocks: blocks, Pin: &messages.PinBlock{CID: root, Recursive: true}}); err != nil {
		t.Fatal(err)
	}
	if err := waitUntil(10*time.Second, func() bool { return dagCounter(t, a, "icn_dag_announces_total", "result", "announced") >= 1 }); err != nil {
		t.Fatal("A never announced the root it pinned")
	}
	// C's routing table fills as its connections are identified as DHT
	// servers: until then a lookup finds nothing, so it is asked again.
	var provs []peer.AddrInfo
	var err error
	if werr := waitUntil(10*time.Second, func() bool {
		lookup, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		provs, err = c.Network.FindProviders(lookup, root, 5)
		return err == nil && len(provs) > 0
	}); werr != nil || len(provs) != 1 || provs[0].ID != a.Network.ID() {
		t.Fatalf("C's providers of the root: %v, %v; want A (%s)", provs, err, a.Network.ID())
	}

	before := dagCounter(t, c, "icn_dag_fetch_total", "result", "fetched")
	rep, err := supervisors.Ask[*messages.FetchDAGReply](ctx, c.Tree, "dag", &messages.FetchDAG{Root: root, Pin: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Blocks != len(blocks) || rep.Fetched != len(blocks) {
		t.Fatalf("fetch the DAG: %+v, want %d blocks, all fetched", rep, len(blocks))
	}
	if got := dagCounter(t, c, "icn_dag_fetch_total", "result", "fetched") - before; got != float64(len(blocks)) {
		t.Fatalf("icn_dag_fetch_total{result=fetched} moved by %v, want %d", got, len(blocks))
	}
	for _, b := range blocks {
		got, err := supervisors.Ask[*messages.GetBlockReply](ctx, c.Tree, "dag", &messages.GetBlock{CID: b.CID()})
		if err != nil || !bytes.Equal(got.Block.Data(), b.Data()) {
			t.Fatalf("block %s after the fetch: %v", b.CID(), err)
		}
	}
	// C pinned what it fetched: it announces it in turn.
	if err := waitUntil(10*time.Second, func() bool { return dagCounter(t, c, "icn_dag_announces_total", "result", "announced") >= 1 }); err != nil {
		t.Fatal("C never announced the root it fetched and pinned")
	}
}

// dagCounter reads the counter name{label=value} from n's registry; 0
// when it has not been counted.
func dagCounter(t *testing.T, n *Node, name, label, value string) float64 {
	t.Helper()
	v, _, err := metricstest.Value(n.Registry, name, map[string]string{label: value})
	if err != nil {
		t.Fatal(err)
	}
	return v
}
