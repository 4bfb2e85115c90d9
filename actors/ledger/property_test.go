package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"pgregory.net/rapid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// model is what an account should hold, kept by the test's own reading of
// the rules rather than by the ledger's code.
type model struct {
	available, reserved uint64
	time                int64 // unix ms of the last entry
	seq                 uint64
	reservations        map[string]uint64
}

// at is the account's available mana at now: the regeneration since its
// last entry, at RegenPerHour, never past Capacity counting the reserved.
func (m *model) at(now int64, p Params) uint64 {
	if now <= m.time || p.RegenPerHour == 0 || m.available+m.reserved >= p.Capacity {
		return m.available
	}
	accrued := p.RegenPerHour * uint64(now-m.time) / uint64(time.Hour/time.Millisecond)
	return min(m.available+accrued, p.Capacity-m.reserved)
}

// entry moves the account to a new entry at now, regenerated.
func (m *model) entry(now int64, p Params) {
	m.available = m.at(now, p)
	m.time = max(now, m.time)
	m.seq++
}

// ledgerMachine drives a node with random operations and checks, after
// each, that every account holds exactly what the model says.
type ledgerMachine struct {
	n        *node
	p        Params
	accounts []string
	models   map[string]*model
	paidOut  uint64 // sent or settled to the remote account
	remote   string
	refs     []string
	kills    int
}

const remoteDID = "did:key:z6MkhaXgBZDvotDkL5257faiztiGiC2QtKLGpbnnEGta2doK"

func (m *ledgerMachine) now() int64 { return m.n.clock.Now().UnixMilli() }

func (m *ledgerMachine) open(did string) {
	m.accounts = append(m.accounts, did)
	m.models[did] = &model{available: m.p.Initial, time: m.now(), reservations: map[string]uint64{}}
}

// expect checks an operation's outcome against the model's: want nil
// means it must succeed.
func (m *ledgerMachine) expect(t *rapid.T, what string, err, want error) bool {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: %v, want success", what, err)
	case want != nil && !errors.Is(err, want):
		t.Fatalf("%s: %v, want %v", what, err, want)
	}
	return want == nil
}

func (m *ledgerMachine) pick(t *rapid.T, label string) string {
	return rapid.SampledFrom(m.accounts).Draw(t, label)
}

// payee is a local account or the remote one.
func (m *ledgerMachine) payee(t *rapid.T) string {
	return rapid.SampledFrom(append(slices.Clone(m.accounts), m.remote)).Draw(t, "to")
}

// credit records a payment to "to" at now.
func (m *ledgerMachine) credit(to string, amount uint64, now int64) {
	if amount == 0 {
		return
	}
	if d, ok := m.models[to]; ok {
		d.entry(now, m.p)
		d.available += amount
		return
	}
	m.paidOut += amount
}

func (m *ledgerMachine) Advance(t *rapid.T) {
	d := time.Duration(rapid.Int64Range(0, int64(3*time.Hour/time.Millisecond)).Draw(t, "ms")) * time.Millisecond
	m.n.clock.Advance(d)
}

func (m *ledgerMachine) Create(t *rapid.T) {
	if len(m.accounts) >= 4 {
		t.Skip("enough accounts")
	}
	m.open(m.n.newAccount(t))
}

func (m *ledgerMachine) Transfer(t *rapid.T) {
	from, to := m.pick(t, "from"), m.payee(t)
	amount := rapid.Uint64Range(0, m.p.OpCap+5).Draw(t, "amount")
	now, src := m.now(), m.models[from]
	var want error
	switch {
	case from == to:
		want = messages.ErrInvalidAccount
	case amount == 0 || amount > m.p.OpCap:
		want = messages.ErrInvalidAmount
	case amount > src.at(now, m.p):
		want = messages.ErrInsufficientMana
	}
	_, err := m.n.tree.Request(context.Background(), Name, &messages.Transfer{From: from, To: to, Amount: amount})
	if m.expect(t, fmt.Sprintf("transfer %d %s -> %s", amount, from, to), err, want) {
		src.entry(now, m.p)
		src.available -= amount
		m.credit(to, amount, now)
	}
}

