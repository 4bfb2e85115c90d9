package dag

import (
	"container/list"
	"sync"

	"github.com/intercooperative-network/icn-go/messages/block"
)

// blockCache keeps recently read blocks, verified against their CIDs, up
// to a byte budget, so that a hot block is served from memory without a
// store read or a hash. Only bytes read from disk need a hash check (the
// integrity rule); a block in the cache was checked when it was read.
//
// The reader goroutines add to it and the actor reads and invalidates it,
// hence the mutex. Garbage collection removes what it deletes; a reader
// that read a block before a collection deleted it must not put it back,
// so adds carry the generation the reader saw before its store read, and
// every removal starts a new generation. A nil cache caches nothing.
type blockCache struct {
	mu    sync.Mutex
	max   int64 // bytes
	item  int64 // the largest block kept, so one huge block cannot flush the rest
	size  int64
	gen   uint64
	lru   *list.List // of *cachedBlock, most recently used first
	items map[string]*list.Element
}

type cachedBlock struct {
	key string
	b   block.Block
}

// newBlockCache returns a cache of max bytes, or nil when max <= 0.
func newBlockCache(max int64) *blockCache {
	if max <= 0 {
		return nil
	}
	return &blockCache{max: max, item: max / 16, lru: list.New(), items: map[string]*list.Element{}}
}

// get returns the block under key (CID bytes), if cached.
func (c *blockCache) get(key string) (block.Block, bool) {
	if c == nil {
		return block.Block{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.items[key]
	if !ok {
		return block.Block{}, false
	}
	c.lru.MoveToFront(e)
	return e.Value.(*cachedBlock).b, true
}

// generation is what a reader notes before reading the store.
func (c *blockCache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// add caches b, read by a reader that noted gen before its store read;
// it does nothing if a removal happened since (the block may be gone).
func (c *blockCache) add(key string, b block.Block, gen uint64) {
	if c == nil || int64(b.Size()) > c.item {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if e, ok := c.items[key]; ok {
		c.lru.MoveToFront(e)
		return
	}
	c.items[key] = c.lru.PushFront(&cachedBlock{key: key, b: b})
	c.size += int64(b.Size())
	for c.size > c.max {
		last := c.lru.Back()
		cb := last.Value.(*cachedBlock)
		c.lru.Remove(last)
		delete(c.items, cb.key)
		c.size -= int64(cb.b.Size())
	}
}

// remove drops keys (blocks deleted from the store) and starts a new
// generation.
func (c *blockCache) remove(keys []string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	for _, k := range keys {
		if e, ok := c.items[k]; ok {
			c.lru.Remove(e)
			delete(c.items, k)
			c.size -= int64(e.Value.(*cachedBlock).b.Size())
		}
	}
}

// bytes is what the cache holds.
func (c *blockCache) bytes() int64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size
}
