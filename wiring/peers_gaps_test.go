package wiring

import (
	"bytes"
	"context"
	"crypto/rand"
	"testing"
	"time"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/messages/envelope"
	"github.com/intercooperative-network/icn-go/services/httpapi"
	"github.com/intercooperative-network/icn-go/services/network"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// TestABlockOverAMebibyteIsFetched: the peers' body limit and the RPC
// frame follow dag.max_block_size (4 MiB by default), so a 2 MiB block is
// fetched from another node.
func TestABlockOverAMebibyteIsFetched(t *testing.T) {
	nodes := federation(t, 2)
	data := make([]byte, 2<<20)
	if _, err := rand.Read(data); err != nil {
		t.Fatal(err)
	}
	big, err := block.NewRaw(data)
	if err != nil {
		t.Fatal(err)
	}
	// A loaded 2-core machine may need more than the tree's default 5 s.
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := nodes[0].Tree.Request(ctx, "dag", &messages.PutBlocks{Blocks: []block.Block{big}}); err != nil {
		t.Fatal(err)
	}
	r, err := supervisors.Ask[*messages.GetBlockReply](ctx, nodes[1].Tree, "dag", &messages.GetBlock{CID: big.CID(), Fetch: true})
	if err != nil {
		t.Fatalf("fetch a 2 MiB block: %v", err)
	}
	if !bytes.Equal(r.Block.Data(), data) {
		t.Fatalf("fetched %d bytes, not the block", len(r.Block.Data()))
	}
}

// TestTheLargestBlockFitsAnRPCFrame: whatever dag.max_block_size allows
// can cross in a signed envelope.
func TestTheLargestBlockFitsAnRPCFrame(t *testing.T) {
	if need := MaxBlockSize + envelope.Overhead; need > network.MaxRPCSize {
		t.Fatalf("a %d-byte block needs %d bytes on the wire, network.MaxRPCSize is %d", MaxBlockSize, need, network.MaxRPCSize)
	}
}

// TestPeerTableShowsRoundTrips: connected peers are pinged, so rtt_ms is
// filled in without anyone asking.
func TestPeerTableShowsRoundTrips(t *testing.T) {
	nodes := federation(t, 2)
	c := newAPI(t, nodes[1])
	first := nodes[0].Network.ID().String()
	if err := waitUntil(10*time.Second, func() bool {
		var l httpapi.PeerList
		c.json("GET", "/api/v1/peers", "", nil, 200, &l)
		for _, p := range l.Peers {
			if p.PeerID == first {
				return p.RTTMS > 0
			}
		}
		return false
	}); err != nil {
		t.Fatal("rtt_ms of the bootstrap peer stayed 0")
	}
}
