package ledger

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/store"
	"github.com/intercooperative-network/icn-go/services/store/memstore"
	"github.com/intercooperative-network/icn-go/supervisors"
)

func TestANewNodeOpensItsAccountOnce(t *testing.T) {
	s := memstore.New()
	n := startNode(t, setup{store: s})
	a := n.account(t, "")
	if a.Account != n.self || !a.Local || a.Available != n.params.Initial || a.Seq != 0 || !a.Head.Defined() {
		t.Fatalf("node account: %+v", a)
	}
	// Restarts never credit the account again.
	for _, mode := range []supervisors.KillMode{supervisors.KillPanic, supervisors.KillStop, supervisors.KillPoison} {
		if err := n.tree.Kill(context.Background(), Name, mode); err != nil {
			t.Fatal(err)
		}
		waitRestarted(t, n)
		if b := n.account(t, ""); b.Available != a.Available || b.Seq != 0 || !b.Head.Equals(a.Head) {
			t.Fatalf("after a %s kill: %+v", mode, b)
		}
	}
	if got := testutil.ToFloat64(n.metrics.entries.WithLabelValues(messages.OpOpen)); got != 1 {
		t.Fatalf("open entries: %v", got)
	}
}

// waitRestarted waits until the ledger runs again with its accounts loaded.
func waitRestarted(t *testing.T, n *node) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := supervisors.Ask[*messages.SubsystemStatus](context.Background(), n.tree, Name, &messages.StatusRequest{})
		if err == nil && st.Ready {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ledger not back: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
}

func TestTransfersLandOnBothChains(t *testing.T) {
	n := startNode(t, setup{})
	b := n.newAccount(t)
	r := ask[*messages.TransferReply](t, n, &messages.Transfer{To: b, Amount: 300, Memo: "seeds"})
	if r.Send.Op != messages.OpSend || r.Send.Amount != 300 || r.Send.Counterparty != b || r.Send.Memo != "seeds" || r.Send.BalanceAfter != 700 {
		t.Fatalf("send: %+v", r.Send)
	}
	if r.Receive == nil || !r.Receive.Source.Equals(r.Send.CID) || r.Receive.BalanceAfter != 1300 {
		t.Fatalf("receive: %+v", r.Receive)
	}
	if got := n.account(t, n.self); got.Available != 700 || !got.Head.Equals(r.Send.CID) || got.Seq != 1 {
		t.Fatalf("payer: %+v", got)
	}
	if got := n.account(t, b); got.Available != 1300 || !got.Head.Equals(r.Receive.CID) {
		t.Fatalf("payee: %+v", got)
	}
	for _, did := range []string{n.self, b} {
		if v := ask[*messages.VerifyReport](t, n, &messages.VerifyAccount{Account: did}); !v.Valid || v.Entries != 2 {
			t.Fatalf("verify %s: %+v", did, v)
		}
	}
	page := ask[*messages.EntryList](t, n, &messages.ListEntries{Account: n.self})
	if len(page.Entries) != 2 || page.Entries[0].Op != messages.OpSend || page.Entries[1].Op != messages.OpOpen || page.Next != 0 {
		t.Fatalf("entries: %+v", page)
	}
	// A remote payee: only the send is recorded here.
	remote := "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
	if r := ask[*messages.TransferReply](t, n, &messages.Transfer{To: remote, Amount: 5}); r.Receive != nil {
		t.Fatalf("a remote payee got a local receive: %+v", r)
	}
}

