package dag

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/store"
)

// collect removes every block that is not reachable from a pin, has no put
// in flight, and whose retention has passed. It runs on the actor's
// goroutine, sweeps the in-memory index, and commits its deletions before it
// returns, so no put that arrives after it can be undone by it.
func (a *Actor) collect() (*messages.CollectGarbageReply, error) {
	began := time.Now()
	now := a.Clock.Now().UnixNano()
	ctx := context.Background()
	reachable, err := a.reachable(ctx)
	if err != nil {
		return nil, err
	}
	reply := &messages.CollectGarbageReply{Removed: []cid.Cid{}}
	var doomed []string
	for id, ix := range a.index {
		if reachable[id] || a.inflight[id] != nil || ix.expires > now {
			reply.Kept++
			continue
		}
		doomed = append(doomed, id)
	}
	slices.Sort(doomed) // deterministic batches and listing
	type batch struct {
		b   *store.Batch
		ids []string
	}
	var batches []batch
	cur := batch{b: &store.Batch{}}
	for _, id := range doomed {
		c, err := block.Cast([]byte(id))
		if err != nil {
			return nil, err
		}
		dk, mk := key(prefixData, c), key(prefixMeta, c)
		if cur.b.Len()+2 > store.MaxBatchOps || cur.b.Size()+len(dk)+len(mk) > store.MaxBatchBytes {
			batches = append(batches, cur)
			cur = batch{b: &store.Batch{}}
		}
		cur.b.Delete(dk)
		cur.b.Delete(mk)
		cur.ids = append(cur.ids, id)
		if len(reply.Removed) < messages.MaxListedRemovals {
			reply.Removed = append(reply.Removed, c)
		}
	}
	if cur.b.Len() > 0 {
		batches = append(batches, cur)
	}
	var gcErr error
	for _, b := range batches {
		err := a.Store.Commit(ctx, b.b)
		// Even a failed commit may have deleted some: drop them all.
		a.cache.remove(b.ids)
		if err != nil {
			gcErr = fmt.Errorf("dag: gc delete: %w", err)
			break
		}
		for _, id := range b.ids { // gone from the store: gone from the index
			reply.RemovedCount++
			reply.RemovedBytes += int64(a.index[id].size)
			delete(a.index, id)
		}
	}
	a.blocks -= int64(reply.RemovedCount)
	a.bytes -= reply.RemovedBytes
	a.Metrics.blocks.Set(float64(a.blocks))
	a.Metrics.bytes.Set(float64(a.bytes))
	a.Metrics.cacheBytes.Set(float64(a.cache.bytes()))
	a.Metrics.gcRemoved.Add(float64(reply.RemovedCount))
	reply.Took = time.Since(began)
	if gcErr != nil {
		return nil, gcErr
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
	err = a.Store.Scan(ctx, prefixRef, nil, func(_, v []byte) error {
		r, err := decodeRef(v)
		if err != nil {
			return err
		}
		roots = append(roots, string(r.cid.Bytes()))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dag: gc refs: %w", err)
	}
	for id := range a.rooted { // pins and refs still in flight
		roots = append(roots, id)
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
			if errors.Is(err, store.ErrNotFound) {
				continue // not stored here: nothing below it to keep
			}
			if err != nil {
				// Unknown reach: collecting now could delete what a pin keeps.
				return nil, fmt.Errorf("dag: gc mark %x: %w", id, err)
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
