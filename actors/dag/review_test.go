package dag

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/store"
	"github.com/intercooperative-network/icn-go/services/store/memstore"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// faultyStore wraps a store so a test can fail or stall its reads.
type faultyStore struct {
	store.Store
	// getErr, when set, fails the Gets it returns an error for (set while
	// the actor's goroutines read, hence atomic).
	getErr  atomic.Pointer[func(key []byte) error]
	stall   chan struct{} // non-nil: Gets of block data wait for it to close
	stalled atomic.Int64
	// commitErr, when set, fails the commits it returns an error for.
	commitErr atomic.Pointer[func(*store.Batch) error]
}

func (f *faultyStore) Commit(ctx context.Context, b *store.Batch) error {
	if fn := f.commitErr.Load(); fn != nil {
		if err := (*fn)(b); err != nil {
			return err
		}
	}
	return f.Store.Commit(ctx, b)
}

func (f *faultyStore) Get(ctx context.Context, k []byte) ([]byte, error) {
	if fn := f.getErr.Load(); fn != nil {
		if err := (*fn)(k); err != nil {
			return nil, err
		}
	}
	if f.stall != nil && bytes.HasPrefix(k, prefixData) {
		f.stalled.Add(1)
		select {
		case <-f.stall:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return f.Store.Get(ctx, k)
}

func TestConcurrentPutsOfOneBlockKeepTheLongestRetention(t *testing.T) {
	s := memstore.New()
	n := start(t, s, Config{MaxBlockSize: 1 << 20, GCGrace: time.Minute})
	b := raw(t, "contested")
	var wg sync.WaitGroup
	// Long and short retentions race; whatever order the commits would
	// have landed in, the retention kept must be the longest promised.
	for i := range 64 {
		ttl := time.Hour
		if i%2 == 0 {
			ttl = 100 * time.Hour
		}
		wg.Go(func() {
			if _, err := n.tree.Request(context.Background(), Name, &messages.PutBlocks{Blocks: []block.Block{b}, TTL: ttl}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	md, err := s.Get(t.Context(), key(prefixMeta, b.CID()))
	if err != nil {
		t.Fatal(err)
	}
	m, err := decodeMeta(md)
	if err != nil {
		t.Fatal(err)
	}
	if want := t0.Add(100 * time.Hour); !m.expiresAt.Equal(want) {
		t.Fatalf("stored retention %v, want %v", m.expiresAt, want)
	}
	// The index rebuilt from the store agrees: a restart keeps the block.
	if err := n.tree.Kill(t.Context(), Name, supervisors.KillStop); err != nil {
		t.Fatal(err)
	}
	n.clock.Advance(50 * time.Hour)
	r, err := askEventually[*messages.CollectGarbageReply](t, n, &messages.CollectGarbage{})
	if err != nil {
		t.Fatal(err)
	}
	if r.RemovedCount != 0 {
		t.Fatalf("a block with 50 h of retention left was collected: %+v", r)
	}
}

// askEventually asks until the actor answers (it may be restarting).
func askEventually[R any](t *testing.T, n *node, msg any) (R, error) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		r, err := supervisors.Ask[R](t.Context(), n.tree, Name, msg)
		if err == nil || !errors.Is(err, supervisors.ErrUnavailable) || time.Now().After(deadline) {
			return r, err
		}
		time.Sleep(time.Millisecond)
	}
}

func TestGCDoesNothingWhenItCannotReadWhatAPinReaches(t *testing.T) {
	fs := &faultyStore{Store: memstore.New()}
	n := start(t, fs, Config{MaxBlockSize: 1 << 20, GCGrace: time.Hour})
	root, all := dagOf(t, "pinned")
	loose := raw(t, "loose")
	put(t, n, all...)
	put(t, n, loose)
	ask[*messages.PinBlockReply](t, n, &messages.PinBlock{CID: root.CID(), Recursive: true})
	n.clock.Advance(48 * time.Hour)

	diskErr := errors.New("disk on fire")
	failMeta := func(k []byte) error {
		if bytes.HasPrefix(k, prefixMeta) {
			return diskErr
		}
		return nil
	}
	fs.getErr.Store(&failMeta)
	if err := askErr(t, n, &messages.CollectGarbage{}); !errors.Is(err, diskErr) {
		t.Fatalf("gc with an unreadable pinned DAG: %v", err)
	}
	fs.getErr.Store(nil)
	for _, b := range append(all, loose) {
		if err := askErr(t, n, &messages.GetBlock{CID: b.CID()}); err != nil {
			t.Fatalf("a failed gc removed %s: %v", b.CID(), err)
		}
	}
	// Once the store reads again, the loose block goes and the DAG stays.
	if r := ask[*messages.CollectGarbageReply](t, n, &messages.CollectGarbage{}); r.RemovedCount != 1 || !r.Removed[0].Equals(loose.CID()) {
		t.Fatalf("gc: %+v", r)
	}
}

func TestARecursivePinIsNeverWeakened(t *testing.T) {
	n := memNode(t)
	root, all := dagOf(t, "strong")
	put(t, n, all...)
	ask[*messages.PinBlockReply](t, n, &messages.PinBlock{CID: root.CID(), Recursive: true})
	if r := ask[*messages.PinBlockReply](t, n, &messages.PinBlock{CID: root.CID()}); !r.Pin.Recursive {
		t.Fatalf("a direct pin replaced a recursive one: %+v", r)
	}
	// A put that pins directly does not weaken it either.
	ask[*messages.PutBlocksReply](t, n, &messages.PutBlocks{Blocks: all, Pin: &messages.PinBlock{CID: root.CID()}})
	n.clock.Advance(48 * time.Hour)
	if r := ask[*messages.CollectGarbageReply](t, n, &messages.CollectGarbage{}); r.RemovedCount != 0 {
		t.Fatalf("the DAG under a recursive pin was collected: %+v", r)
	}
	if st := ask[*messages.BlockStat](t, n, &messages.StatBlock{CID: root.CID()}); st.Pin != "recursive" {
		t.Fatalf("pin is %q", st.Pin)
	}
}

func TestAPinFitsWithAFullBatchOfBlocks(t *testing.T) {
	n := memNode(t)
	var blocks []block.Block
	for i := range store.MaxBatchOps / 2 { // exactly one full batch of data+meta
		blocks = append(blocks, raw(t, fmt.Sprintf("b%d", i)))
	}
	pinned := blocks[len(blocks)-1]
	r := ask[*messages.PutBlocksReply](t, n, &messages.PutBlocks{Blocks: blocks, Pin: &messages.PinBlock{CID: pinned.CID()}})
	if r.New != len(blocks) {
		t.Fatalf("%+v", r)
	}
	if st := ask[*messages.BlockStat](t, n, &messages.StatBlock{CID: pinned.CID()}); st.Pin != "direct" {
		t.Fatalf("pin is %q", st.Pin)
	}
}

func TestAPutWithABadPinStoresNothing(t *testing.T) {
	n := memNode(t)
	b := raw(t, "innocent")
	sha1, err := cid.V1Builder{Codec: cid.Raw, MhType: mh.SHA1}.Sum([]byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		pin  cid.Cid
		want error
	}{
		"undefined":              {cid.Undef, block.ErrInvalidCID},
		"unsupported hash":       {sha1, block.ErrUnsupported},
		"neither put nor stored": {raw(t, "elsewhere").CID(), messages.ErrBlockNotFound},
	} {
		t.Run(name, func(t *testing.T) {
			err := askErr(t, n, &messages.PutBlocks{Blocks: []block.Block{b}, Pin: &messages.PinBlock{CID: tc.pin}})
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if err := askErr(t, n, &messages.GetBlock{CID: b.CID()}); !errors.Is(err, messages.ErrBlockNotFound) {
				t.Fatalf("a refused put stored its block: %v", err)
			}
		})
	}
}

func TestReadsPastTheQueueAreRefusedNotStalled(t *testing.T) {
	fs := &faultyStore{Store: memstore.New(), stall: make(chan struct{})}
	n := start(t, fs, Config{MaxBlockSize: 1 << 20, GCGrace: time.Hour})
	b := raw(t, "hot")
	put(t, n, b)
	const extra = 16
	total := readQueue + readerCount() + extra // more than the readers and the queue can hold
	var busy, ok atomic.Int64
	var wg sync.WaitGroup
	for range total {
		wg.Go(func() {
			_, err := n.tree.Request(context.Background(), Name, &messages.GetBlock{CID: b.CID()})
			switch {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, messages.ErrBusy):
				busy.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	// The actor still answers other requests while reads are stalled.
	deadline := time.Now().Add(10 * time.Second)
	for busy.Load() < extra {
		if time.Now().After(deadline) {
			t.Fatalf("only %d reads refused", busy.Load())
		}
		time.Sleep(time.Millisecond)
	}
	ask[*messages.SubsystemStatus](t, n, &messages.StatusRequest{})
	close(fs.stall)
	wg.Wait()
	if ok.Load()+busy.Load() != int64(total) || ok.Load() == 0 {
		t.Fatalf("%d ok + %d busy of %d", ok.Load(), busy.Load(), total)
	}
}

// A ref update whose commit failed does not stand for the ref's value: its
// caller, told of the failure, retries from the stored value at once and
// is neither refused as a conflict nor failed with the earlier failure
// (the caller hears of the failure before the actor does).
func TestARetryAfterAFailedRefUpdateSucceeds(t *testing.T) {
	fs := &faultyStore{Store: memstore.New()}
	n := start(t, fs, Config{MaxBlockSize: 1 << 20})
	first, second, third := raw(t, "first"), raw(t, "second"), raw(t, "third")
	put := func(b block.Block, old cid.Cid) error {
		_, err := n.tree.Request(t.Context(), Name, &messages.PutBlocks{Blocks: []block.Block{b},
			Refs: []messages.RefUpdate{{Name: "head", Old: old, New: b.CID()}}})
		return err
	}
	if err := put(first, cid.Undef); err != nil {
		t.Fatal(err)
	}
	errDisk := errors.New("disk on fire")
	for i := range 200 {
		fail := func(*store.Batch) error { return errDisk }
		fs.commitErr.Store(&fail)
		if err := put(second, first.CID()); !errors.Is(err, errDisk) {
			t.Fatalf("round %d: the failing update: %v", i, err)
		}
		fs.commitErr.Store(nil)
		if err := put(third, first.CID()); err != nil {
			t.Fatalf("round %d: the retry from the stored value: %v", i, err)
		}
		if err := put(first, third.CID()); err != nil { // back, for the next round
			t.Fatalf("round %d: %v", i, err)
		}
	}
}

// A block whose put was acknowledged is served to other nodes at once: the
// writer is answered before the actor indexes the block, and may tell
// another node of it in between (an executor's output, a payment's entry).
func TestAnAcknowledgedBlockIsServedToPeersAtOnce(t *testing.T) {
	n := start(t, memstore.New(), Config{MaxBlockSize: 1 << 20})
	for i := range 300 {
		b := raw(t, fmt.Sprintf("told at once %d", i))
		if _, err := n.tree.Request(t.Context(), Name, &messages.PutBlocks{Blocks: []block.Block{b}}); err != nil {
			t.Fatal(err)
		}
		r, err := supervisors.Ask[*messages.PeerResponse](t.Context(), n.tree, Name,
			&messages.PeerRequestIn{Type: messages.WireDAGBlock, Body: b.CID().Bytes()})
		if err != nil || !bytes.Equal(r.Body, b.Data()) {
			t.Fatalf("block %d asked by a peer right after its put: %v", i, err)
		}
	}
}
