package dag

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/store"
	"github.com/intercooperative-network/icn-go/services/store/memstore"
	"github.com/intercooperative-network/icn-go/supervisors"
)

func refPut(blocks []block.Block, refs ...messages.RefUpdate) *messages.PutBlocks {
	return &messages.PutBlocks{Blocks: blocks, Refs: refs}
}

func refOf(t *testing.T, n *node, name string) cid.Cid {
	t.Helper()
	r, err := supervisors.Ask[*messages.Ref](t.Context(), n.tree, Name, &messages.GetRef{Name: name})
	if errors.Is(err, messages.ErrRefNotFound) {
		return cid.Undef
	}
	if err != nil {
		t.Fatal(err)
	}
	return r.CID
}

func TestRefsMoveByCompareAndSwap(t *testing.T) {
	n := memNode(t)
	a, b := raw(t, "a"), raw(t, "b")
	const name = "ledger/head/x"
	ask[*messages.PutBlocksReply](t, n, refPut([]block.Block{a}, messages.RefUpdate{Name: name, New: a.CID()}))
	if got := refOf(t, n, name); !got.Equals(a.CID()) {
		t.Fatalf("ref is %s", got)
	}
	// A second creation, or a move from a stale value, is refused and
	// stores nothing.
	for _, u := range []messages.RefUpdate{{Name: name, New: b.CID()}, {Name: name, Old: b.CID(), New: b.CID()}} {
		if err := askErr(t, n, refPut([]block.Block{b}, u)); !errors.Is(err, messages.ErrRefConflict) {
			t.Fatalf("update from %s: %v", u.Old, err)
		}
	}
	if err := askErr(t, n, &messages.GetBlock{CID: b.CID()}); !errors.Is(err, messages.ErrBlockNotFound) {
		t.Fatalf("a refused put stored its block: %v", err)
	}
	ask[*messages.PutBlocksReply](t, n, refPut([]block.Block{b}, messages.RefUpdate{Name: name, Old: a.CID(), New: b.CID()}))
	if got := refOf(t, n, name); !got.Equals(b.CID()) {
		t.Fatalf("ref is %s", got)
	}
	ask[*messages.PutBlocksReply](t, n, refPut(nil, messages.RefUpdate{Name: name, Old: b.CID()}))
	if err := askErr(t, n, &messages.GetRef{Name: name}); !errors.Is(err, messages.ErrRefNotFound) {
		t.Fatalf("deleted ref: %v", err)
	}
}

func TestRefUpdatesAreAllOrNone(t *testing.T) {
	n := memNode(t)
	a, b := raw(t, "a"), raw(t, "b")
	ask[*messages.PutBlocksReply](t, n, refPut([]block.Block{a}, messages.RefUpdate{Name: "r/1", New: a.CID()}))
	// r/2 is new; r/1 names a stale value: neither moves.
	err := askErr(t, n, refPut([]block.Block{b},
		messages.RefUpdate{Name: "r/2", New: b.CID()},
		messages.RefUpdate{Name: "r/1", Old: b.CID(), New: b.CID()}))
	if !errors.Is(err, messages.ErrRefConflict) {
		t.Fatal(err)
	}
	if got := refOf(t, n, "r/2"); got.Defined() {
		t.Fatalf("r/2 moved to %s", got)
	}
}

