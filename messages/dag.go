package messages

import (
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages/block"
)

// Messages of the dag actor, the node's content-addressed block store.

var (
	// ErrBlockNotFound: the node does not have the block.
	ErrBlockNotFound = errors.New("dag: block not found")
	// ErrBlockTooLarge: a block over the node's maximum block size.
	ErrBlockTooLarge = errors.New("dag: block too large")
	// ErrCorruptBlock: the stored bytes no longer hash to the CID; the
	// block is reported, never returned.
	ErrCorruptBlock = errors.New("dag: block is corrupt on disk")
	// ErrNotPinned: unpin of a CID that is not pinned.
	ErrNotPinned = errors.New("dag: not pinned")
	// ErrIncompleteDAG: the DAG under a root has blocks this node lacks.
	ErrIncompleteDAG = errors.New("dag: the DAG is incomplete on this node")
	// ErrBusy: too much work in flight; retry shortly (any subsystem).
	ErrBusy = errors.New("busy")
	// ErrRefConflict: a ref update's Old is not the ref's current value
	// (someone else moved it first), or an earlier update it builds on failed.
	ErrRefConflict = errors.New("dag: ref conflict")
	// ErrRefNotFound: no ref by that name.
	ErrRefNotFound = errors.New("dag: ref not found")
	// ErrInvalidRef: a ref name or update that cannot be.
	ErrInvalidRef = errors.New("dag: invalid ref")
)

// Refs are named roots in the DAG, for the subsystems that keep chains of
// blocks (ledger account heads, job records): each names one CID and keeps
// everything under it like a recursive pin. They move only with a put, by
// compare-and-swap, atomically with the put's last batch, so a subsystem
// can move several refs at once or not at all.

// Ref limits.
const (
	MaxRefName    = 256
	MaxRefsPerPut = 64
)

// RefUpdate moves the ref Name from Old to New. Old cid.Undef means the
// ref must not exist yet; New cid.Undef deletes it.
type RefUpdate struct {
	Name string
	Old  cid.Cid
	New  cid.Cid
}

// CheckRefName validates a ref name: 1 to MaxRefName printable ASCII
// bytes, no spaces; by convention "<subsystem>/<kind>/<id>".
func CheckRefName(name string) error {
	if name == "" || len(name) > MaxRefName {
		return fmt.Errorf("%w: name of %d bytes (1 to %d)", ErrInvalidRef, len(name), MaxRefName)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; c <= ' ' || c > '~' {
			return fmt.Errorf("%w: name %q: byte %d is not printable ASCII", ErrInvalidRef, name, i)
		}
	}
	return nil
}

// GetRef asks for one ref (ErrRefNotFound if there is none).
type GetRef struct{ Name string }

// Ref is a ref's current value.
type Ref struct {
	Name      string
	CID       cid.Cid
	UpdatedAt time.Time
}

// ListRefs lists refs whose names start with Prefix, in name order, after
// the name After, at most Limit (0: MaxListedRefs).
type ListRefs struct {
	Prefix string
	After  string
	Limit  int
}

// ListRefsReply is one page of refs; More says whether another follows.
type ListRefsReply struct {
	Refs []Ref
	More bool
}

// MaxListedRefs bounds one ListRefs page.
const MaxListedRefs = 10_000

// PutBlocks stores blocks. Up to one store batch (a few thousand small
// blocks, or a few large ones) they are stored all or none; a bigger put is
// durable batch by batch and the reply comes when every batch is. When Pin
// is set, the pin is written with the last batch, so a root is only pinned
// once everything before it is stored.
type PutBlocks struct {
	Blocks []block.Block
	Pin    *PinBlock
	// TTL keeps unpinned blocks at least this long; 0 means the node's
	// grace period (dag.gc_grace).
	TTL time.Duration
	// Refs move with the last batch, all or none; each new value must be
	// in the put or stored. Updates of one ref are applied in the order the
	// dag receives them, and one whose predecessor failed fails too.
	Refs []RefUpdate
}

// PutBlocksReply says how many blocks were new to the node.
type PutBlocksReply struct {
	Stored int
	New    int
	Bytes  int64 // bytes of the new blocks
}

// GetBlock asks for one block; the reply is verified against its CID.
type GetBlock struct {
	CID cid.Cid
	// Fetch: when this node lacks the block, ask other nodes for it
	// (providers on the DHT, then connected peers), check it against its
	// CID and keep it (unpinned, with the default retention).
	Fetch bool
	// Prefer are peers to ask first when fetching: those that held the
	// block's parent are likely to hold it too.
	Prefer []string
}

// FetchDAG fetches every block under Root that this node lacks from other
// nodes, a bounded number at a time, and answers *FetchDAGReply; with Pin
// it then pins Root recursively. A block no node has fails it with
// ErrBlockNotFound (what was fetched stays, unpinned).
type FetchDAG struct {
	Root cid.Cid
	Pin  bool
}

// FetchDAGReply reports a FetchDAG.
type FetchDAGReply struct {
	Root    cid.Cid
	Blocks  int   // in the DAG
	Fetched int   // of them from other nodes
	Bytes   int64 // fetched
	Took    time.Duration
}

// GetBlockReply carries the block.
type GetBlockReply struct {
	Block block.Block
	From  string // the peer it was fetched from; "" when it was here
}

// StatBlock asks what the node knows of a block.
type StatBlock struct{ CID cid.Cid }

// BlockStat describes a stored block.
type BlockStat struct {
	CID       cid.Cid
	Codec     uint64
	Size      int
	Links     []cid.Cid
	Pin       string    // "recursive", "direct", or "" when the block is not a pin root
	ExpiresAt time.Time // when an unpinned block becomes collectable
	StoredAt  time.Time
}

// PinBlock pins a block: Recursive pins keep everything it links to.
type PinBlock struct {
	CID       cid.Cid
	Recursive bool
}

// PinBlockReply reports the pin and how many blocks under it the node lacks.
type PinBlockReply struct {
	Pin     PinInfo
	Missing int
}

// UnpinBlock removes a pin (ErrNotPinned if there is none).
type UnpinBlock struct{ CID cid.Cid }

// UnpinBlockReply confirms the pin is gone.
type UnpinBlockReply struct{ Pin PinInfo }

// ListPins asks for every pin.
type ListPins struct{}

// ListPinsReply lists pins in CID byte order.
type ListPinsReply struct{ Pins []PinInfo }

// PinInfo is one pin.
type PinInfo struct {
	CID       cid.Cid
	Recursive bool
	PinnedAt  time.Time
}

// CollectGarbage removes every block not reachable from a pin whose
// retention (TTL or grace) has passed.
type CollectGarbage struct{}

// CollectGarbageReply says what was removed.
type CollectGarbageReply struct {
	Removed      []cid.Cid // at most MaxListedRemovals
	RemovedCount int
	RemovedBytes int64
	Kept         int
	Took         time.Duration
}

// MaxListedRemovals bounds CollectGarbageReply.Removed.
const MaxListedRemovals = 10_000

// WalkDAG lists every block of the DAG under Root, depth first, each once,
// parents before children (the order of a CAR export).
type WalkDAG struct{ Root cid.Cid }

// WalkDAGReply is the ordered list, or ErrIncompleteDAG with Missing.
type WalkDAGReply struct {
	CIDs    []cid.Cid
	Missing []cid.Cid
	Bytes   int64
}
