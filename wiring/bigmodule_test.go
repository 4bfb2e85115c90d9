package wiring

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/httpapi"
	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// A module larger than a block, given inline to a node that executes
// nothing, is stored chunked there and runs on the other node, which
// fetches its chunks.
func TestAModuleLargerThanABlockRunsOnAnotherNode(t *testing.T) {
	const maxBlock = 64 << 10
	nodes := federationWith(t, 2, func(i int, c *Config) {
		c.DAG.MaxBlockSize = maxBlock
		if i == 0 {
			c.Workers = 0
		}
	})
	a, b := nodes[0], nodes[1]
	// upper with a custom section that makes it five blocks long.
	wasm := wasmtest.WAT(t, "upper")
	pad := append(binary.AppendUvarint(nil, uint64(len("icn-padding"))), "icn-padding"...)
	pad = append(pad, make([]byte, 4*maxBlock)...)
	wasm = append(append(slices.Clone(wasm), 0), binary.AppendUvarint(nil, uint64(len(pad)))...)
	wasm = append(wasm, pad...)

	body, err := json.Marshal(map[string]any{"module_wasm": base64.StdEncoding.EncodeToString(wasm), "input": base64.StdEncoding.EncodeToString([]byte("far and big"))})
	if err != nil {
		t.Fatal(err)
	}
	var j httpapi.Job
	newAPI(t, a).json("POST", "/api/v1/jobs", "application/json", body, 202, &j)
	root, chunks, err := block.SplitModule(wasm, maxBlock)
	if err != nil {
		t.Fatal(err)
	}
	if j.Spec.Module != root.CID().String() {
		t.Fatalf("module %s, want the chunked root %s", j.Spec.Module, root.CID())
	}
	done := waitJob(t, a, j.JobID, 60*time.Second, finished)
	if done.State != messages.JobCompleted || done.Executor != did(b) || !done.Receipt.Module.Equals(root.CID()) {
		t.Fatalf("state %s (%s) executor %s, want completed on %s", done.State, done.Reason, done.Executor, did(b))
	}
	out, err := supervisors.Ask[*messages.GetBlockReply](t.Context(), a.Tree, "dag", &messages.GetBlock{CID: done.Receipt.Output})
	if err != nil || string(out.Block.Data()) != "FAR AND BIG" {
		t.Fatalf("output on the submitter: %v", err)
	}
	// The executor holds the whole module: it fetched every chunk (the
	// padding's are alike, and stored once).
	distinct := map[string]bool{root.CID().String(): true}
	for _, c := range chunks {
		distinct[c.CID().String()] = true
	}
	w, err := supervisors.Ask[*messages.WalkDAGReply](t.Context(), b.Tree, "dag", &messages.WalkDAG{Root: root.CID()})
	if err != nil || len(w.CIDs) != len(distinct) || len(w.Missing) != 0 {
		t.Fatalf("the module on the executor: %+v, %v; want %d blocks", w, err, len(distinct))
	}
}
