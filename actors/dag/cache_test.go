package dag

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/store/memstore"
)

func TestBlockCacheKeepsTheRecentWithinItsBudget(t *testing.T) {
	c := newBlockCache(64 << 10) // items up to 4 KiB
	blocks := make([]block.Block, 40)
	for i := range blocks {
		blocks[i] = raw(t, fmt.Sprintf("%04d%s", i, make([]byte, 2000)))
	}
	for _, b := range blocks {
		c.add(string(b.CID().Bytes()), b, c.generation())
	}
	if c.bytes() > 64<<10 {
		t.Fatalf("cache holds %d bytes, budget %d", c.bytes(), 64<<10)
	}
	if _, ok := c.get(string(blocks[0].CID().Bytes())); ok {
		t.Fatal("the oldest block survived eviction")
	}
	last := blocks[len(blocks)-1]
	if got, ok := c.get(string(last.CID().Bytes())); !ok || !got.CID().Equals(last.CID()) {
		t.Fatal("the newest block is not cached")
	}
	big := raw(t, string(make([]byte, 5<<10)))
	c.add(string(big.CID().Bytes()), big, c.generation())
	if _, ok := c.get(string(big.CID().Bytes())); ok {
		t.Fatal("a block over a sixteenth of the budget was cached")
	}

	// A read that began before a removal cannot put the block back.
	gen := c.generation()
	c.remove([]string{string(last.CID().Bytes())})
	c.add(string(last.CID().Bytes()), last, gen)
	if _, ok := c.get(string(last.CID().Bytes())); ok {
		t.Fatal("a block removed by GC came back from a read that began before it")
	}
	var none *blockCache // disabled
	none.add("k", last, 0)
	if _, ok := none.get("k"); ok || none.bytes() != 0 {
		t.Fatal("a nil cache cached")
	}
}

func TestReadsAreServedFromTheCacheUntilGCRemovesTheBlock(t *testing.T) {
	n := start(t, memstore.New(), Config{MaxBlockSize: 1 << 20, GCGrace: time.Hour, CacheBytes: 1 << 20})
	b := raw(t, "hot block")
	ask[*messages.PutBlocksReply](t, n, &messages.PutBlocks{Blocks: []block.Block{b}})
	for range 3 {
		if r := ask[*messages.GetBlockReply](t, n, &messages.GetBlock{CID: b.CID()}); !r.Block.CID().Equals(b.CID()) {
			t.Fatalf("get: %v", r.Block.CID())
		}
	}
	// The first read went to the store, which cached it before answering.
	if hits := testutil.ToFloat64(n.metrics.cacheHits); hits != 2 {
		t.Fatalf("cache hits after three reads: %v", hits)
	}
	if got := testutil.ToFloat64(n.metrics.gets); got != 3 {
		t.Fatalf("gets: %v", got)
	}
	n.clock.Advance(2 * time.Hour) // past the grace: unpinned, it goes
	if r := ask[*messages.CollectGarbageReply](t, n, &messages.CollectGarbage{}); r.RemovedCount != 1 {
		t.Fatalf("gc: %+v", r)
	}
	if err := askErr(t, n, &messages.GetBlock{CID: b.CID()}); !errors.Is(err, messages.ErrBlockNotFound) {
		t.Fatalf("get after gc: %v", err)
	}
	if got := testutil.ToFloat64(n.metrics.cacheBytes); got != 0 {
		t.Fatalf("icn_dag_cache_bytes after gc: %v", got)
	}
}