func (m *ledgerMachine) Reserve(t *rapid.T) {
	acct, ref := m.pick(t, "account"), rapid.SampledFrom(m.refs).Draw(t, "ref")
	amount := rapid.Uint64Range(0, m.p.OpCap+5).Draw(t, "amount")
	now, a := m.now(), m.models[acct]
	_, open := a.reservations[ref]
	var want error
	switch {
	case amount == 0 || amount > m.p.OpCap:
		want = messages.ErrInvalidAmount
	case open:
		want = messages.ErrDuplicateReservation
	case amount > a.at(now, m.p):
		want = messages.ErrInsufficientMana
	}
	_, err := m.n.tree.Request(context.Background(), Name, &messages.Reserve{Account: acct, Ref: ref, Amount: amount})
	if m.expect(t, fmt.Sprintf("reserve %d as %s", amount, ref), err, want) {
		a.entry(now, m.p)
		a.available -= amount
		a.reserved += amount
		a.reservations[ref] = amount
	}
}

func (m *ledgerMachine) Release(t *rapid.T) {
	acct, ref := m.pick(t, "account"), rapid.SampledFrom(m.refs).Draw(t, "ref")
	now, a := m.now(), m.models[acct]
	held, open := a.reservations[ref]
	var want error
	if !open {
		want = messages.ErrUnknownReservation
	}
	_, err := m.n.tree.Request(context.Background(), Name, &messages.Release{Account: acct, Ref: ref})
	if m.expect(t, "release "+ref, err, want) {
		a.entry(now, m.p)
		a.available += held
		a.reserved -= held
		delete(a.reservations, ref)
	}
}

func (m *ledgerMachine) Settle(t *rapid.T) {
	acct, ref, to := m.pick(t, "account"), rapid.SampledFrom(m.refs).Draw(t, "ref"), m.payee(t)
	now, a := m.now(), m.models[acct]
	held, open := a.reservations[ref]
	pay := rapid.Uint64Range(0, held+5).Draw(t, "pay")
	var want error
	switch {
	case to == acct:
		want = messages.ErrInvalidAccount
	case !open:
		want = messages.ErrUnknownReservation
	case pay > held:
		want = messages.ErrInvalidAmount
	}
	_, err := m.n.tree.Request(context.Background(), Name, &messages.Settle{Account: acct, Ref: ref, Pay: pay, To: to})
	if m.expect(t, fmt.Sprintf("settle %s paying %d of %d", ref, pay, held), err, want) {
		a.entry(now, m.p)
		a.available += held - pay
		a.reserved -= held
		delete(a.reservations, ref)
		m.credit(to, pay, now)
	}
}

func (m *ledgerMachine) Kill(t *rapid.T) {
	mode := rapid.SampledFrom([]supervisors.KillMode{supervisors.KillPanic, supervisors.KillStop, supervisors.KillPoison}).Draw(t, "mode")
	if err := m.n.tree.Kill(context.Background(), Name, mode); err != nil {
		t.Fatal(err)
	}
	m.kills++
	m.n.waitReady(t)
}

// Check runs after every operation.
func (m *ledgerMachine) Check(t *rapid.T) {
	now := m.now()
	var supply uint64
	for _, did := range m.accounts {
		want, got := m.models[did], m.n.account(t, did)
		avail := want.at(now, m.p)
		if got.Available != avail || got.Reserved != want.reserved || got.Seq != want.seq ||
			got.Reservations != len(want.reservations) || got.Balance != avail+want.reserved {
			t.Fatalf("%s: ledger says %+v; want available %d, reserved %d in %d reservations, seq %d",
				did, got, avail, want.reserved, len(want.reservations), want.seq)
		}
		supply += got.Balance
	}
	if m.p.RegenPerHour == 0 {
		// Without regeneration, mana only moves: what the accounts opened
		// with is what they hold plus what left for the remote account.
		if opened := uint64(len(m.accounts)) * m.p.Initial; supply+m.paidOut != opened {
			t.Fatalf("supply %d + paid out %d != %d opened", supply, m.paidOut, opened)
		}
	}
}

func TestLedgerProperties(t *testing.T) {
	for _, regen := range []uint64{0, 100} {
		t.Run(fmt.Sprintf("regen=%d", regen), func(t *testing.T) {
			rapid.Check(t, func(rt *rapid.T) {
				p := DefaultParams()
				p.RegenPerHour = regen
				// Small amounts make overdrafts and caps common.
				p.Initial, p.OpCap, p.Capacity = 300, 200, 1000
				n := launch(rt, setup{params: p})
				defer func() {
					if err := n.tree.Stop(context.Background()); err != nil {
						rt.Error(err)
					}
				}()
				m := &ledgerMachine{n: n, p: p, models: map[string]*model{}, remote: remoteDID, refs: []string{"job-a", "job-b", "job-c"}}
				m.open(n.self)
				m.open(n.newAccount(rt))
				rt.Repeat(rapid.StateMachineActions(m))
				m.checkChains(rt)
			})
		})
	}
}