func TestBadRefUpdatesAreRefused(t *testing.T) {
	n := memNode(t)
	a := raw(t, "a")
	many := make([]messages.RefUpdate, messages.MaxRefsPerPut+1)
	for i := range many {
		many[i] = messages.RefUpdate{Name: fmt.Sprintf("r/%d", i), New: a.CID()}
	}
	for name, tc := range map[string]struct {
		put  *messages.PutBlocks
		want error
	}{
		"empty name":      {refPut([]block.Block{a}, messages.RefUpdate{New: a.CID()}), messages.ErrInvalidRef},
		"space in name":   {refPut([]block.Block{a}, messages.RefUpdate{Name: "a b", New: a.CID()}), messages.ErrInvalidRef},
		"long name":       {refPut([]block.Block{a}, messages.RefUpdate{Name: strings.Repeat("n", messages.MaxRefName+1), New: a.CID()}), messages.ErrInvalidRef},
		"twice":           {refPut([]block.Block{a}, messages.RefUpdate{Name: "r", New: a.CID()}, messages.RefUpdate{Name: "r", New: a.CID()}), messages.ErrInvalidRef},
		"too many":        {refPut([]block.Block{a}, many...), messages.ErrInvalidRef},
		"to a lost block": {refPut(nil, messages.RefUpdate{Name: "r", New: a.CID()}), messages.ErrBlockNotFound},
		"delete of none":  {refPut(nil, messages.RefUpdate{Name: "r", Old: a.CID()}), messages.ErrRefConflict},
	} {
		t.Run(name, func(t *testing.T) {
			if err := askErr(t, n, tc.put); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if r := ask[*messages.ListRefsReply](t, n, &messages.ListRefs{}); len(r.Refs) != 0 {
		t.Fatalf("refs after refusals: %+v", r.Refs)
	}
}

// TestPipelinedRefUpdatesLandInOrder sends a chain of updates without
// waiting for any: each names the previous one's value, and the store ends
// with the last, also after a restart.
func TestPipelinedRefUpdatesLandInOrder(t *testing.T) {
	n := memNode(t)
	const name, count = "chain/head", 200
	prev := cid.Undef
	var futures []<-chan error
	var last cid.Cid
	for i := range count {
		b := node1(t, map[string]any{"seq": int64(i), "prev": linkOrNil(prev)})
		u := messages.RefUpdate{Name: name, Old: prev, New: b.CID()}
		futures = append(futures, requestAsync(n, refPut([]block.Block{b}, u)))
		prev, last = b.CID(), b.CID()
	}
	for i, f := range futures {
		if err := <-f; err != nil {
			t.Fatalf("update %d: %v", i, err)
		}
	}
	if got := refOf(t, n, name); !got.Equals(last) {
		t.Fatalf("ref is %s, want the last %s", got, last)
	}
	if err := n.tree.Kill(t.Context(), Name, supervisors.KillStop); err != nil {
		t.Fatal(err)
	}
	if _, err := askEventually[*messages.SubsystemStatus](t, n, &messages.StatusRequest{}); err != nil {
		t.Fatal(err)
	}
	if got := refOf(t, n, name); !got.Equals(last) {
		t.Fatalf("after restart the ref is %s", got)
	}
	// The whole chain is kept by the ref, however old.
	n.clock.Advance(1000 * time.Hour)
	if r := ask[*messages.CollectGarbageReply](t, n, &messages.CollectGarbage{}); r.RemovedCount != 0 || r.Kept != count {
		t.Fatalf("gc under a ref: %+v", r)
	}
	ask[*messages.PutBlocksReply](t, n, refPut(nil, messages.RefUpdate{Name: name, Old: last}))
	if r := ask[*messages.CollectGarbageReply](t, n, &messages.CollectGarbage{}); r.RemovedCount != count {
		t.Fatalf("gc after the ref went: %+v", r)
	}
}

func linkOrNil(c cid.Cid) any {
	if !c.Defined() {
		return nil
	}
	return block.LinkTo(c)
}

// requestAsync begins a request now (requests begun one after the other
// arrive in order) and reports its outcome on the channel.
func requestAsync(n *node, msg any) <-chan error {
	ch := make(chan error, 1)
	call, err := n.tree.Begin(context.Background(), Name, msg)
	if err != nil {
		ch <- err
		return ch
	}
	go func() {
		_, err := call.Wait(context.Background())
		ch <- err
	}()
	return ch
}

// TestAFailedRefUpdateFailsTheUpdatesBuiltOnIt: when a commit fails, the
// updates that named its value fail too, and the ref is the stored value
// again for the next one.
func TestAFailedRefUpdateFailsTheUpdatesBuiltOnIt(t *testing.T) {
	fs := &faultyStore{Store: memstore.New()}
	n := start(t, fs, Config{MaxBlockSize: 1 << 20, GCGrace: time.Hour})
	const name = "chain/head"
	a, b, c := raw(t, "a"), raw(t, "b"), raw(t, "c")
	ask[*messages.PutBlocksReply](t, n, refPut([]block.Block{a}, messages.RefUpdate{Name: name, New: a.CID()}))

	diskErr := errors.New("disk full")
	release := make(chan struct{})
	fail := func(batch *store.Batch) error {
		for op := range batch.Ops() {
			if bytes.HasPrefix(op.Key, key(prefixData, b.CID())) {
				<-release // hold it until c is queued behind it
				return diskErr
			}
		}
		return nil
	}
	fs.commitErr.Store(&fail)
	first := requestAsync(n, refPut([]block.Block{b}, messages.RefUpdate{Name: name, Old: a.CID(), New: b.CID()}))
	waitForStatus(t, n, "puts_in_flight", "1")
	second := requestAsync(n, refPut([]block.Block{c}, messages.RefUpdate{Name: name, Old: b.CID(), New: c.CID()}))
	waitForStatus(t, n, "puts_in_flight", "2")
	close(release)
	if err := <-first; !errors.Is(err, diskErr) {
		t.Fatalf("first: %v", err)
	}
	if err := <-second; !errors.Is(err, messages.ErrRefConflict) {
		t.Fatalf("second, built on the failed first: %v", err)
	}
	fs.commitErr.Store(nil)
	if got := refOf(t, n, name); !got.Equals(a.CID()) {
		t.Fatalf("ref is %s after the failures", got)
	}
	waitForIdle(t, n)
	ask[*messages.PutBlocksReply](t, n, refPut([]block.Block{c}, messages.RefUpdate{Name: name, Old: a.CID(), New: c.CID()}))
	if got := refOf(t, n, name); !got.Equals(c.CID()) {
		t.Fatalf("ref is %s", got)
	}
}

// waitForIdle polls until no put is in flight.
func waitForIdle(t *testing.T, n *node) { waitForStatus(t, n, "puts_in_flight", "0") }

// waitForStatus polls the dag's status until detail has the value want.
func waitForStatus(t *testing.T, n *node, detail, want string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := ask[*messages.SubsystemStatus](t, n, &messages.StatusRequest{})
		if r.Details[detail] == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never became %s: %v", detail, want, r.Details)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestListRefsPagesByName(t *testing.T) {
	n := memNode(t)
	a := raw(t, "a")
	var updates []messages.RefUpdate
	for i := range 5 {
		updates = append(updates, messages.RefUpdate{Name: fmt.Sprintf("ledger/head/%d", i), New: a.CID()})
	}
	updates = append(updates, messages.RefUpdate{Name: "jobs/x", New: a.CID()})
	ask[*messages.PutBlocksReply](t, n, refPut([]block.Block{a}, updates...))
	page := ask[*messages.ListRefsReply](t, n, &messages.ListRefs{Prefix: "ledger/", Limit: 3})
	if len(page.Refs) != 3 || !page.More || page.Refs[0].Name != "ledger/head/0" || page.Refs[2].Name != "ledger/head/2" {
		t.Fatalf("first page: %+v", page)
	}
	page = ask[*messages.ListRefsReply](t, n, &messages.ListRefs{Prefix: "ledger/", After: page.Refs[2].Name, Limit: 3})
	if len(page.Refs) != 2 || page.More || page.Refs[0].Name != "ledger/head/3" || !page.Refs[1].CID.Equals(a.CID()) {
		t.Fatalf("second page: %+v", page)
	}
}
