package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
)

// verifyCase is a chain to verify: its blocks, its account, its head, the
// rules, the known heads, and the CIDs of its entries that are also on
// the chain of head (where a checkpoint may be).
type verifyCase struct {
	src     mapSource
	account string
	head    cid.Cid
	p       Params
	heads   Heads
	prefix  []cid.Cid
}

// verifyCases are the chains of verify_test.go: well kept, tampered, and
// with bad receives.
func verifyCases() map[string]func(t *testing.T) verifyCase {
	cases := map[string]func(t *testing.T) verifyCase{
		"well kept payer": func(t *testing.T) verifyCase {
			src, a, b, _, p := payment(t)
			return verifyCase{src, a.s.account, a.s.head, p, headsOf(a, b), a.entries}
		},
		"well kept payee": func(t *testing.T) verifyCase {
			src, a, b, _, p := payment(t)
			return verifyCase{src, b.s.account, b.s.head, p, headsOf(a, b), b.entries}
		},
		"receive of a fork": func(t *testing.T) verifyCase {
			src, a, b, _, p := payment(t)
			second := a.entry(1)
			second.Amount, second.BalanceAfter = 300, second.BalanceAfter-50
			fork := a.sign(second).CID()
			b.add(entry{Op: messages.OpReceive, Amount: 300, Counterparty: a.s.account, Source: link(fork)}, hourMS)
			return verifyCase{src, b.s.account, b.s.head, p, headsOf(a), b.entries}
		},
		"double receive": func(t *testing.T) verifyCase {
			src, a, b, _, p := payment(t)
			b.add(entry{Op: messages.OpReceive, Amount: 250, Counterparty: a.s.account, Source: link(a.entries[1])}, hourMS)
			return verifyCase{src, b.s.account, b.s.head, p, headsOf(a), b.entries}
		},
		"receive of a reserve": func(t *testing.T) verifyCase {
			src, a, b, _, p := payment(t)
			b.add(entry{Op: messages.OpReceive, Amount: 100, Counterparty: a.s.account, Source: link(a.entries[2])}, hourMS)
			return verifyCase{src, b.s.account, b.s.head, p, headsOf(a), b.entries}
		},
		"receive of more than was sent": func(t *testing.T) verifyCase {
			src, a, b, _, p := payment(t)
			b.add(entry{Op: messages.OpReceive, Amount: 61, Counterparty: a.s.account, Source: link(a.entries[3])}, hourMS)
			return verifyCase{src, b.s.account, b.s.head, p, headsOf(a), b.entries}
		},
		"under other rules": func(t *testing.T) verifyCase {
			src, a, _, _, p := payment(t)
			p.RegenPerHour = 1000
			return verifyCase{src, a.s.account, a.s.head, p, nil, a.entries}
		},
	}
	for _, tc := range tamperings {
		cases["tampered: "+tc.name] = func(t *testing.T) verifyCase {
			src, a, b, _, p := payment(t)
			head := tc.apply(t, src, a)
			return verifyCase{src, a.s.account, head, p, headsOf(b), a.entries[:tc.at]}
		}
	}
	return cases
}

// checkpointAt verifies the chain up to c in full, under the case's rules
// (or the default ones), for a checkpoint; nil if that prefix is invalid.
func checkpointAt(vc verifyCase, c cid.Cid, p Params) *checkpoint {
	_, cp := verifyFrom(context.Background(), vc.src, vc.account, c, p, vc.heads, nil)
	return cp
}

// sameReport fails unless two reports say the same, their times aside.
func sameReport(t *testing.T, full, inc messages.VerifyReport) {
	t.Helper()
	full.Took, inc.Took = 0, 0
	if fmt.Sprintf("%+v", full) != fmt.Sprintf("%+v", inc) {
		t.Fatalf("from a checkpoint: %+v\nfull:              %+v", inc, full)
	}
}

