package jobs

import (
	"errors"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
)

// put stores blocks on n.
func (n *node) put(t *testing.T, blocks ...block.Block) {
	t.Helper()
	if _, err := retry[*messages.PutBlocksReply](t, n, dagName, &messages.PutBlocks{Blocks: blocks}); err != nil {
		t.Fatal(err)
	}
}

// A module larger than the dag's blocks, stored chunked, runs as a job:
// submitted here, and assigned by another node.
func TestAChunkedModuleJobCompletes(t *testing.T) {
	const maxBlock = 64 << 10
	n := startNodeSized(t, 1, Config{}, 500, nil, nil, maxBlock)
	wasm := wasmtest.Padded(wasmtest.WAT(t, "upper"), 5*maxBlock)
	if _, err := retry[*messages.PutBlocksReply](t, n, dagName, &messages.PutBlocks{Blocks: []block.Block{mustRaw(t, wasm)}}); !errors.Is(err, messages.ErrBlockTooLarge) {
		t.Fatalf("the module as one block: %v, want ErrBlockTooLarge", err)
	}
	root, chunks, err := block.SplitModule(wasm, maxBlock)
	if err != nil {
		t.Fatal(err)
	}
	n.put(t, append(chunks, root)...)

	s, err := n.submit(t, messages.JobSpec{Module: root.CID(), Input: []byte("big module")})
	if err != nil {
		t.Fatal(err)
	}
	done := n.wait(t, s.ID)
	if done.State != messages.JobCompleted || !done.Receipt.Module.Equals(root.CID()) {
		t.Fatalf("state %s (%s), receipt %+v", done.State, done.Reason, done.Receipt)
	}
	if got := string(n.block(t, done.Receipt.Output)); got != "BIG MODULE" {
		t.Fatalf("output %q", got)
	}

	rep, err := n.assign(t, n.putSpec(t, messages.JobSpec{Module: root.CID(), Input: []byte("assigned")}))
	if err != nil || rep.Receipt == "" {
		t.Fatalf("assigned: %+v, %v", rep, err)
	}
}

// A chunked module that is not whole, or not one, is refused at submit.
func TestABadChunkedModuleIsRefused(t *testing.T) {
	n := startNode(t, 1, Config{})
	root, chunks, err := block.SplitModule(wasmtest.Padded(wasmtest.WAT(t, "upper"), 100), 64)
	if err != nil {
		t.Fatal(err)
	}
	n.put(t, append(chunks[1:], root)...) // the first chunk is missing
	over, err := block.Encode(map[string]any{"module_chunks": []block.Link{block.LinkTo(chunks[1].CID())}, "size": int64(block.MaxModuleSize + 1)})
	if err != nil {
		t.Fatal(err)
	}
	notRoot, err := block.Encode(map[string]any{"hello": "world"})
	if err != nil {
		t.Fatal(err)
	}
	n.put(t, over, notRoot)
	for _, tc := range []struct {
		name   string
		module cid.Cid
		want   error
	}{
		{"a chunk is missing", root.CID(), messages.ErrBlockNotFound},
		{"over the bound", over.CID(), block.ErrInvalidModule},
		{"not a module root", notRoot.CID(), block.ErrInvalidModule},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := n.submit(t, messages.JobSpec{Module: tc.module})
			if !errors.Is(err, messages.ErrInvalidSpec) || !errors.Is(err, tc.want) {
				t.Fatalf("submit: %+v, %v; want %v", s, err, tc.want)
			}
		})
	}
}

func mustRaw(t *testing.T, data []byte) block.Block {
	t.Helper()
	b, err := block.NewRaw(data)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
