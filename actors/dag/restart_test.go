package dag

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// TestGCAfterARestartHonoursTheRebuiltState: the index a restarted actor
// rebuilds from the store carries each block's retention and the pins, so
// the first collection after the restart keeps a block whose TTL has not
// expired and everything a pin reaches, and removes the rest.
func TestGCAfterARestartHonoursTheRebuiltState(t *testing.T) {
	for _, mode := range []supervisors.KillMode{supervisors.KillStop, supervisors.KillPanic} {
		t.Run(mode.String(), func(t *testing.T) {
			n := memNode(t) // GC grace: 1 h
			rootR, dagR := dagOf(t, "recursive")
			rootD, dagD := dagOf(t, "direct")
			live := raw(t, "ttl 10 h")
			expired := raw(t, "ttl 2 h")
			loose := raw(t, "grace only")
			put(t, n, dagR...)
			put(t, n, dagD...)
			put(t, n, loose)
			ask[*messages.PutBlocksReply](t, n, &messages.PutBlocks{Blocks: []block.Block{live}, TTL: 10 * time.Hour})
			ask[*messages.PutBlocksReply](t, n, &messages.PutBlocks{Blocks: []block.Block{expired}, TTL: 2 * time.Hour})
			ask[*messages.PinBlockReply](t, n, &messages.PinBlock{CID: rootR.CID(), Recursive: true})
			ask[*messages.PinBlockReply](t, n, &messages.PinBlock{CID: rootD.CID()})

			before, err := n.tree.Actor(Name)
			if err != nil {
				t.Fatal(err)
			}
			if err := n.tree.Kill(t.Context(), Name, mode); err != nil {
				t.Fatal(err)
			}
			eventually(t, "the dag actor running again", func() bool {
				a, err := n.tree.Actor(Name)
				return err == nil && a.Restarts > before.Restarts && a.Status == "running"
			})
			// Past the grace and the 2 h TTL, 7 h before the 10 h one.
			n.clock.Advance(3 * time.Hour)
			r, err := askEventually[*messages.CollectGarbageReply](t, n, &messages.CollectGarbage{})
			if err != nil {
				t.Fatal(err)
			}

			removed := map[string]bool{}
			for _, c := range r.Removed {
				removed[c.String()] = true
			}
			// The direct pin keeps its root only.
			gone := []block.Block{expired, loose, dagD[0], dagD[1], dagD[2]}
			kept := append([]block.Block{live, rootD}, dagR...)
			if r.RemovedCount != len(gone) || r.Kept != len(kept) {
				t.Fatalf("first gc after the restart removed %d (%v), kept %d; want %d and %d", r.RemovedCount, r.Removed, r.Kept, len(gone), len(kept))
			}
			for _, b := range gone {
				if !removed[b.CID().String()] {
					t.Errorf("%s was not removed", b.CID())
				}
				if err := askErr(t, n, &messages.GetBlock{CID: b.CID()}); err == nil {
					t.Errorf("%s is still served", b.CID())
				}
			}
			for _, b := range kept {
				if err := askErr(t, n, &messages.GetBlock{CID: b.CID()}); err != nil {
					t.Errorf("%s was collected: %v", b.CID(), err)
				}
			}
			if got := testutil.ToFloat64(n.metrics.blocks); got != float64(len(kept)) {
				t.Errorf("icn_dag_blocks = %v, want %d", got, len(kept))
			}

			// Past the 10 h TTL: the block without a pin goes, the pinned stay.
			n.clock.Advance(8 * time.Hour)
			r = ask[*messages.CollectGarbageReply](t, n, &messages.CollectGarbage{})
			if r.RemovedCount != 1 || len(r.Removed) != 1 || !r.Removed[0].Equals(live.CID()) || r.Kept != len(kept)-1 {
				t.Fatalf("gc past the TTL: %+v", r)
			}
		})
	}
}