// checkChains checks, at the end of a run, that every chain verifies from
// the dag, that a restart rebuilds exactly the live state, and that
// tampering with any entry is caught for the right reason.
func (m *ledgerMachine) checkChains(t *rapid.T) {
	live := map[string]*messages.AccountInfo{}
	for _, did := range m.accounts {
		live[did] = m.n.account(t, did)
		v := ask[*messages.VerifyReport](t, m.n, &messages.VerifyAccount{Account: did})
		if !v.Valid || uint64(v.Entries) != live[did].Seq+1 || !v.Head.Equals(live[did].Head) {
			t.Fatalf("%s: %+v", did, v)
		}
	}
	if err := m.n.tree.Kill(context.Background(), Name, supervisors.KillStop); err != nil {
		t.Fatal(err)
	}
	m.n.waitReady(t)
	for _, did := range m.accounts {
		if got := m.n.account(t, did); *got != *live[did] {
			t.Fatalf("rebuilt %+v\nlive    %+v", got, live[did])
		}
	}

	// Tamper with one entry of one chain (not its open entry), re-link and
	// re-sign what follows with the account's own key.
	did := m.pick(t, "tampered")
	if live[did].Seq == 0 {
		return
	}
	var cids []cid.Cid
	for before := uint64(0); ; {
		page := ask[*messages.EntryList](t, m.n, &messages.ListEntries{Account: did, Before: before})
		for _, e := range page.Entries {
			cids = append(cids, e.CID)
		}
		if page.Next == 0 {
			break
		}
		before = page.Next
	}
	slices.Reverse(cids)
	src := mapSource{}
	for _, c := range cids {
		b, err := treeSource{m.n.tree}.Block(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		src.add(b)
	}
	ch := &chain{t: t, keyring: m.n.keyring, params: m.p, src: src, entries: cids}
	at := rapid.IntRange(1, len(cids)-1).Draw(t, "at")
	e := ch.entry(at)
	kinds := []struct {
		name    string
		tamper  func(*entry)
		resign  bool
		reasons []string
	}{
		{"amount", func(e *entry) { e.Amount++ }, true,
			[]string{messages.ReasonBadBalance, messages.ReasonBadAmount, messages.ReasonOverdraft, messages.ReasonUnbackedRecv}},
		{"signature", func(e *entry) { e.Sig[len(e.Sig)-1] ^= 1 }, false, []string{messages.ReasonBadSignature}},
		{"seq", func(e *entry) { e.Seq += 2 }, true, []string{messages.ReasonBadSeq}},
		{"prev", func(e *entry) { e.Prev = link(cids[0]) }, true, []string{messages.ReasonBadPrev, messages.ReasonBadSeq}},
	}
	k := rapid.SampledFrom(kinds).Draw(t, "tamper")
	if k.name == "prev" && at == 1 {
		return // its prev is the open entry already
	}
	k.tamper(&e)
	var head cid.Cid
	if k.resign {
		head = ch.sign(e).CID()
	} else {
		b, err := e.encode()
		if err != nil {
			t.Fatal(err)
		}
		src.add(b)
		head = b.CID()
	}
	for i := at + 1; i < len(cids); i++ {
		later := ch.entry(i)
		later.Prev = link(head)
		head = ch.sign(later).CID()
	}
	heads := func(account string) (cid.Cid, bool) {
		if a, ok := live[account]; ok {
			return a.Head, true
		}
		return cid.Undef, false
	}
	r := Verify(context.Background(), overlay{src, treeSource{m.n.tree}}, did, head, m.p, heads)
	if r.Valid || len(r.Problems) == 0 || !slices.Contains(k.reasons, r.Problems[0].Reason) {
		t.Fatalf("%s tampered at %d (%s): %+v, want one of %v first", k.name, at, e.Op, r, k.reasons)
	}
}

// overlay reads blocks from top, then from base.
type overlay struct {
	top  mapSource
	base BlockSource
}

func (o overlay) Block(ctx context.Context, c cid.Cid) (block.Block, error) {
	if b, ok := o.top[c.KeyString()]; ok {
		return b, nil
	}
	return o.base.Block(ctx, c)
}
