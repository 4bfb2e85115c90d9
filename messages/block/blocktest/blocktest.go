// Package blocktest builds block DAGs for tests and benchmarks of the
// packages that store and move blocks. It is for tests only: nothing in
// the daemon imports it.
package blocktest

import (
	"crypto/rand"
	"fmt"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages/block"
)

// WideDAG returns a fresh two-level DAG: a dag-cbor root linking fanout
// dag-cbor nodes, each linking fanout raw leaves of size random bytes
// (1 + fanout + fanout² blocks, the root last).
func WideDAG(fanout, size int) (cid.Cid, []block.Block, error) {
	var all []block.Block
	var mids []any
	for i := range fanout {
		var leaves []any
		for range fanout {
			data := make([]byte, size)
			_, _ = rand.Read(data)
			leaf, err := block.NewRaw(data)
			if err != nil {
				return cid.Undef, nil, fmt.Errorf("blocktest: leaf: %w", err)
			}
			all = append(all, leaf)
			leaves = append(leaves, block.LinkTo(leaf.CID()))
		}
		mid, err := block.Encode(map[string]any{"i": int64(i), "leaves": leaves})
		if err != nil {
			return cid.Undef, nil, fmt.Errorf("blocktest: node: %w", err)
		}
		all = append(all, mid)
		mids = append(mids, block.LinkTo(mid.CID()))
	}
	root, err := block.Encode(map[string]any{"mids": mids})
	if err != nil {
		return cid.Undef, nil, fmt.Errorf("blocktest: root: %w", err)
	}
	return root.CID(), append(all, root), nil
}
