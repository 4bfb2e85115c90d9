package ledger

import (
	"bytes"
	"fmt"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
)

// entry is one link of an account's chain: a dag-cbor block signed by the
// account's key. The signature covers the entry's dag-cbor encoding
// without "sig", after a domain prefix, so it cannot be replayed as any
// other kind of signed ICN message.
type entry struct {
	Account       string      `cbor:"account"`
	Seq           uint64      `cbor:"seq"`
	Prev          *block.Link `cbor:"prev"` // null on the open entry
	Op            string      `cbor:"op"`
	Amount        uint64      `cbor:"amount"`
	Counterparty  string      `cbor:"counterparty,omitempty"`
	Ref           string      `cbor:"ref,omitempty"`
	Source        *block.Link `cbor:"source,omitempty"`
	Memo          string      `cbor:"memo,omitempty"`
	Time          int64       `cbor:"time"` // unix milliseconds
	BalanceAfter  uint64      `cbor:"balance_after"`
	ReservedAfter uint64      `cbor:"reserved_after"`
	Sig           []byte      `cbor:"sig,omitempty"`
}

// signingDomain prefixes the bytes an entry's signature covers.
const signingDomain = "icn/ledger/entry/v1\n"

// signingBytes are what the account signs: the entry without its signature.
func (e entry) signingBytes() ([]byte, error) {
	e.Sig = nil
	b, err := block.Encode(e)
	if err != nil {
		return nil, err
	}
	return append([]byte(signingDomain), b.Data()...), nil
}

// encode makes the entry's block.
func (e entry) encode() (block.Block, error) { return block.Encode(e) }

// decodeEntry reads an entry block. Only the canonical encoding of an entry
// is accepted (no extra fields, no other key order), so a signed entry has
// exactly one CID: nobody can make a second block of the same entry.
func decodeEntry(b block.Block) (entry, error) {
	var e entry
	if err := block.Decode(b, &e); err != nil {
		return entry{}, err
	}
	again, err := e.encode()
	if err != nil {
		return entry{}, err
	}
	if !bytes.Equal(again.Data(), b.Data()) {
		return entry{}, fmt.Errorf("%w: %s is not the canonical encoding of a ledger entry", block.ErrInvalidNode, b.CID())
	}
	return e, nil
}

func link(c cid.Cid) *block.Link {
	if !c.Defined() {
		return nil
	}
	l := block.LinkTo(c)
	return &l
}

func unlink(l *block.Link) cid.Cid {
	if l == nil {
		return cid.Undef
	}
	return l.Cid
}

// info is the entry as the ledger's messages carry it.
func (e entry) info(c cid.Cid) messages.EntryInfo {
	return messages.EntryInfo{
		CID: c, Account: e.Account, Seq: e.Seq, Prev: unlink(e.Prev), Op: e.Op, Amount: e.Amount,
		Counterparty: e.Counterparty, Ref: e.Ref, Source: unlink(e.Source), Memo: e.Memo,
		Time: time.UnixMilli(e.Time).UTC(), BalanceAfter: e.BalanceAfter, ReservedAfter: e.ReservedAfter,
	}
}
