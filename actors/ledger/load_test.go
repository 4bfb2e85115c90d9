package ledger

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/store"
	"github.com/intercooperative-network/icn-go/services/store/memstore"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// chainOf reads an account's chain from a node's dag, oldest first.
func (n *node) chainOf(t *testing.T, did string) ([]entry, []cid.Cid) {
	t.Helper()
	var es []entry
	var cs []cid.Cid
	head := n.account(t, did).Head
	for next := head; next.Defined(); {
		b, err := treeSource{n.tree}.Block(context.Background(), next)
		if err != nil {
			t.Fatal(err)
		}
		e, err := decodeEntry(b)
		if err != nil {
			t.Fatal(err)
		}
		es, cs = append([]entry{e}, es...), append([]cid.Cid{next}, cs...)
		next = unlink(e.Prev)
	}
	return es, cs
}

// signed signs e with k's key of signer (the account's, or a foreign one)
// and returns its block.
func signed(t *testing.T, k identity.Keyring, signer string, e entry) block.Block {
	t.Helper()
	e.Sig = nil
	msg, err := e.signingBytes()
	if err != nil {
		t.Fatal(err)
	}
	if e.Sig, err = k.Sign(identity.DID(signer), msg); err != nil {
		t.Fatal(err)
	}
	b, err := e.encode()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// rewrite puts blocks into the dag behind the ledger's back and moves the
// account's head to the last: what a corrupted or tampered store holds.
func (n *node) rewrite(t *testing.T, did string, old cid.Cid, blocks []block.Block) {
	t.Helper()
	put := &messages.PutBlocks{Blocks: blocks, Refs: []messages.RefUpdate{{Name: headRef(did), Old: old, New: blocks[len(blocks)-1].CID()}}}
	if _, err := n.tree.Request(context.Background(), dagName, put); err != nil {
		t.Fatal(err)
	}
}

// relink re-signs es[from:] with the account's key, each linked to the one
// before it (es[from-1] at prev): the tamperer holds the key, so only the
// rules can give the tampering away.
func relink(t *testing.T, k identity.Keyring, prev cid.Cid, es []entry) []block.Block {
	t.Helper()
	var out []block.Block
	for _, e := range es {
		e.Prev = link(prev)
		b := signed(t, k, e.Account, e)
		out = append(out, b)
		prev = b.CID()
	}
	return out
}

// TestLoadRefusesAChainThatDoesNotReplay: a local account whose chain was
// tampered with in the store is refused when the ledger loads, however it
// starts (a new process, from the open entry or from a checkpoint the last
// process saved, or a restart from the last load's checkpoint);
// the node's own account is served, and the refused one is named in the
// error, the metric and the status.
func TestLoadRefusesAChainThatDoesNotReplay(t *testing.T) {
	foreignID, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	foreign := identity.NewMemoryKeyring(foreignID, rand.Reader, 0)
	// reason is the first problem a replay from the open entry finds;
	// forked, the one from a checkpoint past the tampering finds: there the
	// tampered chain forks the one loaded before, and an entry the
	// account's key signed at a seq of it is equivocation.
	tamperings := []struct {
		name, reason, forked string
		tamper               func(t *testing.T, k identity.Keyring, es []entry, cs []cid.Cid) []block.Block
	}{
		{"head balance re-signed by a foreign key", messages.ReasonBadSignature, messages.ReasonBadSignature, func(t *testing.T, _ identity.Keyring, es []entry, _ []cid.Cid) []block.Block {
			e := es[len(es)-1]
			e.BalanceAfter += 500
			return []block.Block{signed(t, foreign, string(foreignID.DID()), e)}
		}},
		{"head balance re-signed by the account's key", messages.ReasonBadBalance, messages.ReasonEquivocation, func(t *testing.T, k identity.Keyring, es []entry, _ []cid.Cid) []block.Block {
			e := es[len(es)-1]
			e.BalanceAfter += 500
			return []block.Block{signed(t, k, e.Account, e)}
		}},
		{"middle entry dropped", messages.ReasonBadSeq, messages.ReasonEquivocation, func(t *testing.T, k identity.Keyring, es []entry, cs []cid.Cid) []block.Block {
			return relink(t, k, cs[1], es[3:])
		}},
		{"middle entry edited", messages.ReasonBadBalance, messages.ReasonEquivocation, func(t *testing.T, k identity.Keyring, es []entry, cs []cid.Cid) []block.Block {
			e := es[2]
			e.Amount++
			return relink(t, k, cs[1], append([]entry{e}, es[3:]...))
		}},
	}
	for _, tc := range tamperings {
		for _, start := range []string{"new process", "new process, saved checkpoint", "restart"} {
			reason := tc.reason
			if start != "new process" {
				reason = tc.forked
			}
			t.Run(tc.name+"/"+start, func(t *testing.T) {
				s := memstore.New()
				n := launch(t, setup{store: s})
				other := n.newAccount(t)
				for i := range 6 {
					from, to := n.self, other
					if i%2 == 1 {
						from, to = other, n.self
					}
					ask[*messages.TransferReply](t, n, &messages.Transfer{From: from, To: to, Amount: uint64(10 + i)})
				}
				switch start {
				case "restart":
					// The load of the restart leaves checkpoints at the heads.
					if err := n.tree.Kill(context.Background(), Name, supervisors.KillPanic); err != nil {
						t.Fatal(err)
					}
					n.waitReady(t)
				case "new process, saved checkpoint":
					// The load of the next process saves them.
					if err := n.tree.Stop(context.Background()); err != nil {
						t.Fatal(err)
					}
					n = launch(t, setup{store: s, keyring: n.keyring, clock: n.clock})
				}
				es, cs := n.chainOf(t, other)
				n.rewrite(t, other, cs[len(cs)-1], tc.tamper(t, n.keyring, es, cs))
				self := n.account(t, n.self)
				if start == "restart" {
					if err := n.tree.Kill(context.Background(), Name, supervisors.KillPanic); err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { _ = n.tree.Stop(context.Background()) })
					n.waitReady(t)
				} else {
					if err := n.tree.Stop(context.Background()); err != nil {
						t.Fatal(err)
					}
					n = startNode(t, setup{store: s, keyring: n.keyring, clock: n.clock})
				}

				_, err := supervisors.Ask[*messages.AccountInfo](context.Background(), n.tree, Name, &messages.GetAccount{Account: other})
				var bce *BrokenChainError
				if !errors.As(err, &bce) || !errors.Is(err, ErrBrokenChain) || !errors.Is(err, messages.ErrCorruptBlock) || bce.Account != other || bce.Problems[0].Reason != reason {
					t.Fatalf("the tampered account: %v, want a broken chain (%s)", err, reason)
				}
				// The node's own account is served, and nothing reaches the
				// refused one.
				if got := n.account(t, n.self); got.Available != self.Available || !got.Head.Equals(self.Head) {
					t.Fatalf("node account %+v, was %+v", got, self)
				}
				if err := askErr(t, n, &messages.Transfer{To: other, Amount: 1}); !errors.Is(err, ErrBrokenChain) {
					t.Fatalf("a payment to the refused account: %v", err)
				}
				if err := askErr(t, n, &messages.Transfer{From: other, To: n.self, Amount: 1}); !errors.Is(err, ErrBrokenChain) {
					t.Fatalf("a payment from the refused account: %v", err)
				}
				if got := n.account(t, n.self); !got.Head.Equals(self.Head) {
					t.Fatalf("a refused payment recorded an entry: %+v", got)
				}
				if got := testutil.ToFloat64(n.metrics.refused); got != 1 {
					t.Fatalf("icn_ledger_refused_accounts = %v", got)
				}
				if got := testutil.ToFloat64(n.metrics.rejections.WithLabelValues("broken_chain")); got != 2 {
					t.Fatalf(`icn_ledger_rejections_total{reason="broken_chain"} = %v`, got)
				}
				if got := testutil.ToFloat64(n.metrics.accounts); got != 1 {
					t.Fatalf("icn_ledger_accounts = %v", got)
				}
				st := ask[*messages.SubsystemStatus](t, n, &messages.StatusRequest{})
				if st.Details["refused_accounts"] != other {
					t.Fatalf("status: %+v", st.Details)
				}
				// What is wrong stays readable: verification says it too.
				if r := ask[*messages.VerifyReport](t, n, &messages.VerifyAccount{Account: other}); r.Valid || r.Problems[0].Reason != tc.reason {
					t.Fatalf("verify: %+v", r)
				}
			})
		}
	}
}