// TestVerifyFromCheckpointAgreesWithFull continues every chain of the
// verify tests from a checkpoint at each of its verified prefixes: the
// report must be the one a verification from the open entry gives, and a
// valid chain's checkpoint the one a full replay leaves.
func TestVerifyFromCheckpointAgreesWithFull(t *testing.T) {
	for name, build := range verifyCases() {
		t.Run(name, func(t *testing.T) {
			vc := build(t)
			full, fullAfter := verifyFrom(context.Background(), vc.src, vc.account, vc.head, vc.p, vc.heads, nil)
			for i, c := range vc.prefix {
				// Checkpoints made under the default rules too: one made
				// under others must not be used.
				for _, p := range []Params{vc.p, DefaultParams()} {
					cp := checkpointAt(vc, c, p)
					if cp == nil {
						continue
					}
					inc, after := verifyFrom(context.Background(), vc.src, vc.account, vc.head, vc.p, vc.heads, cp)
					t.Logf("checkpoint at seq %d", i)
					sameReport(t, full, inc)
					if (after == nil) != (fullAfter == nil) {
						t.Fatalf("checkpoint after: %v, full: %v", after, fullAfter)
					}
					if after != nil && fmt.Sprintf("%+v", *after) != fmt.Sprintf("%+v", *fullAfter) {
						t.Fatalf("checkpoint after:\n%+v\nfull:\n%+v", *after, *fullAfter)
					}
				}
			}
		})
	}
}

// TestVerifyFromCheckpointCatchesForks: another entry, signed by the
// account, where the checkpoint's chain has its own is equivocation, even
// though the fork alone verifies; anything else is verified as in full.
func TestVerifyFromCheckpointCatchesForks(t *testing.T) {
	sends := func(fc *chain, n int) cid.Cid {
		var last cid.Cid
		for i := range n {
			last = fc.add(entry{Op: messages.OpSend, Amount: uint64(7 + i), Counterparty: "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"}, 2*hourMS)
		}
		return last
	}
	for _, tc := range []struct {
		name string
		// cp is the seq of the checkpoint on a's chain (seqs 0 to 4); fork
		// makes the chain to verify and returns its head.
		cp     uint64
		fork   func(t *testing.T, a *chain) cid.Cid
		reason string // "" when the report must be the full one
	}{
		{"fork at the checkpoint, continued", 2, func(t *testing.T, a *chain) cid.Cid { return sends(forkOf(t, a, 2), 3) }, messages.ReasonEquivocation},
		{"fork at the checkpoint, as head", 2, func(t *testing.T, a *chain) cid.Cid { return sends(forkOf(t, a, 2), 1) }, messages.ReasonEquivocation},
		{"fork before the checkpoint, continued", 2, func(t *testing.T, a *chain) cid.Cid { return sends(forkOf(t, a, 1), 4) }, messages.ReasonEquivocation},
		{"fork before the checkpoint, as head", 3, func(t *testing.T, a *chain) cid.Cid { return sends(forkOf(t, a, 1), 1) }, messages.ReasonEquivocation},
		{"unsigned entry at the checkpoint", 2, func(t *testing.T, a *chain) cid.Cid {
			return tampering{at: 2, tamper: func(e *entry) { e.Sig[0] ^= 1 }}.apply(t, a.src, a)
		}, ""},
		{"head before the checkpoint", 3, func(t *testing.T, a *chain) cid.Cid { return a.entries[1] }, ""},
		{"head at the checkpoint", 3, func(t *testing.T, a *chain) cid.Cid { return a.entries[3] }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src, a, b, _, p := payment(t)
			a.add(entry{Op: messages.OpSend, Amount: 10, Counterparty: b.s.account}, 2*hourMS)
			vc := verifyCase{src: src, account: a.s.account, p: p}
			cp := checkpointAt(vc, a.entries[tc.cp], p)
			head := tc.fork(t, a)
			full := Verify(context.Background(), src, a.s.account, head, p, nil)
			inc, after := verifyFrom(context.Background(), src, a.s.account, head, p, nil, cp)
			if tc.reason == "" {
				sameReport(t, full, inc)
				return
			}
			if !full.Valid {
				t.Fatalf("the fork alone should verify: %+v", full)
			}
			if !isProblem(inc, tc.reason) || after != nil {
				t.Fatalf("got %+v (checkpoint %v), want %s", inc, after, tc.reason)
			}
		})
	}
}

