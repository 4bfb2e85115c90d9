package ledger

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/store"
)

// saveEvery is how many entries a local account appends between two saved
// checkpoints of it: a new process replays at most about that many of its
// entries. A variable for the tests.
var saveEvery uint64 = 4096

// A saved checkpoint is the state of a local chain at a head this node
// verified (at load) or built (by applying the rules to its own entries),
// kept in the store so that a new process replays the chain from there
// rather than from its open entry. It is signed by the node's key, under
// its own domain: whoever can write the store but does not hold the key
// cannot make the node trust a balance. It keeps no sources received
// before it, so a receive after it of a source received before it is
// caught by Verify, not by the load (the live ledger refuses it anyway).
type savedCheckpoint struct {
	Account      string             `cbor:"account"`
	Head         block.Link         `cbor:"head"`
	Seq          uint64             `cbor:"seq"`
	Time         int64              `cbor:"time"`
	Available    uint64             `cbor:"available"`
	Reserved     uint64             `cbor:"reserved"`
	Reservations []savedReservation `cbor:"reservations"` // by ref
	Params       savedParams        `cbor:"params"`
	Signer       string             `cbor:"signer"`
	Sig          []byte             `cbor:"sig,omitempty"`
}

type savedReservation struct {
	Ref    string     `cbor:"ref"`
	Amount uint64     `cbor:"amount"`
	Entry  block.Link `cbor:"entry"`
}

// savedParams are the rules the checkpoint's state was computed by.
type savedParams struct {
	RegenPerHour uint64 `cbor:"regen_per_hour"`
	Capacity     uint64 `cbor:"capacity"`
	Initial      uint64 `cbor:"initial"`
	OpCap        uint64 `cbor:"op_cap"`
	ProposalCost uint64 `cbor:"proposal_cost"`
	VoteCost     uint64 `cbor:"vote_cost"`
}

const checkpointDomain = "icn/ledger/checkpoint/v1\n"

func checkpointKey(account string) []byte { return []byte("ledger/ckpt/" + account) }

func (sc savedCheckpoint) signingBytes() ([]byte, error) {
	sc.Sig = nil
	b, err := block.Encode(sc)
	if err != nil {
		return nil, err
	}
	return append([]byte(checkpointDomain), b.Data()...), nil
}

// saveCheckpoint adds s, signed by the node's key, to b.
func (a *Actor) saveCheckpoint(b *store.Batch, s state) error {
	sc := savedCheckpoint{Account: s.account, Head: block.LinkTo(s.head), Seq: s.seq, Time: s.time, Available: s.available,
		Reserved: s.reserved, Reservations: []savedReservation{}, Signer: a.node, Params: savedParams(a.Params)}
	for ref, r := range s.reservations {
		sc.Reservations = append(sc.Reservations, savedReservation{Ref: ref, Amount: r.amount, Entry: block.LinkTo(r.entry)})
	}
	slices.SortFunc(sc.Reservations, func(x, y savedReservation) int { return cmp.Compare(x.Ref, y.Ref) })
	msg, err := sc.signingBytes()
	if err != nil {
		return err
	}
	if sc.Sig, err = a.Keyring.Sign(identity.DID(a.node), msg); err != nil {
		return err
	}
	blk, err := block.Encode(sc)
	if err != nil {
		return err
	}
	b.Put(checkpointKey(s.account), blk.Data())
	return nil
}

// savedCheckpointOf reads the saved checkpoint of a local account: nil when
// there is none, or when it is not one this node signed under its rules
// (then the chain is replayed in full, which says whether it holds).
func (a *Actor) savedCheckpointOf(ctx context.Context, account string) (*checkpoint, error) {
	data, err := a.Store.Get(ctx, checkpointKey(account))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	cp, err := a.decodeCheckpoint(account, data)
	if err != nil {
		a.log.Warn("ledger: ignoring a saved checkpoint; the chain is replayed in full", "account", account, "err", err)
		return nil, nil
	}
	return cp, nil
}

func (a *Actor) decodeCheckpoint(account string, data []byte) (*checkpoint, error) {
	b, err := block.Verified(block.Sum(block.DagCBOR, data), data)
	if err != nil {
		return nil, err
	}
	var sc savedCheckpoint
	if err := block.Decode(b, &sc); err != nil {
		return nil, err
	}
	msg, err := sc.signingBytes()
	switch {
	case err != nil:
		return nil, err
	case sc.Account != account:
		return nil, fmt.Errorf("a checkpoint of %s", sc.Account)
	case sc.Signer != a.node:
		return nil, fmt.Errorf("signed by %s, not by the node", sc.Signer)
	case sc.Params != savedParams(a.Params):
		return nil, fmt.Errorf("made under other rules (%+v)", sc.Params)
	}
	if err := identity.Verify(identity.DID(sc.Signer), msg, sc.Sig); err != nil {
		return nil, err
	}
	s := state{account: account, head: sc.Head.Cid, seq: sc.Seq, time: sc.Time, available: sc.Available, reserved: sc.Reserved,
		reservations: make(map[string]reservation, len(sc.Reservations))}
	for _, r := range sc.Reservations {
		s.reservations[r.Ref] = reservation{amount: r.Amount, entry: r.Entry.Cid}
	}
	return &checkpoint{state: s, params: a.Params}, nil
}
