package ledger

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/store"
	"github.com/intercooperative-network/icn-go/services/store/badgerstore"
	"github.com/intercooperative-network/icn-go/services/store/memstore"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// BenchmarkTransfers puts transfers between local accounts through the
// ledger actor on badger with durable group commit: each is two signed
// entries (send and receive) and their head refs, written in one commit
// before the reply. It reports signed entries per second. The keyed runs
// give each transfer an idempotency key of its own: a ref lookup before
// it, and one more ref in its commit.
func BenchmarkTransfers(b *testing.B) {
	for _, run := range []struct {
		callers int
		keyed   bool
	}{{16, false}, {64, false}, {16, true}, {64, true}} {
		callers := run.callers
		name := fmt.Sprintf("callers=%d", callers)
		if run.keyed {
			name += ",keyed"
		}
		b.Run(name, func(b *testing.B) {
			s, err := badgerstore.Open(b.TempDir(), nil)
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			p := DefaultParams()
			p.RegenPerHour = 0
			n := startNode(b, setup{store: s, params: p})
			accounts := []string{n.self}
			for range 15 {
				accounts = append(accounts, n.newAccount(b))
			}
			ctx := context.Background()
			var next atomic.Int64
			lat := make([][]time.Duration, callers)
			var wg sync.WaitGroup
			b.ResetTimer()
			began := time.Now()
			for w := range callers {
				wg.Go(func() {
					for {
						i := next.Add(1) - 1
						if i >= int64(b.N) {
							return
						}
						// A ring: every account pays its neighbour, so none runs dry.
						from, to := accounts[i%16], accounts[(i+1)%16]
						m := &messages.Transfer{From: from, To: to, Amount: 1}
						if run.keyed {
							m.Key = fmt.Sprintf("transfer-%d", i)
						}
						t := time.Now()
						if _, err := supervisors.Ask[*messages.TransferReply](ctx, n.tree, Name, m); err != nil {
							b.Error(err)
							return
						}
						lat[w] = append(lat[w], time.Since(t))
					}
				})
			}
			wg.Wait()
			elapsed := time.Since(began)
			b.StopTimer()
			all := slices.Concat(lat...)
			slices.Sort(all)
			if len(all) == 0 {
				return
			}
			b.ReportMetric(2*float64(b.N)/elapsed.Seconds(), "entries/s")
			b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkVerify checks a 1,000-entry chain, next to the Ed25519
// verification of as many signatures in the same run: the limit a
// verifier that checks every signature cannot pass.
func BenchmarkVerify(b *testing.B) {
	const entries = 1000
	id, err := identity.Generate(rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	k := identity.NewMemoryKeyring(id, rand.Reader, 0)
	other, err := k.Create(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	p := DefaultParams()
	src := mapSource{}
	c := newChain(b, k, string(id.DID()), p, src)
	c.add(entry{Op: messages.OpOpen, Amount: p.Initial}, 0)
	for i := 1; i < entries; i++ {
		ms := int64(i) * 60_000
		switch i % 3 {
		case 0:
			c.add(entry{Op: messages.OpSend, Amount: 1, Counterparty: string(other)}, ms)
		case 1:
			c.add(entry{Op: messages.OpReserve, Amount: 2, Ref: fmt.Sprintf("job-%d", i)}, ms)
		case 2:
			c.add(entry{Op: messages.OpSettle, Amount: 1, Ref: fmt.Sprintf("job-%d", i-1), Counterparty: string(other)}, ms)
		}
	}
	b.Run("chain", func(b *testing.B) {
		for b.Loop() {
			if r := Verify(context.Background(), src, c.s.account, c.s.head, p, nil); !r.Valid {
				b.Fatalf("%+v", r.Problems)
			}
		}
		b.ReportMetric(float64(entries*b.N)/b.Elapsed().Seconds(), "entries/s")
	})
	b.Run("ed25519-verify-only", func(b *testing.B) {
		msgs := make([][]byte, entries)
		sigs := make([][]byte, entries)
		for i := range msgs {
			msgs[i] = fmt.Appendf(nil, "entry %d %s", i, make([]byte, 200))
			if sigs[i], err = k.Sign(id.DID(), msgs[i]); err != nil {
				b.Fatal(err)
			}
		}
		pub := id.PublicKey()
		for b.Loop() {
			for i := range msgs {
				if !ed25519.Verify(pub, msgs[i], sigs[i]) {
					b.Fatal("bad signature")
				}
			}
		}
		b.ReportMetric(float64(entries*b.N)/b.Elapsed().Seconds(), "entries/s")
	})
}

// BenchmarkPaymentCheck checks a payment at the head of a 2,000-entry
// payer chain (jobs: a reserve and a settle paying this node each), with
// no checkpoint of the payer (full) and with the checkpoint of its
// previous payment two entries back (checkpoint, as when the same payer's
// jobs come in sequence). "verify" is verification alone, from memory;
// "check" is checkPayment through a node's dag actor, as a receive does.
func BenchmarkPaymentCheck(b *testing.B) {
	const entries = 2000
	n := startNode(b, setup{})
	k, payer, _ := twoAccounts(b)
	p := n.params
	src := mapSource{}
	c := newChain(b, k, payer, p, src)
	c.add(entry{Op: messages.OpOpen, Amount: p.Initial}, t0.UnixMilli())
	for i := 1; i < entries; i += 2 {
		ms, ref := t0.UnixMilli()+int64(i)*60_000, fmt.Sprintf("job-%d", i)
		c.add(entry{Op: messages.OpReserve, Amount: 2, Ref: ref}, ms)
		c.add(entry{Op: messages.OpSettle, Amount: 1, Ref: ref, Counterparty: n.self}, ms)
	}
	blocks := make([]block.Block, 0, len(src))
	for _, blk := range src {
		blocks = append(blocks, blk)
	}
	for chunk := range slices.Chunk(blocks, 256) {
		if _, err := n.tree.Request(b.Context(), dagName, &messages.PutBlocks{Blocks: chunk}); err != nil {
			b.Fatal(err)
		}
	}
	head, previous := c.entries[len(c.entries)-1], c.entries[len(c.entries)-3]
	_, cp := verifyFrom(context.Background(), src, payer, previous, p, nil, nil)
	if cp == nil {
		b.Fatal("the payer's chain does not verify")
	}
	for _, from := range []struct {
		name string
		cp   *checkpoint
	}{{"full", nil}, {"checkpoint", cp}} {
		b.Run("verify/"+from.name, func(b *testing.B) {
			for b.Loop() {
				if r, _ := verifyFrom(context.Background(), src, payer, head, p, nil, from.cp); !r.Valid {
					b.Fatalf("%+v", r.Problems)
				}
			}
		})
		b.Run("check/"+from.name, func(b *testing.B) {
			for b.Loop() {
				verified := newCheckpoints(maxCheckpoints)
				if from.cp != nil {
					verified.put(from.cp)
				}
				if _, err := checkPayment(b.Context(), n.tree, &fetchSource{tree: n.tree}, head, p, verified); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStartUp loads two local accounts whose chains hold 10,001
// entries each: "cold/full" is a new process over the same store without
// saved checkpoints (the chains replayed from their open entries),
// "cold/saved" one with the checkpoints the last process saved at its
// load, "restart" the actor restarted by its supervisor within the process
// (from the last load's checkpoints). Nothing was appended since.
func BenchmarkStartUp(b *testing.B) {
	const transfers = 10_000
	s := memstore.New()
	p := DefaultParams()
	n := launch(b, setup{store: s, params: p})
	other := n.newAccount(b)
	ctx := context.Background()
	for i := range transfers {
		from, to := n.self, other
		if i%2 == 1 {
			from, to = other, n.self
		}
		if _, err := supervisors.Ask[*messages.TransferReply](ctx, n.tree, Name, &messages.Transfer{From: from, To: to, Amount: 1}); err != nil {
			b.Fatal(err)
		}
	}
	if err := n.tree.Stop(ctx); err != nil {
		b.Fatal(err)
	}
	entries := float64(2 * (transfers + 1))
	for _, saved := range []bool{false, true} {
		name := "cold/full"
		if saved {
			name = "cold/saved"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				if !saved {
					b.StopTimer()
					var forget store.Batch
					forget.Delete(checkpointKey(n.self))
					forget.Delete(checkpointKey(other))
					if err := s.Commit(ctx, &forget); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
				m := launch(b, setup{store: s, params: p, keyring: n.keyring, clock: n.clock})
				b.StopTimer()
				if err := m.tree.Stop(ctx); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
			if !saved {
				b.ReportMetric(entries*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
			}
		})
	}
	b.Run("restart", func(b *testing.B) {
		m := launch(b, setup{store: s, params: p, keyring: n.keyring, clock: n.clock})
		defer func() { _ = m.tree.Stop(ctx) }()
		for b.Loop() {
			if err := m.tree.Kill(ctx, Name, supervisors.KillPanic); err != nil {
				b.Fatal(err)
			}
			m.waitReady(b)
		}
	})
}
