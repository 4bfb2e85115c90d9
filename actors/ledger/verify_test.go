package ledger

import (
	"context"
	"crypto/rand"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/identity"
)

// twoAccounts is a keyring with the node's key and one more account.
func twoAccounts(t testing.TB) (identity.Keyring, string, string) {
	t.Helper()
	id, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k := identity.NewMemoryKeyring(id, rand.Reader, 0)
	b, err := k.Create(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return k, string(id.DID()), string(b)
}

// payment builds a's chain with a send to b and b's chain receiving it.
func payment(t *testing.T) (src mapSource, a, b *chain, k identity.Keyring, p Params) {
	k, da, db := twoAccounts(t)
	p = DefaultParams()
	src = mapSource{}
	a, b = newChain(t, k, da, p, src), newChain(t, k, db, p, src)
	a.add(entry{Op: messages.OpOpen, Amount: p.Initial}, 0)
	b.add(entry{Op: messages.OpOpen, Amount: p.Initial}, 0)
	send := a.add(entry{Op: messages.OpSend, Amount: 250, Counterparty: db}, 1000)
	a.add(entry{Op: messages.OpReserve, Amount: 100, Ref: "job-1"}, 2000)
	b.add(entry{Op: messages.OpReceive, Amount: 250, Counterparty: da, Source: link(send)}, 3000)
	a.add(entry{Op: messages.OpSettle, Amount: 60, Ref: "job-1", Counterparty: db}, hourMS)
	return src, a, b, k, p
}

func headsOf(chains ...*chain) Heads {
	return func(account string) (cid.Cid, bool) {
		for _, c := range chains {
			if c.s.account == account {
				return c.s.head, true
			}
		}
		return cid.Undef, false
	}
}

func TestVerifyAcceptsWellKeptChains(t *testing.T) {
	src, a, b, _, p := payment(t)
	for _, c := range []*chain{a, b} {
		r := Verify(context.Background(), src, c.s.account, c.s.head, p, headsOf(a, b))
		if !r.Valid || r.Entries != len(c.entries) || len(r.Problems) != 0 {
			t.Fatalf("%s: %+v", c.s.account, r)
		}
	}
}

// tampering changes one entry of a's chain (of payment); the tamperer
// holds the key and re-signs and re-links every later entry, so only the
// rule the tampering breaks can give it away.
type tampering struct {
	name   string
	at     int
	tamper func(e *entry)
	resign bool
	reason string
}

var tamperings = []tampering{
	{"amount, re-signed", 1, func(e *entry) { e.Amount = 25 }, true, messages.ReasonBadBalance},
	{"amount, not re-signed", 1, func(e *entry) { e.Amount = 25 }, false, messages.ReasonBadSignature},
	{"balance claimed", 2, func(e *entry) { e.BalanceAfter += 100 }, true, messages.ReasonBadBalance},
	{"seq", 2, func(e *entry) { e.Seq = 7 }, true, messages.ReasonBadSeq},
	{"prev", 2, func(e *entry) {
		e.Prev = link(cid.MustParse("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy"))
	}, true, messages.ReasonMissingBlock},
	{"time", 2, func(e *entry) { e.Time = 10 }, true, messages.ReasonBadTime},
	{"signature", 3, func(e *entry) { e.Sig[0] ^= 1 }, false, messages.ReasonBadSignature},
	{"account", 3, func(e *entry) { e.Account = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK" }, false, messages.ReasonWrongAccount},
}

// apply rebuilds a's chain from the tampered entry on and returns its new
// head.
func (tc tampering) apply(t *testing.T, src mapSource, a *chain) cid.Cid {
	t.Helper()
	e := a.entry(tc.at)
	tc.tamper(&e)
	var head cid.Cid
	if tc.resign {
		head = a.sign(e).CID()
	} else {
		blk, err := e.encode()
		if err != nil {
			t.Fatal(err)
		}
		src.add(blk)
		head = blk.CID()
	}
	for i := tc.at + 1; i < len(a.entries); i++ {
		later := a.entry(i)
		later.Prev = link(head)
		head = a.sign(later).CID()
	}
	return head
}

func TestVerifyNamesWhatWasTampered(t *testing.T) {
	for _, tc := range tamperings {
		t.Run(tc.name, func(t *testing.T) {
			src, a, b, _, p := payment(t)
			head := tc.apply(t, src, a)
			r := Verify(context.Background(), src, a.s.account, head, p, headsOf(b))
			if !isProblem(r, tc.reason) {
				t.Fatalf("got %+v, want %s first", r, tc.reason)
			}
		})
	}
}

func TestVerifyCatchesBadReceives(t *testing.T) {
	t.Run("equivocation", func(t *testing.T) {
		src, a, b, _, p := payment(t)
		// a signs a second entry at the seq of its send, paying b again;
		// b receives that one. a's chain still holds the first.
		first := a.entry(1)
		second := first
		second.Amount, second.BalanceAfter = 300, first.BalanceAfter-50
		fork := a.sign(second).CID()
		b.add(entry{Op: messages.OpReceive, Amount: 300, Counterparty: a.s.account, Source: link(fork)}, hourMS)
		r := Verify(context.Background(), src, b.s.account, b.s.head, p, headsOf(a))
		if !isProblem(r, messages.ReasonEquivocation) {
			t.Fatalf("%+v", r)
		}
		// Without a's chain known, the fork cannot be seen from b alone.
		if r := Verify(context.Background(), src, b.s.account, b.s.head, p, nil); !r.Valid {
			t.Fatalf("without heads: %+v", r)
		}
	})
	t.Run("double receive", func(t *testing.T) {
		src, a, b, _, p := payment(t)
		b.add(entry{Op: messages.OpReceive, Amount: 250, Counterparty: a.s.account, Source: link(a.entries[1])}, hourMS)
		if r := Verify(context.Background(), src, b.s.account, b.s.head, p, headsOf(a)); !isProblem(r, messages.ReasonDoubleReceive) {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("receive of a reserve", func(t *testing.T) {
		src, a, b, _, p := payment(t)
		b.add(entry{Op: messages.OpReceive, Amount: 100, Counterparty: a.s.account, Source: link(a.entries[2])}, hourMS)
		if r := Verify(context.Background(), src, b.s.account, b.s.head, p, headsOf(a)); !isProblem(r, messages.ReasonUnbackedRecv) {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("receive of more than was sent", func(t *testing.T) {
		src, a, b, _, p := payment(t)
		b.add(entry{Op: messages.OpReceive, Amount: 61, Counterparty: a.s.account, Source: link(a.entries[3])}, hourMS)
		if r := Verify(context.Background(), src, b.s.account, b.s.head, p, headsOf(a)); !isProblem(r, messages.ReasonUnbackedRecv) {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("source past the sender's head", func(t *testing.T) {
		src, a, b, _, p := payment(t)
		head := a.s.head
		pay := a.add(entry{Op: messages.OpSend, Amount: 10, Counterparty: b.s.account}, 2*hourMS)
		b.add(entry{Op: messages.OpReceive, Amount: 10, Counterparty: a.s.account, Source: link(pay)}, 2*hourMS)
		stale := func(string) (cid.Cid, bool) { return head, true }
		if r := Verify(context.Background(), src, b.s.account, b.s.head, p, stale); !isProblem(r, messages.ReasonUnbackedRecv) {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("missing block", func(t *testing.T) {
		src, a, _, _, p := payment(t)
		delete(src, a.entries[1].KeyString())
		if r := Verify(context.Background(), src, a.s.account, a.s.head, p, nil); !isProblem(r, messages.ReasonMissingBlock) {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("a chain made under other rules", func(t *testing.T) {
		src, a, _, _, p := payment(t)
		p.RegenPerHour = 1000
		if r := Verify(context.Background(), src, a.s.account, a.s.head, p, nil); !isProblem(r, messages.ReasonBadBalance) {
			t.Fatalf("%+v", r)
		}
	})
}