// forkOf is a chain that shares a's entries before seq and goes its own
// way from there.
func forkOf(t *testing.T, a *chain, seq int) *chain {
	t.Helper()
	cp := checkpointAt(verifyCase{src: a.src, account: a.s.account}, a.entries[seq-1], a.params)
	if cp == nil {
		t.Fatal("a's chain does not verify")
	}
	return &chain{t: t, keyring: a.keyring, params: a.params, src: a.src, s: cp.state.clone(), entries: slices.Clone(a.entries[:seq])}
}

func TestCheckpointsKeepTheLatestAndEvictTheLeastUsed(t *testing.T) {
	at := func(account string, seq uint64) *checkpoint {
		return &checkpoint{state: state{account: account, seq: seq}}
	}
	for _, tc := range []struct {
		name string
		do   func(c *checkpoints)
		want map[string]uint64 // account -> seq; absent: not kept
	}{
		{"a later head replaces", func(c *checkpoints) { c.put(at("a", 1)); c.put(at("a", 5)) }, map[string]uint64{"a": 5}},
		{"an earlier head does not", func(c *checkpoints) { c.put(at("a", 5)); c.put(at("a", 1)) }, map[string]uint64{"a": 5}},
		{"the oldest goes", func(c *checkpoints) { c.put(at("a", 1)); c.put(at("b", 1)); c.put(at("c", 1)) },
			map[string]uint64{"b": 1, "c": 1}},
		{"a read keeps it", func(c *checkpoints) { c.put(at("a", 1)); c.put(at("b", 1)); c.get("a"); c.put(at("c", 1)) },
			map[string]uint64{"a": 1, "c": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newCheckpoints(2)
			tc.do(c)
			if c.len() != len(tc.want) {
				t.Fatalf("%d kept, want %d", c.len(), len(tc.want))
			}
			for account, seq := range tc.want {
				if got := c.get(account); got == nil || got.state.seq != seq {
					t.Fatalf("%s: %+v, want seq %d", account, got, seq)
				}
			}
		})
	}
}

// A second payment from a payer is checked from the first one's
// checkpoint: a fork of what was verified then is refused as equivocation,
// though on its own it would verify.
func TestReceivePaymentChecksFromTheLastPayment(t *testing.T) {
	n := startNode(t, setup{})
	k, payer, _ := twoAccounts(t)
	src := mapSource{}
	c := newChain(t, k, payer, n.params, src)
	c.add(entry{Op: messages.OpOpen, Amount: n.params.Initial}, t0.UnixMilli())
	first := c.add(entry{Op: messages.OpSend, Amount: 10, Counterparty: n.self}, t0.UnixMilli()+1)
	fc := forkOf(t, c, 1)
	fc.add(entry{Op: messages.OpSend, Amount: 20, Counterparty: n.self}, t0.UnixMilli()+1)
	forked := fc.add(entry{Op: messages.OpSend, Amount: 5, Counterparty: n.self}, t0.UnixMilli()+2)
	second := c.add(entry{Op: messages.OpSend, Amount: 30, Counterparty: n.self}, t0.UnixMilli()+2)
	var blocks []block.Block
	for _, b := range src {
		blocks = append(blocks, b)
	}
	if _, err := n.tree.Request(t.Context(), dagName, &messages.PutBlocks{Blocks: blocks}); err != nil {
		t.Fatal(err)
	}
	before := n.account(t, n.self).Available
	for _, source := range []cid.Cid{first, second} {
		if r := ask[*messages.EntryReply](t, n, &messages.ReceivePayment{Source: source}); !r.Entry.Source.Equals(source) {
			t.Fatalf("receive: %+v", r.Entry)
		}
	}
	if got := n.account(t, n.self).Available; got != before+40 {
		t.Fatalf("available %d, want %d", got, before+40)
	}
	err := askErr(t, n, &messages.ReceivePayment{Source: forked})
	if !errors.Is(err, messages.ErrInvalidPayment) || !strings.Contains(err.Error(), messages.ReasonEquivocation) {
		t.Fatalf("fork: %v", err)
	}
}
