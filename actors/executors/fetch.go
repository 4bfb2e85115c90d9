package executors

import (
	"context"
	"fmt"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// FetchModule makes a job's module whole on this node, fetching from other
// nodes what it lacks, and returns the block its CID names: a raw module,
// or the root of a chunked one (see block.SplitModule), whose chunks are
// then all here. A dag-cbor block that is not a module root is
// block.ErrInvalidModule, refused before any chunk is fetched; a block no
// reachable node has is messages.ErrBlockNotFound. Each dag request is
// bounded by callTimeout.
func FetchModule(ctx context.Context, tree *supervisors.Tree, module cid.Cid) (block.Block, error) {
	rctx, cancel := context.WithTimeout(ctx, callTimeout)
	r, err := supervisors.Ask[*messages.GetBlockReply](rctx, tree, dagName, &messages.GetBlock{CID: module, Fetch: true})
	cancel()
	if err != nil {
		return block.Block{}, err
	}
	if r.Block.Codec() != block.DagCBOR {
		return r.Block, nil
	}
	if _, _, err := block.ModuleChunks(r.Block); err != nil {
		return block.Block{}, err
	}
	rctx, cancel = context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if _, err := supervisors.Ask[*messages.FetchDAGReply](rctx, tree, dagName, &messages.FetchDAG{Root: module}); err != nil {
		return block.Block{}, fmt.Errorf("chunks of %s: %w", module, err)
	}
	return r.Block, nil
}

// readModule returns a job's module's bytes, joined from its chunks when
// it is chunked (the engine keys its cache by the CID, not the bytes).
func readModule(ctx context.Context, tree *supervisors.Tree, module cid.Cid) ([]byte, error) {
	root, err := FetchModule(ctx, tree, module)
	if err != nil || root.Codec() != block.DagCBOR {
		return root.Data(), err
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return block.JoinModule(root, func(c cid.Cid) (block.Block, error) {
		r, err := supervisors.Ask[*messages.GetBlockReply](ctx, tree, dagName, &messages.GetBlock{CID: c})
		if err != nil {
			return block.Block{}, err
		}
		return r.Block, nil
	})
}
