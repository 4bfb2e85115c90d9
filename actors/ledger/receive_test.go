package ledger

import (
	"errors"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
)

// A payment from an account another node keeps is received once, after its
// payer's chain verifies; entries that pay nothing here are refused.
func TestReceivePaymentFromAnotherNode(t *testing.T) {
	n := startNode(t, setup{})
	k, payer, _ := twoAccounts(t) // payer's key is not this node's
	src := mapSource{}
	c := newChain(t, k, payer, n.params, src)
	c.add(entry{Op: messages.OpOpen, Amount: n.params.Initial}, t0.UnixMilli())
	c.add(entry{Op: messages.OpReserve, Amount: 100, Ref: "job-1"}, t0.UnixMilli()+1)
	reserve := c.entries[1]
	settle := c.add(entry{Op: messages.OpSettle, Amount: 30, Ref: "job-1", Counterparty: n.self}, t0.UnixMilli()+2)
	elsewhere := c.add(entry{Op: messages.OpSend, Amount: 5, Counterparty: "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"}, t0.UnixMilli()+3)
	var blocks []block.Block
	for _, b := range src {
		blocks = append(blocks, b)
	}
	if _, err := n.tree.Request(t.Context(), dagName, &messages.PutBlocks{Blocks: blocks}); err != nil {
		t.Fatal(err)
	}

	before := n.account(t, n.self).Available
	r := ask[*messages.EntryReply](t, n, &messages.ReceivePayment{Source: settle})
	if r.Entry.Op != messages.OpReceive || r.Entry.Amount != 30 || r.Entry.Counterparty != payer || !r.Entry.Source.Equals(settle) {
		t.Fatalf("receive: %+v", r.Entry)
	}
	if got := n.account(t, n.self).Available; got != before+30 {
		t.Fatalf("available %d, want %d", got, before+30)
	}
	if err := askErr(t, n, &messages.ReceivePayment{Source: settle}); !errors.Is(err, messages.ErrAlreadyReceived) {
		t.Fatalf("second receive: %v", err)
	}
	for name, c := range map[string]cid.Cid{"reserve": reserve, "paid elsewhere": elsewhere} {
		if err := askErr(t, n, &messages.ReceivePayment{Source: c}); !errors.Is(err, messages.ErrInvalidPayment) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if v := ask[*messages.VerifyReport](t, n, &messages.VerifyAccount{Account: n.self}); !v.Valid {
		t.Fatalf("verify: %+v", v)
	}
}
