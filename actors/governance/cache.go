package governance

import (
	"container/list"
	"sync"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/ccl/runtime"
)

// policyCache keeps the most recently used loaded policies by manifest
// CID, at most size of them. The operations' goroutines share it.
type policyCache struct {
	mu    sync.Mutex
	size  int
	order *list.List               // of *cacheEntry, most recent first
	byKey map[string]*list.Element // by the manifest CID's key
}

type cacheEntry struct {
	key    string
	policy *runtime.Policy
}

func newPolicyCache(size int) *policyCache {
	return &policyCache{size: size, order: list.New(), byKey: map[string]*list.Element{}}
}

func (c *policyCache) get(k cid.Cid) (*runtime.Policy, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byKey[k.KeyString()]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).policy, true
}

func (c *policyCache) add(k cid.Cid, p *runtime.Policy) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := k.KeyString()
	if el, ok := c.byKey[key]; ok {
		el.Value.(*cacheEntry).policy = p
		c.order.MoveToFront(el)
		return
	}
	c.byKey[key] = c.order.PushFront(&cacheEntry{key: key, policy: p})
	for c.order.Len() > c.size {
		old := c.order.Remove(c.order.Back()).(*cacheEntry)
		delete(c.byKey, old.key)
	}
}

func (c *policyCache) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}
