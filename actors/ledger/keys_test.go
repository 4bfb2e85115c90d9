package ledger

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/store/memstore"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// TestKeyedTransfersPayOnce: a transfer retried under its idempotency key
// answers the first one's entries and pays nothing, after an actor
// restart and in a new process too; the key with other terms is refused;
// keys are per payer; a bad key records nothing.
func TestKeyedTransfersPayOnce(t *testing.T) {
	s := memstore.New()
	n := launch(t, setup{store: s})
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = n.tree.Stop(context.Background())
		}
	})
	b := n.newAccount(t)
	pay := &messages.Transfer{To: b, Amount: 100, Memo: "rent", Key: "invoice-7"}
	first := ask[*messages.TransferReply](t, n, pay)
	if first.Replayed || first.Send.Amount != 100 || first.Receive == nil {
		t.Fatalf("first: %+v", first)
	}
	same := func(t *testing.T, n *node, what string) {
		t.Helper()
		r := ask[*messages.TransferReply](t, n, pay)
		if !r.Replayed || !r.Send.CID.Equals(first.Send.CID) || r.Send.BalanceAfter != 900 ||
			r.Receive == nil || !r.Receive.CID.Equals(first.Receive.CID) {
			t.Fatalf("%s: %+v", what, r)
		}
		if a := n.account(t, ""); a.Available != 900 || a.Seq != 1 {
			t.Fatalf("%s: payer %+v", what, a)
		}
		if a := n.account(t, b); a.Available != 1100 {
			t.Fatalf("%s: payee %+v", what, a)
		}
	}
	same(t, n, "retry")
	for _, tc := range []struct {
		name string
		msg  *messages.Transfer
		want error
	}{
		{"another amount", &messages.Transfer{To: b, Amount: 101, Memo: "rent", Key: "invoice-7"}, messages.ErrKeyReused},
		{"another memo", &messages.Transfer{To: b, Amount: 100, Key: "invoice-7"}, messages.ErrKeyReused},
		{"another payee", &messages.Transfer{To: "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", Amount: 100, Memo: "rent", Key: "invoice-7"}, messages.ErrKeyReused},
		{"a key with a space", &messages.Transfer{To: b, Amount: 1, Key: "a b"}, messages.ErrInvalidReference},
		{"a key too long", &messages.Transfer{To: b, Amount: 1, Key: string(make([]byte, messages.MaxReferenceLength+1))}, messages.ErrInvalidReference},
		{"a key and no mana", &messages.Transfer{To: b, Amount: 901, Key: "big"}, messages.ErrInsufficientMana},
		{"a key from a remote payer", &messages.Transfer{From: "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", To: b, Amount: 1, Key: "k"}, messages.ErrNotLocal},
		{"a key from a payer that is no DID", &messages.Transfer{From: "not a did", To: b, Amount: 1, Key: "k"}, messages.ErrInvalidAccount},
		{"a key to a payee that is no DID", &messages.Transfer{To: "did:key:nope", Amount: 1, Key: "k"}, messages.ErrInvalidAccount},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := askErr(t, n, tc.msg); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	if got := testutil.ToFloat64(n.metrics.rejections.WithLabelValues("key_reused")); got != 3 {
		t.Fatalf(`icn_ledger_rejections_total{reason="key_reused"} = %v`, got)
	}
	// A refused keyed transfer left its key free.
	if r := ask[*messages.TransferReply](t, n, &messages.Transfer{To: b, Amount: 1, Key: "big"}); r.Replayed {
		t.Fatalf("a key whose transfer was refused: %+v", r)
	}
	// Keys are the payer's: another payer may use the same one.
	if r := ask[*messages.TransferReply](t, n, &messages.Transfer{From: b, To: n.self, Amount: 100, Memo: "rent", Key: "invoice-7"}); r.Replayed || r.Send.Account != b {
		t.Fatalf("another payer's key: %+v", r)
	}
	if err := n.tree.Kill(context.Background(), Name, supervisors.KillPanic); err != nil {
		t.Fatal(err)
	}
	waitRestarted(t, n)
	pay = &messages.Transfer{To: b, Amount: 100, Memo: "rent", Key: "invoice-7"}
	r := ask[*messages.TransferReply](t, n, pay)
	if !r.Replayed || !r.Send.CID.Equals(first.Send.CID) {
		t.Fatalf("after a restart: %+v", r)
	}
	if got := testutil.ToFloat64(n.metrics.replays); got != 2 {
		t.Fatalf("icn_ledger_transfer_replays_total = %v", got)
	}
	stopped = true
	if err := n.tree.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	// A new process over the same store.
	n2 := startNode(t, setup{store: s, keyring: n.keyring, clock: n.clock})
	if r := ask[*messages.TransferReply](t, n2, pay); !r.Replayed || !r.Send.CID.Equals(first.Send.CID) {
		t.Fatalf("in a new process: %+v", r)
	}
}

// TestConcurrentRetriesUnderOneKeyPayOnce: retries sent while the first
// transfer under their key is still in progress are refused as busy or
// answered with its entries; exactly one payment lands.
func TestConcurrentRetriesUnderOneKeyPayOnce(t *testing.T) {
	n := startNode(t, setup{})
	b := n.newAccount(t)
	pay := &messages.Transfer{To: b, Amount: 10, Key: "once"}
	var wg sync.WaitGroup
	sends := make(chan string, 16)
	for range 16 {
		wg.Go(func() {
			r, err := supervisors.Ask[*messages.TransferReply](context.Background(), n.tree, Name, pay)
			switch {
			case err == nil:
				sends <- r.Send.CID.String()
			case !errors.Is(err, messages.ErrBusy):
				t.Error(err)
			}
		})
	}
	wg.Wait()
	close(sends)
	seen := map[string]bool{}
	for c := range sends {
		seen[c] = true
	}
	if len(seen) != 1 {
		t.Fatalf("%d different sends answered", len(seen))
	}
	if a := n.account(t, ""); a.Seq != 1 || a.Available != 990 {
		t.Fatalf("payer: %+v", a)
	}
}

// TestAKeyedTransferWhoseCommitFailedPaysOnRetry: a commit that failed
// recorded neither the payment nor its key, so the retry pays.
func TestAKeyedTransferWhoseCommitFailedPaysOnRetry(t *testing.T) {
	fs := &failingStore{Store: memstore.New()}
	n := startNode(t, setup{store: fs})
	b := n.newAccount(t)
	pay := &messages.Transfer{To: b, Amount: 100, Key: "k"}
	fs.armed.Store(true)
	if err := askErr(t, n, pay); !errors.Is(err, errDisk) {
		t.Fatalf("on a failing disk: %v", err)
	}
	fs.armed.Store(false)
	// The account reloads from the dag first (unavailable meanwhile).
	deadline := time.Now().Add(5 * time.Second)
	r, err := supervisors.Ask[*messages.TransferReply](context.Background(), n.tree, Name, pay)
	for errors.Is(err, supervisors.ErrUnavailable) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
		r, err = supervisors.Ask[*messages.TransferReply](context.Background(), n.tree, Name, pay)
	}
	if err != nil {
		t.Fatal(err)
	}
	if r.Replayed || r.Send.Seq != 1 {
		t.Fatalf("retry: %+v", r)
	}
}