func TestRefusedOperationsRecordNothing(t *testing.T) {
	n := startNode(t, setup{})
	b := n.newAccount(t)
	before := n.account(t, n.self)
	for _, tc := range []struct {
		name string
		msg  any
		want error
	}{
		{"over the cap", &messages.Transfer{To: b, Amount: n.params.OpCap + 1}, messages.ErrInvalidAmount},
		{"zero", &messages.Transfer{To: b, Amount: 0}, messages.ErrInvalidAmount},
		{"bad payee", &messages.Transfer{To: "did:key:nope", Amount: 1}, messages.ErrInvalidAccount},
		{"to itself", &messages.Transfer{To: n.self, Amount: 1}, messages.ErrInvalidAccount},
		{"from a remote account", &messages.Transfer{From: "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK", To: b, Amount: 1}, messages.ErrNotLocal},
		{"long memo", &messages.Transfer{To: b, Amount: 1, Memo: string(bytes.Repeat([]byte("m"), messages.MaxMemoLength+1))}, messages.ErrInvalidReference},
		{"release of none", &messages.Release{Account: n.self, Ref: "job"}, messages.ErrUnknownReservation},
		{"reserve with a bad ref", &messages.Reserve{Account: n.self, Ref: "a b", Amount: 1}, messages.ErrInvalidReference},
		{"settle of none", &messages.Settle{Account: n.self, Ref: "job", Pay: 1, To: b}, messages.ErrUnknownReservation},
		{"unknown account", &messages.GetAccount{Account: "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"}, messages.ErrUnknownAccount},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := askErr(t, n, tc.msg); !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
	// Overspending says how much there is.
	ask[*messages.TransferReply](t, n, &messages.Transfer{To: b, Amount: 900})
	err := askErr(t, n, &messages.Transfer{To: b, Amount: 200})
	var ime *messages.InsufficientManaError
	if !errors.As(err, &ime) || ime.Available != 100 || ime.Needed != 200 {
		t.Fatalf("overspend: %v", err)
	}
	if after := n.account(t, n.self); after.Seq != before.Seq+1 {
		t.Fatalf("refusals recorded entries: seq %d -> %d", before.Seq, after.Seq)
	}
}

func TestReservationsHoldSettleAndRelease(t *testing.T) {
	n := startNode(t, setup{})
	exec := n.newAccount(t)
	r := ask[*messages.EntryReply](t, n, &messages.Reserve{Account: n.self, Ref: "job-1", Amount: 400})
	if r.Entry.Op != messages.OpReserve || r.Entry.ReservedAfter != 400 || r.Entry.BalanceAfter != 600 {
		t.Fatalf("reserve: %+v", r.Entry)
	}
	if err := askErr(t, n, &messages.Reserve{Account: n.self, Ref: "job-1", Amount: 1}); !errors.Is(err, messages.ErrDuplicateReservation) {
		t.Fatalf("second reserve: %v", err)
	}
	ask[*messages.EntryReply](t, n, &messages.Reserve{Account: n.self, Ref: "job-2", Amount: 100})
	if a := n.account(t, ""); a.Available != 500 || a.Reserved != 500 || a.Balance != 1000 || a.Reservations != 2 {
		t.Fatalf("with two reservations: %+v", a)
	}
	// The reservations survive a restart.
	if err := n.tree.Kill(context.Background(), Name, supervisors.KillStop); err != nil {
		t.Fatal(err)
	}
	waitRestarted(t, n)
	s := ask[*messages.EntryReply](t, n, &messages.Settle{Account: n.self, Ref: "job-1", Pay: 250, To: exec})
	if s.Entry.Op != messages.OpSettle || s.Entry.Amount != 250 || s.Entry.BalanceAfter != 650 || s.Entry.ReservedAfter != 100 {
		t.Fatalf("settle: %+v", s.Entry)
	}
	if s.Receive == nil || s.Receive.Amount != 250 || !s.Receive.Source.Equals(s.Entry.CID) {
		t.Fatalf("executor's receive: %+v", s.Receive)
	}
	ask[*messages.EntryReply](t, n, &messages.Release{Account: n.self, Ref: "job-2"})
	if a := n.account(t, ""); a.Available != 750 || a.Reserved != 0 || a.Reservations != 0 {
		t.Fatalf("after settle and release: %+v", a)
	}
	if a := n.account(t, exec); a.Available != 1250 {
		t.Fatalf("executor: %+v", a)
	}
	if err := askErr(t, n, &messages.Release{Account: n.self, Ref: "job-1"}); !errors.Is(err, messages.ErrUnknownReservation) {
		t.Fatalf("release after settle: %v", err)
	}
	for _, did := range []string{n.self, exec} {
		if v := ask[*messages.VerifyReport](t, n, &messages.VerifyAccount{Account: did}); !v.Valid {
			t.Fatalf("verify %s: %+v", did, v)
		}
	}
	if got := testutil.ToFloat64(n.metrics.reserved); got != 0 {
		t.Fatalf("icn_ledger_reserved_mana = %v", got)
	}
}

func TestRegenerationAccruesWithTime(t *testing.T) {
	n := startNode(t, setup{})
	b := n.newAccount(t)
	ask[*messages.TransferReply](t, n, &messages.Transfer{To: b, Amount: 1000})
	n.clock.Advance(90 * time.Minute)
	if a := n.account(t, ""); a.Available != 150 || a.Seq != 1 {
		t.Fatalf("after 90 minutes: %+v", a)
	}
	r := ask[*messages.TransferReply](t, n, &messages.Transfer{To: b, Amount: 150})
	if r.Send.BalanceAfter != 0 {
		t.Fatalf("send after regeneration: %+v", r.Send)
	}
	if v := ask[*messages.VerifyReport](t, n, &messages.VerifyAccount{}); !v.Valid {
		t.Fatalf("%+v", v)
	}
}

// failingStore fails the commits that write a ledger head while armed.
type failingStore struct {
	store.Store
	armed atomic.Bool
}

var errDisk = errors.New("disk on fire")

func (f *failingStore) Commit(ctx context.Context, b *store.Batch) error {
	if f.armed.Load() {
		for op := range b.Ops() {
			if bytes.Contains(op.Key, []byte("ledger/head/")) {
				return errDisk
			}
		}
	}
	return f.Store.Commit(ctx, b)
}

func TestAFailedCommitIsReportedAndTheAccountReloaded(t *testing.T) {
	fs := &failingStore{Store: memstore.New()}
	n := startNode(t, setup{store: fs})
	b := n.newAccount(t)
	fs.armed.Store(true)
	if err := askErr(t, n, &messages.Transfer{To: b, Amount: 100}); !errors.Is(err, errDisk) {
		t.Fatalf("transfer on a failing disk: %v", err)
	}
	fs.armed.Store(false)
	// The account is what the dag holds again, and takes new entries.
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := n.tree.Request(context.Background(), Name, &messages.Transfer{To: b, Amount: 100})
		if err == nil {
			break
		}
		if !errors.Is(err, supervisors.ErrUnavailable) || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(time.Millisecond)
	}
	if a := n.account(t, ""); a.Available != 900 || a.Seq != 1 {
		t.Fatalf("after the failure: %+v", a)
	}
	if got := testutil.ToFloat64(n.metrics.rejections.WithLabelValues("commit_failed")); got != 1 {
		t.Fatalf(`icn_ledger_rejections_total{reason="commit_failed"} = %v`, got)
	}
	if v := ask[*messages.VerifyReport](t, n, &messages.VerifyAccount{Account: b}); !v.Valid || v.Entries != 2 {
		t.Fatalf("%+v", v)
	}
}

