package executors

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"runtime"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	dto "github.com/prometheus/client_model/go"

	"github.com/intercooperative-network/icn-go/actors/dag"
	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
)

// putChunked stores module chunked into chunk-sized blocks and returns its
// root's CID.
func (n *node) putChunked(t *testing.T, module []byte, chunk int) cid.Cid {
	t.Helper()
	root, chunks, err := block.SplitModule(module, chunk)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := n.tree.Request(context.Background(), dag.Name, &messages.PutBlocks{Blocks: append(chunks, root)}); err != nil {
		t.Fatal(err)
	}
	return root.CID()
}

// A module larger than the dag's blocks runs from its chunks; the engine
// compiles it once, under the root's CID.
func TestAChunkedModuleRuns(t *testing.T) {
	const maxBlock = 64 << 10
	n := startNodeSized(t, 1, clock.Real{}, maxBlock)
	wasm := wasmtest.Padded(wasmtest.WAT(t, "upper"), 300<<10)
	mod := n.putChunked(t, wasm, maxBlock)
	for _, id := range []string{"first", "second"} {
		r, err := n.run(&messages.RunJob{JobID: id, Module: mod, Input: []byte("chunked " + id)})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Module.Equals(mod) || string(n.block(t, r.Output).Data()) != "CHUNKED "+map[string]string{"first": "FIRST", "second": "SECOND"}[id] {
			t.Fatalf("receipt %+v, output %q", r, n.block(t, r.Output).Data())
		}
		if err := VerifyReceipt(n.block(t, r.CID)); err != nil {
			t.Fatal(err)
		}
	}
	var h dto.Metric
	if err := n.metrics.compiles.Write(&h); err != nil || h.GetHistogram().GetSampleCount() != 1 {
		t.Fatalf("compilations: %v, %v; want 1", h.GetHistogram(), err)
	}
}

func TestABadChunkedModuleIsInvalid(t *testing.T) {
	n := startNode(t, 1)
	encode := func(v any) cid.Cid {
		b, err := block.Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n.tree.Request(context.Background(), dag.Name, &messages.PutBlocks{Blocks: []block.Block{b}}); err != nil {
			t.Fatal(err)
		}
		return b.CID()
	}
	chunk := n.put(t, wasmtest.WAT(t, "upper"))
	missing, _ := block.NewRaw([]byte("a chunk nobody has"))
	for _, tc := range []struct {
		name   string
		module cid.Cid
	}{
		{"not a module root", encode(map[string]any{"hello": "world"})},
		{"a chunk is missing", encode(map[string]any{"module_chunks": []block.Link{block.LinkTo(chunk), block.LinkTo(missing.CID())}, "size": int64(1 << 20)})},
		{"over the bound", encode(map[string]any{"module_chunks": []block.Link{block.LinkTo(chunk)}, "size": int64(block.MaxModuleSize + 1)})},
		{"the wrong size", encode(map[string]any{"module_chunks": []block.Link{block.LinkTo(chunk)}, "size": int64(1)})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := n.run(&messages.RunJob{JobID: tc.name, Module: tc.module})
			if got := failure(t, err); got != messages.ReasonInvalidModule {
				t.Fatalf("reason %q (%v), want %q", got, err, messages.ReasonInvalidModule)
			}
		})
	}
}

// A CPU-bound run reports the CPU time it took, within its wall time.
func TestTheReceiptCarriesCPUTime(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("CPU time is measured on Linux only")
	}
	n := startNode(t, 1)
	iterations := binary.LittleEndian.AppendUint64(nil, 30_000_000)
	r, err := n.run(&messages.RunJob{JobID: "loop", Module: n.module(t, "loop"), Input: iterations})
	if err != nil {
		t.Fatal(err)
	}
	// wall_ms is truncated to the millisecond; a little of the CPU time
	// is spent before the wall clock starts (finding the compiled module).
	const slack = 2 * time.Millisecond
	cpu, wall := time.Duration(r.CPUMicros)*time.Microsecond, time.Duration(r.WallMS)*time.Millisecond
	t.Logf("cpu %v, wall %v", cpu, wall)
	if cpu <= 0 || cpu > wall+slack {
		t.Fatalf("cpu %v, wall %v", cpu, wall)
	}
	d, err := DecodeReceipt(n.block(t, r.CID))
	if err != nil || d.CPUMicros != r.CPUMicros {
		t.Fatalf("stored receipt %+v, %v", d, err)
	}
}

// A receipt without CPU time (0, or signed before receipts carried it)
// has the bytes it had before, and verifies.
func TestAReceiptWithoutCPUTimeKeepsItsBytes(t *testing.T) {
	id, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := block.NewRaw([]byte("m"))
	r := messages.JobReceipt{JobID: "job", Module: m.CID(), Input: m.CID(), Output: m.CID(), FuelUsed: 7, WallMS: 5,
		Time: time.UnixMilli(1_700_000_000_000)}
	b, _, err := SignReceipt(id, r)
	if err != nil {
		t.Fatal(err)
	}
	if err := VerifyReceipt(b); err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := block.Decode(b, &fields); err != nil {
		t.Fatal(err)
	}
	if _, ok := fields["cpu_us"]; ok {
		t.Fatalf("a receipt without CPU time has a cpu_us field: %v", fields)
	}
	r.CPUMicros = 1500
	cb, cr, err := SignReceipt(id, r)
	if err != nil || VerifyReceipt(cb) != nil || cr.CPUMicros != 1500 || cb.CID().Equals(b.CID()) {
		t.Fatalf("with CPU time: %+v (%s), %v", cr, cb.CID(), err)
	}
}
