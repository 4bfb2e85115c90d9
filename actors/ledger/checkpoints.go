package ledger

import (
	"container/list"
	"context"
	"sync"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// maxCheckpoints bounds the payers whose last verified head a ledger
// remembers; the one least recently used goes first.
const maxCheckpoints = 1024

// checkpoints are the last verified heads of the chains of other nodes'
// accounts that paid this one, so that the check of a payment verifies
// only what the payer appended since its last. Payment checks run off the
// actor's goroutine, hence the lock. They are memory only: the first check
// of a payer after a restart verifies its chain from the open entry.
type checkpoints struct {
	mu    sync.Mutex
	max   int
	byAcc map[string]*list.Element // of order, by account
	order *list.List               // *checkpoint, least recently used first
}

func newCheckpoints(max int) *checkpoints {
	return &checkpoints{max: max, byAcc: map[string]*list.Element{}, order: list.New()}
}

// get returns the checkpoint of account's chain, or nil.
func (c *checkpoints) get(account string) *checkpoint {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byAcc[account]
	if !ok {
		return nil
	}
	c.order.MoveToBack(el)
	return el.Value.(*checkpoint)
}

// put remembers cp unless a later one of its chain is known: payments
// checked at once may finish out of order, and an older head would make
// the next check verify more.
func (c *checkpoints) put(cp *checkpoint) {
	if cp == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	account := cp.state.account
	if el, ok := c.byAcc[account]; ok {
		if el.Value.(*checkpoint).state.seq < cp.state.seq {
			el.Value = cp
		}
		c.order.MoveToBack(el)
		return
	}
	c.byAcc[account] = c.order.PushBack(cp)
	for c.order.Len() > c.max {
		oldest := c.order.Front()
		c.order.Remove(oldest)
		delete(c.byAcc, oldest.Value.(*checkpoint).state.account)
	}
}

// len is how many chains are remembered.
func (c *checkpoints) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

// fetchSource reads blocks through the tree and, when this node lacks one,
// has the dag fetch it from other nodes (and keep it): a payment check
// reads only the entries its verification needs, not the whole DAG under
// the paying entry. The peer that sent the last block is asked first for
// the next, as it likely holds the rest of the chain. One check uses it
// from one goroutine.
type fetchSource struct {
	tree   *supervisors.Tree
	prefer []string
}

func (s *fetchSource) Block(ctx context.Context, c cid.Cid) (block.Block, error) {
	r, err := supervisors.Ask[*messages.GetBlockReply](ctx, s.tree, dagName, &messages.GetBlock{CID: c, Fetch: true, Prefer: s.prefer})
	if err != nil {
		return block.Block{}, err
	}
	if r.From != "" {
		s.prefer = []string{r.From}
	}
	return r.Block, nil
}