func TestReputationIsRecordedOncePerJob(t *testing.T) {
	s := memstore.New()
	n := startNode(t, setup{store: s})
	exec := "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"
	if r := ask[*messages.ReputationInfo](t, n, &messages.GetReputation{DID: exec}); r.Score != 50 || r.Jobs != 0 {
		t.Fatalf("unknown executor: %+v", r)
	}
	for i, ok := range []bool{true, true, true, false} {
		ask[*messages.ReputationInfo](t, n, &messages.RecordOutcome{Executor: exec, Job: fmt.Sprintf("job-%d", i), Success: ok, Duration: time.Duration(i+1) * time.Second})
	}
	r := ask[*messages.ReputationInfo](t, n, &messages.RecordOutcome{Executor: exec, Job: "job-0", Success: false})
	if r.Jobs != 4 || r.Successes != 3 || r.Failures != 1 || r.Score != 67 || r.MeanDuration != 2500*time.Millisecond {
		t.Fatalf("after 4 jobs and a repeat: %+v", r)
	}
	if err := n.tree.Kill(context.Background(), Name, supervisors.KillStop); err != nil {
		t.Fatal(err)
	}
	waitRestarted(t, n)
	if again := ask[*messages.ReputationInfo](t, n, &messages.GetReputation{DID: exec}); *again != *r {
		t.Fatalf("after restart: %+v, want %+v", again, r)
	}
	if err := askErr(t, n, &messages.RecordOutcome{Executor: "nobody", Job: "j"}); !errors.Is(err, messages.ErrInvalidAccount) {
		t.Fatal(err)
	}
}