// TestLoadReplaysLongChains: honest chains, with reservations open and
// closed, load to the state the live ledger had, from a new process (full
// replay) and after restarts (from the last load's checkpoint).
func TestLoadReplaysLongChains(t *testing.T) {
	const transfers = 600
	s := memstore.New()
	n := launch(t, setup{store: s})
	other := n.newAccount(t)
	for i := range transfers {
		from, to := n.self, other
		if i%2 == 1 {
			from, to = other, n.self
		}
		ask[*messages.TransferReply](t, n, &messages.Transfer{From: from, To: to, Amount: uint64(1 + i%7)})
		if i%50 == 0 {
			ref := fmt.Sprintf("job-%d", i)
			ask[*messages.EntryReply](t, n, &messages.Reserve{Account: n.self, Ref: ref, Amount: 3})
			if i%100 == 0 {
				ask[*messages.EntryReply](t, n, &messages.Settle{Account: n.self, Ref: ref, Pay: 2, To: other})
			}
		}
	}
	want := map[string]*messages.AccountInfo{n.self: n.account(t, n.self), other: n.account(t, other)}
	same := func(t *testing.T, n *node, when string) {
		t.Helper()
		for did, w := range want {
			got := n.account(t, did)
			if got.Available != w.Available || got.Reserved != w.Reserved || got.Reservations != w.Reservations || got.Seq != w.Seq || !got.Head.Equals(w.Head) {
				t.Fatalf("%s: %s loaded as %+v, was %+v", when, did, got, w)
			}
		}
	}
	if want[n.self].Seq < transfers || want[n.self].Reservations != transfers/100 {
		t.Fatalf("the chain is not what the test means: %+v", want[n.self])
	}
	if err := n.tree.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	n = startNode(t, setup{store: s, keyring: n.keyring, clock: n.clock})
	same(t, n, "in a new process")
	if got := testutil.ToFloat64(n.metrics.refused); got != 0 {
		t.Fatalf("icn_ledger_refused_accounts = %v", got)
	}
	// After a restart with entries appended since the last load.
	ask[*messages.TransferReply](t, n, &messages.Transfer{To: other, Amount: 5})
	want[n.self], want[other] = n.account(t, n.self), n.account(t, other)
	for _, mode := range []supervisors.KillMode{supervisors.KillPanic, supervisors.KillStop} {
		if err := n.tree.Kill(context.Background(), Name, mode); err != nil {
			t.Fatal(err)
		}
		n.waitReady(t)
		same(t, n, fmt.Sprintf("after a %v restart", mode))
	}
}

