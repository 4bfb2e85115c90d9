package dag

import (
	"context"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/store"
)

// collect removes every block that is not reachable from a pin, has no put
// in flight, and whose retention has passed. It runs on the actor's
// goroutine and commits its deletions before it returns, so no put that
// arrives after it can be undone by it.
func (a *Actor) collect() (*messages.CollectGarbageReply, error) {
	began := time.Now()
	now := a.Clock.Now()
	ctx := context.Background()
	reachable, err := a.reachable(ctx)
	if err != nil {
		return nil, err
	}
	reply := &messages.CollectGarbageReply{}
	var batches []*store.Batch
	cur := &store.Batch{}
	err = a.Store.Scan(ctx, prefixMeta, nil, func(k, v []byte) error {
		id := string(k[len(prefixMeta):])
		m, err := decodeMeta(v)
		if err != nil {
			return err
		}
		if reachable[id] || a.inflight[id] > 0 || m.expiresAt.After(now) {
			reply.Kept++
			return nil
		}
		c, err := cidOf(prefixMeta, k)
		if err != nil {
			return err
		}
		if cur.Len()+2 > store.MaxBatchOps || cur.Size()+2*len(k) > store.MaxBatchBytes {
			batches = append(batches, cur)
			cur = &store.Batch{}
		}
		cur.Delete(key(prefixData, c))
		cur.Delete(k)
		reply.RemovedCount++
		reply.RemovedBytes += int64(m.size)
		if len(reply.Removed) < messages.MaxListedRemovals {
			reply.Removed = append(reply.Removed, c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dag: gc scan: %w", err)
	}
	if cur.Len() > 0 {
		batches = append(batches, cur)
	}
	for _, b := range batches {
		if err := a.Store.Commit(ctx, b); err != nil {
			return nil, fmt.Errorf("dag: gc delete: %w", err)
		}
	}
	a.blocks -= int64(reply.RemovedCount)
	a.bytes -= reply.RemovedBytes
	a.Metrics.blocks.Set(float64(a.blocks))
	a.Metrics.bytes.Set(float64(a.bytes))
	a.Metrics.gcRemoved.Add(float64(reply.RemovedCount))
	reply.Took = time.Since(began)
	if reply.Removed == nil {
		reply.Removed = []cid.Cid{}
	}
	return reply, nil
}

// reachable marks every block reachable from a pin: a recursive pin's
// whole DAG (through the links kept in the meta, never decoding data), a
// direct pin's root only.
func (a *Actor) reachable(ctx context.Context) (map[string]bool, error) {
	marked := map[string]bool{}
	var roots []string
	err := a.Store.Scan(ctx, prefixPin, nil, func(k, v []byte) error {
		p, err := decodePin(v)
		if err != nil {
			return err
		}
		id := string(k[len(prefixPin):])
		if p.recursive {
			roots = append(roots, id)
		} else {
			marked[id] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dag: gc pins: %w", err)
	}
	for _, root := range roots {
		stack := []string{root}
		for len(stack) > 0 {
			id := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if marked[id] {
				continue
			}
			marked[id] = true
			v, err := a.Store.Get(ctx, append(append([]byte(nil), prefixMeta...), id...))
			if err != nil {
				continue // not stored here: nothing below it to keep
			}
			m, err := decodeMeta(v)
			if err != nil {
				return nil, err
			}
			for _, l := range m.links {
				stack = append(stack, string(l.Bytes()))
			}
		}
	}
	return marked, nil
}