// TestKillStormsLoseNoAcknowledgedTransfer kills the ledger in every mode
// while 1,000 transfers between local accounts are in flight: mana is
// conserved, every acknowledged transfer is on both chains, and every
// chain verifies.
func TestKillStormsLoseNoAcknowledgedTransfer(t *testing.T) {
	p := DefaultParams()
	p.RegenPerHour = 0 // conservation is then exact
	n := startNode(t, setup{params: p})
	accounts := []string{n.self}
	for range 7 {
		accounts = append(accounts, n.newAccount(t))
	}
	const transfers = 1000
	var mu sync.Mutex
	acked := map[cid.Cid]cid.Cid{} // send -> receive
	refused := 0
	var kills atomic.Int64
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range transfers {
		from, to := accounts[i%len(accounts)], accounts[(i*3+1)%len(accounts)]
		if from == to {
			to = accounts[(i+1)%len(accounts)]
		}
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			var r *messages.TransferReply
			var err error
			for {
				// Unavailable (loading, or the breaker open) did nothing:
				// a client retries it, as Retry-After tells it to.
				r, err = supervisors.Ask[*messages.TransferReply](ctx, n.tree, Name, &messages.Transfer{From: from, To: to, Amount: uint64(1 + i%50)})
				if !errors.Is(err, supervisors.ErrUnavailable) || ctx.Err() != nil {
					break
				}
				time.Sleep(time.Millisecond)
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if !errors.Is(err, messages.ErrInsufficientMana) && !errors.Is(err, messages.ErrRefConflict) {
					t.Errorf("transfer %d: %v", i, err)
				}
				refused++
				return
			}
			acked[r.Send.CID] = r.Receive.CID
		})
		if i%100 == 50 {
			mode := []supervisors.KillMode{supervisors.KillPanic, supervisors.KillStop, supervisors.KillPoison}[(i/100)%3]
			wg.Go(func() {
				if err := n.tree.Kill(context.Background(), Name, mode); err == nil {
					kills.Add(1)
				}
			})
		}
	}
	wg.Wait()
	waitRestarted(t, n)
	t.Logf("%d acknowledged, %d refused, %d kills", len(acked), refused, kills.Load())
	if kills.Load() < 5 {
		t.Fatalf("only %d of 10 kills landed", kills.Load())
	}
	if len(acked) == 0 {
		t.Fatal("nothing was acknowledged")
	}
	var total uint64
	onChains := map[cid.Cid]bool{}
	for _, did := range accounts {
		a := n.account(t, did)
		total += a.Balance
		v := ask[*messages.VerifyReport](t, n, &messages.VerifyAccount{Account: did})
		if !v.Valid {
			t.Fatalf("%s does not verify: %+v", did, v.Problems)
		}
		for before := uint64(0); ; {
			page := ask[*messages.EntryList](t, n, &messages.ListEntries{Account: did, Before: before})
			for _, e := range page.Entries {
				onChains[e.CID] = true
			}
			if page.Next == 0 {
				break
			}
			before = page.Next
		}
	}
	if want := uint64(len(accounts)) * p.Initial; total != want {
		t.Fatalf("total mana %d, want %d: mana was created or lost", total, want)
	}
	for send, recv := range acked {
		if !onChains[send] || !onChains[recv] {
			t.Fatalf("acknowledged transfer %s -> %s is not on both chains", send, recv)
		}
	}
}