// savedOf reads the checkpoint of account n saved, checked as a load
// checks it (nil: none, or not one to trust).
func (n *node) savedOf(t *testing.T, account string) *checkpoint {
	t.Helper()
	data, err := n.store.Get(context.Background(), checkpointKey(account))
	if err != nil {
		t.Fatalf("the saved checkpoint of %s: %v", account, err)
	}
	a := &Actor{Deps: Deps{Params: n.params}, node: n.self}
	cp, err := a.decodeCheckpoint(account, data)
	if err != nil {
		return nil
	}
	return cp
}

// TestSavedCheckpoints: the ledger saves a checkpoint of each local chain
// at load and every saveEvery entries; a new process replays from it, and
// only from one the node signed.
func TestSavedCheckpoints(t *testing.T) {
	defer func(n uint64) { saveEvery = n }(saveEvery)
	saveEvery = 10
	s := memstore.New()
	n := launch(t, setup{store: s})
	other := n.newAccount(t)
	for range 25 {
		ask[*messages.TransferReply](t, n, &messages.Transfer{To: other, Amount: 1})
	}
	n.account(t, "") // taken after the last commit's acknowledgement
	if cp := n.savedOf(t, n.self); cp == nil || cp.state.seq != 20 || cp.state.available != 980 {
		t.Fatalf("saved every %d entries: %+v", saveEvery, cp)
	}
	want := n.account(t, n.self)
	if err := n.tree.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}

	// The next process replays from seq 20 and saves the head it loaded.
	n = launch(t, setup{store: s, keyring: n.keyring, clock: n.clock})
	if got := n.account(t, n.self); got.Available != want.Available || !got.Head.Equals(want.Head) {
		t.Fatalf("loaded %+v, was %+v", got, want)
	}
	if cp := n.savedOf(t, n.self); cp == nil || cp.state.seq != want.Seq {
		t.Fatalf("saved at load: %+v", cp)
	}
	if err := n.tree.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}

	// A checkpoint claiming more mana is trusted only when the node signed
	// it: whoever can write the store cannot mint mana without its key.
	foreignID, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		keyring identity.Keyring
		signer  string
		want    uint64
	}{
		{"signed by another key", identity.NewMemoryKeyring(foreignID, rand.Reader, 0), string(foreignID.DID()), want.Available},
		{"signed by the node", n.keyring, n.self, want.Available + 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := state{account: n.self, head: want.Head, seq: want.Seq, time: t0.UnixMilli(), available: want.Available + 500, reservations: map[string]reservation{}}
			forger := &Actor{Deps: Deps{Keyring: tc.keyring, Params: n.params}, node: tc.signer}
			var b store.Batch
			if err := forger.saveCheckpoint(&b, st); err != nil {
				t.Fatal(err)
			}
			if err := s.Commit(context.Background(), &b); err != nil {
				t.Fatal(err)
			}
			m := launch(t, setup{store: s, keyring: n.keyring, clock: n.clock})
			defer func() { _ = m.tree.Stop(context.Background()) }()
			if got := m.account(t, m.self); got.Available != tc.want {
				t.Fatalf("loaded %d available, want %d", got.Available, tc.want)
			}
		})
	}
}