// gatedStore holds the commits that write a ledger head while gated.
type gatedStore struct {
	store.Store
	entered chan struct{} // a held commit arrived
	gate    chan struct{} // closed: commits go on
}

func (g *gatedStore) Commit(ctx context.Context, b *store.Batch) error {
	for op := range b.Ops() {
		if bytes.Contains(op.Key, []byte("ledger/head/")) {
			select {
			case g.entered <- struct{}{}:
			default:
			}
			<-g.gate
			break
		}
	}
	return g.Store.Commit(ctx, b)
}

// TestOperationsQueuedBehindAPutCommitTogether holds a put on the disk:
// the operations that arrive meanwhile go into the next put as one, a
// reservation opened and released within it included.
func TestOperationsQueuedBehindAPutCommitTogether(t *testing.T) {
	g := &gatedStore{Store: memstore.New(), entered: make(chan struct{}, 1), gate: make(chan struct{})}
	close(g.gate) // open while the node starts
	n := startNode(t, setup{store: g})
	b := n.newAccount(t)
	g.gate = make(chan struct{})
	<-g.entered // drain the start's signal, if any
	ctx := context.Background()
	first, err := n.tree.Begin(ctx, Name, &messages.Transfer{To: b, Amount: 100})
	if err != nil {
		t.Fatal(err)
	}
	<-g.entered // the first put is on the disk, held
	var calls []*supervisors.Call
	for _, m := range []any{
		&messages.Reserve{Account: n.self, Ref: "job-1", Amount: 50},
		&messages.Release{Account: n.self, Ref: "job-1"},
		&messages.Transfer{To: b, Amount: 7},
	} {
		c, err := n.tree.Begin(ctx, Name, m)
		if err != nil {
			t.Fatal(err)
		}
		calls = append(calls, c)
	}
	// All three are queued once the status says so (requests are served
	// in order, so the status follows them).
	st := ask[*messages.SubsystemStatus](t, n, &messages.StatusRequest{})
	if st.Details["in_flight"] != "4" {
		t.Fatalf("in flight: %v", st.Details)
	}
	close(g.gate)
	for _, c := range append([]*supervisors.Call{first}, calls...) {
		if _, err := c.Wait(ctx); err != nil {
			t.Fatal(err)
		}
	}
	a := n.account(t, "")
	if a.Seq != 4 || a.Available != 893 || a.Reservations != 0 || a.Reserved != 0 {
		t.Fatalf("after the batch: %+v", a)
	}
	refs, err := supervisors.Ask[*messages.ListRefsReply](ctx, n.tree, "dag", &messages.ListRefs{Prefix: "ledger/resv/"})
	if err != nil || len(refs.Refs) != 0 {
		t.Fatalf("reservation refs left: %+v %v", refs, err)
	}
	if v := ask[*messages.VerifyReport](t, n, &messages.VerifyAccount{}); !v.Valid || v.Entries != 5 {
		t.Fatalf("%+v", v)
	}
	// What the batch left is what a restart reads back.
	if err := n.tree.Kill(ctx, Name, supervisors.KillStop); err != nil {
		t.Fatal(err)
	}
	waitRestarted(t, n)
	if again := n.account(t, ""); again.Seq != a.Seq || !again.Head.Equals(a.Head) || again.Available != a.Available {
		t.Fatalf("after restart %+v, want %+v", again, a)
	}
}

func TestAFullKeyringRefusesNewAccounts(t *testing.T) {
	id, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	n := startNode(t, setup{keyring: identity.NewMemoryKeyring(id, rand.Reader, 2)})
	n.newAccount(t)
	if err := askErr(t, n, &messages.CreateAccount{}); !errors.Is(err, messages.ErrAccountLimit) {
		t.Fatalf("third account of two: %v", err)
	}
	if l := ask[*messages.AccountList](t, n, &messages.ListAccounts{}); len(l.Accounts) != 2 {
		t.Fatalf("accounts: %+v", l)
	}
}
