package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/messages/correlation"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/store"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// Name is the subsystem's name in the supervision tree.
const Name = "ledger"

// dagName is the dag actor's name: entries are its blocks.
const dagName = "dag"

// Refs the ledger keeps in the dag; they move with the entries, atomically.
func headRef(account string) string         { return "ledger/head/" + account }
func reserveRef(account, ref string) string { return "ledger/resv/" + account + "/" + ref }
func receivedRef(source cid.Cid) string     { return "ledger/recv/" + source.String() }

const (
	headPrefix    = "ledger/head/"
	reservePrefix = "ledger/resv/"
)

// Deps are the ledger's collaborators.
type Deps struct {
	Keyring identity.Keyring
	Store   store.Store // reputation records
	Clock   clock.Clock
	Params  Params
	Metrics *Metrics
	Logger  *slog.Logger
}

// Bounds of the ledger's work.
const (
	maxInFlight = 8192             // operations waiting for their commit
	callTimeout = 30 * time.Second // one dag request
)

// New returns the producer the supervisor calls on every (re)start.
func New(d Deps) func() actor.Actor {
	// Commits outlive the incarnation that began them; the next one waits
	// for them before it loads, so it never builds on a stale head.
	commits := &sync.WaitGroup{}
	return func() actor.Actor {
		return &Actor{Deps: d, commits: commits, accounts: map[string]*account{}, reputation: map[string]*record{}, receiving: map[string]bool{}, verified: newCheckpoints(maxCheckpoints), log: d.Logger.With("actor", Name)}
	}
}

// Actor owns the local accounts: their chain heads, balances and
// reservations, rebuilt from the dag's refs on every start.
type Actor struct {
	Deps
	log        *slog.Logger
	self       *actor.PID
	sys        *actor.ActorSystem
	tree       *supervisors.Tree
	since      time.Time
	node       string              // the node's own account
	accounts   map[string]*account // local accounts
	order      []string            // the node's own first, then by DID
	inflight   int                 // operations waiting for their commit
	queue      []*pending          // operations waiting for the put in flight
	puts       int                 // puts in flight
	reputation map[string]*record
	receiving  map[string]bool // payments from other nodes being received, by source CID bytes
	verified   *checkpoints    // the last verified heads of payers' chains; shared with payment checks
	commits    *sync.WaitGroup // shared by every incarnation

	ready       bool // the accounts are loaded
	stopLoading context.CancelFunc
	loader      sync.WaitGroup
}

// account is a local account: tip is its chain with the entries still
// being committed, acked what has been acknowledged (what reads see).
type account struct {
	tip      state
	acked    state
	inflight int
	broken   bool // a commit failed: reload from the dag once none is in flight
}

// change is one entry an operation appends.
type change struct {
	acct *account
	e    entry
	b    block.Block
	next state
}

// committed reports a put's outcome to the actor.
type committed struct {
	owner *Actor
	ops   []*pending
	err   error
}

// Receive implements actor.Actor.
func (a *Actor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		a.start(c)
	case *actor.Stopping, *actor.Restarting:
		a.stop()
	case *loaded:
		if m.owner == a {
			a.onLoaded(m)
		}
	case *committed:
		if m.owner == a {
			a.done(m)
		}
	case *paymentChecked:
		if m.owner == a {
			a.onPaymentChecked(m)
		} else if m.sender != nil {
			a.sys.Root.Send(m.sender, &supervisors.UnavailableError{Path: Name, State: "restarting", RetryAfter: time.Second})
		}
	case *messages.StatusRequest:
		a.status(c)
	case *messages.RecordOutcome:
		c.Respond(orError(a.recordOutcome(m)))
	case *messages.GetReputation:
		c.Respond(orError(a.getReputation(m.DID)))
	default:
		if !a.ready {
			if _, ok := m.(actor.SystemMessage); !ok {
				c.Respond(&supervisors.UnavailableError{Path: Name, State: "loading", RetryAfter: time.Second})
			}
			return
		}
		a.account(c)
	}
}

// account handles the account operations, once the accounts are loaded.
func (a *Actor) account(c actor.Context) {
	switch m := c.Message().(type) {
	case *messages.GetAccount:
		c.Respond(orError(a.getAccount(m.Account)))
	case *messages.ListAccounts:
		c.Respond(a.listAccounts())
	case *messages.CreateAccount:
		a.createAccount(c)
	case *messages.Transfer:
		a.transfer(c, m)
	case *messages.Reserve:
		a.reserve(c, m)
	case *messages.Release:
		a.release(c, m)
	case *messages.Settle:
		a.settle(c, m)
	case *messages.ListEntries:
		a.listEntries(c, m)
	case *messages.VerifyAccount:
		a.verify(c, m)
	case *messages.ReceivePayment:
		a.receivePayment(c, m.Source, false)
	case *messages.PeerRequestIn:
		// Another node says it paid an account of this one.
		if m.Type != messages.WireLedgerPaid {
			c.Respond(fmt.Errorf("%w: %s", messages.ErrNoRoute, m.Type))
			return
		}
		source, err := cid.Cast(m.Body)
		if err != nil {
			c.Respond(fmt.Errorf("%w: bad CID: %w", messages.ErrInvalidPayment, err))
			return
		}
		a.receivePayment(c, source, true, m.Peer)
	}
}

func orError[T any](v T, err error) any {
	if err != nil {
		return err
	}
	return v
}

// ctx is the context of the dag requests an operation causes: its
// correlation id, and a bound.
func (a *Actor) ctx(c actor.Context) (context.Context, context.CancelFunc) {
	ctx := context.Background()
	if id := c.MessageHeader().Get(correlation.Header); id != "" {
		ctx = correlation.With(ctx, id)
	}
	return context.WithTimeout(ctx, callTimeout)
}

// start begins loading the local accounts from the dag. Until they are
// loaded, account operations answer 503 (loading); the actor itself is
// up, so a dag that is restarting never makes the ledger fail.
func (a *Actor) start(c actor.Context) {
	a.self, a.sys, a.tree = c.Self(), c.ActorSystem(), supervisors.TreeOf(c)
	a.since = a.Clock.Now()
	dids := a.Keyring.DIDs()
	if len(dids) == 0 {
		panic("ledger: the keyring holds no key, not even the node's")
	}
	a.node = string(dids[0])
	ctx, cancel := context.WithCancel(context.Background())
	a.stopLoading = cancel
	self, sys, commits := a.self, a.sys, a.commits
	a.loader.Go(func() {
		// What the previous incarnation was committing lands first.
		drained := make(chan struct{})
		go func() { commits.Wait(); close(drained) }()
		select {
		case <-drained:
		case <-ctx.Done():
			return
		}
		backoff := 50 * time.Millisecond
		for {
			l, err := a.loadAll(ctx, dids)
			if err == nil {
				sys.Root.Send(self, l)
				return
			}
			a.log.Warn("ledger: cannot load the accounts yet; retrying", "err", err, "in", backoff)
			// Real time, not the ledger's clock: this waits for the dag.
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			backoff = min(2*backoff, 5*time.Second)
		}
	})
}

// stop ends the loading, if it is still going, and refuses the
// operations still queued: they were never sent, so nothing of them is
// recorded and their callers may retry.
func (a *Actor) stop() {
	if len(a.queue) > 0 {
		a.answer(a.queue, &supervisors.UnavailableError{Path: Name, State: "restarting", RetryAfter: time.Second})
		a.queue = nil
	}
	if a.stopLoading != nil {
		a.stopLoading()
		a.loader.Wait()
	}
}

// loaded carries the accounts the loader read.
type loaded struct {
	owner    *Actor
	accounts map[string]*account
	order    []string
}

// loadAll reads every local account from the dag, opening those that have
// no chain yet (a new node, or a key created just before a crash). It runs
// off the actor's goroutine and touches none of its state.
func (a *Actor) loadAll(ctx context.Context, dids []identity.DID) (*loaded, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	heads, err := a.refs(ctx, headPrefix)
	if err != nil {
		return nil, fmt.Errorf("heads: %w", err)
	}
	reserves, err := a.refs(ctx, reservePrefix)
	if err != nil {
		return nil, fmt.Errorf("reservations: %w", err)
	}
	l := &loaded{owner: a, accounts: make(map[string]*account, len(dids))}
	for _, d := range dids {
		did := string(d)
		acct := &account{tip: state{account: did}}
		if head, ok := heads[headRef(did)]; ok {
			s, err := a.load(ctx, did, head, reserves)
			if err != nil {
				return nil, fmt.Errorf("load %s: %w", did, err)
			}
			acct.tip, acct.acked = s, s
		} else if err := a.open(ctx, acct); err != nil {
			return nil, fmt.Errorf("open %s: %w", did, err)
		}
		l.accounts[did] = acct
		l.order = append(l.order, did)
	}
	slices.Sort(l.order[1:]) // the node's own account stays first
	return l, nil
}

func (a *Actor) onLoaded(l *loaded) {
	a.accounts, a.order, a.ready = l.accounts, l.order, true
	a.publish()
	a.log.Debug("ledger loaded", "accounts", len(a.accounts), "node", a.node)
}

// refs reads every ref under prefix.
func (a *Actor) refs(ctx context.Context, prefix string) (map[string]cid.Cid, error) {
	out := map[string]cid.Cid{}
	after := ""
	for {
		page, err := supervisors.Ask[*messages.ListRefsReply](ctx, a.tree, dagName, &messages.ListRefs{Prefix: prefix, After: after})
		if err != nil {
			return nil, err
		}
		for _, r := range page.Refs {
			out[r.Name] = r.CID
		}
		if !page.More || len(page.Refs) == 0 {
			return out, nil
		}
		after = page.Refs[len(page.Refs)-1].Name
	}
}

// block reads an entry from the dag.
func (a *Actor) entryAt(ctx context.Context, c cid.Cid) (entry, error) {
	r, err := supervisors.Ask[*messages.GetBlockReply](ctx, a.tree, dagName, &messages.GetBlock{CID: c})
	if err != nil {
		return entry{}, err
	}
	return decodeEntry(r.Block)
}

// load rebuilds an account's state from its head entry and its open
// reservations (reserves: every reservation ref, by name).
func (a *Actor) load(ctx context.Context, did string, head cid.Cid, reserves map[string]cid.Cid) (state, error) {
	e, err := a.entryAt(ctx, head)
	if err != nil {
		return state{}, err
	}
	if e.Account != did {
		return state{}, fmt.Errorf("head %s is an entry of %s", head, e.Account)
	}
	s := state{account: did, head: head, seq: e.Seq, time: e.Time, available: e.BalanceAfter, reserved: e.ReservedAfter,
		reservations: map[string]reservation{}}
	prefix := reserveRef(did, "")
	var held uint64
	for name, c := range reserves {
		ref, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		r, err := a.entryAt(ctx, c)
		if err != nil {
			return state{}, fmt.Errorf("reservation %q: %w", ref, err)
		}
		s.reservations[ref] = reservation{amount: r.Amount, entry: c}
		held += r.Amount
	}
	if held != s.reserved {
		return state{}, fmt.Errorf("open reservations hold %d, the head says %d", held, s.reserved)
	}
	return s, nil
}

// open appends an account's open entry and waits for it to be durable.
func (a *Actor) open(ctx context.Context, acct *account) error {
	ch, err := a.next(acct, entry{Op: messages.OpOpen, Amount: a.Params.Initial})
	if err != nil {
		return err
	}
	put := &messages.PutBlocks{Blocks: []block.Block{ch.b}, Refs: []messages.RefUpdate{{Name: headRef(acct.tip.account), New: ch.b.CID()}}}
	if _, err := a.tree.Request(ctx, dagName, put); err != nil {
		return err
	}
	acct.tip, acct.acked = ch.next, ch.next
	a.Metrics.entries.WithLabelValues(messages.OpOpen).Inc()
	a.log.Info("account opened", "account", acct.tip.account, "mana", ch.e.Amount)
	return nil
}

// next makes acct's next entry from the op fields of e: it fills in the
// chain fields, applies the rules and signs it.
func (a *Actor) next(acct *account, e entry) (change, error) {
	s := acct.tip
	e.Account = s.account
	e.Time = a.Clock.Now().UnixMilli()
	if s.head.Defined() {
		e.Seq, e.Prev, e.Time = s.seq+1, link(s.head), max(e.Time, s.time)
	}
	// The CID is only known once the entry is signed, and signing needs
	// the balances: apply with a placeholder head, then set the real one.
	next, err := apply(s, &e, cid.Undef, a.Params)
	if err != nil {
		return change{}, err
	}
	msg, err := e.signingBytes()
	if err != nil {
		return change{}, err
	}
	if e.Sig, err = a.Keyring.Sign(identity.DID(s.account), msg); err != nil {
		return change{}, err
	}
	b, err := e.encode()
	if err != nil {
		return change{}, err
	}
	next.head = b.CID()
	if r, ok := next.reservations[e.Ref]; ok && e.Op == messages.OpReserve {
		next.reservations[e.Ref] = reservation{amount: r.amount, entry: b.CID()}
	}
	return change{acct: acct, e: e, b: b, next: next}, nil
}

// local returns a local account ready for a new entry.
func (a *Actor) local(did string) (*account, error) {
	if _, _, err := identity.ParseDID(did); err != nil {
		return nil, fmt.Errorf("%w: %w", messages.ErrInvalidAccount, err)
	}
	acct := a.accounts[did]
	if acct == nil {
		return nil, fmt.Errorf("%w: %s", messages.ErrNotLocal, did)
	}
	if acct.broken {
		return nil, &supervisors.UnavailableError{Path: Name, State: "recovering", RetryAfter: time.Second}
	}
	return acct, nil
}

// pending is an operation whose entries wait for their commit.
type pending struct {
	op      string
	changes []change
	refs    []messages.RefUpdate // the heads it moves, then its other refs
	sender  *actor.PID
	reply   any
	began   time.Time
}

// submit queues changes (and extra ref updates) for the dag and answers
// reply to the sender once they are durable. The accounts' tips move now,
// so the next operation builds on them without waiting.
//
// One put is in flight at a time; the operations that arrive meanwhile go
// into the next, together. An account's entries must commit in order, so
// a put per operation would commit one entry per account per disk sync;
// batching lets a busy account append many in one.
func (a *Actor) submit(c actor.Context, op string, changes []change, extra []messages.RefUpdate, reply any) {
	if err := a.enqueue(c.Sender(), op, changes, extra, reply); err != nil {
		a.reject(c, op, err)
	}
}

// enqueue is submit for a sender other than the current message's.
func (a *Actor) enqueue(sender *actor.PID, op string, changes []change, extra []messages.RefUpdate, reply any) error {
	if a.inflight >= maxInFlight {
		return fmt.Errorf("%w: the ledger has %d operations in flight", messages.ErrBusy, a.inflight)
	}
	p := &pending{op: op, changes: changes, sender: sender, reply: reply, began: time.Now()}
	for _, ch := range changes {
		p.refs = append(p.refs, messages.RefUpdate{Name: headRef(ch.acct.tip.account), Old: ch.acct.tip.head, New: ch.b.CID()})
		ch.acct.tip = ch.next
		ch.acct.inflight++
	}
	p.refs = append(p.refs, extra...)
	a.inflight++
	a.queue = append(a.queue, p)
	if a.puts == 0 {
		a.flush()
	}
	return nil
}

// errEarlierFailed fails the operations queued behind a failed commit of
// the same account: they were built on entries that did not land. Nothing
// of them is recorded, and the account is reloaded: a retry is safe.
var errEarlierFailed = &supervisors.UnavailableError{Path: Name, State: "recovering", RetryAfter: time.Second}

// flush writes the queued operations to the dag: as few puts as the
// per-put ref bound allows, each ref moved once from the value before its
// first update to the value after its last.
func (a *Actor) flush() {
	ops := a.queue
	a.queue = nil
	var failed, batch []*pending
	put := &messages.PutBlocks{}
	names := map[string]int{} // index in put.Refs
	send := func() {
		a.begin(batch, put)
		batch, put, names = nil, &messages.PutBlocks{}, map[string]int{}
	}
	for _, p := range ops {
		if slices.ContainsFunc(p.changes, func(ch change) bool { return ch.acct.broken }) {
			failed = append(failed, p)
			continue
		}
		added := 0
		for _, u := range p.refs {
			if _, ok := names[u.Name]; !ok {
				added++
			}
		}
		if len(batch) > 0 && len(put.Refs)+added > messages.MaxRefsPerPut {
			send()
		}
		for _, ch := range p.changes {
			put.Blocks = append(put.Blocks, ch.b)
		}
		for _, u := range p.refs {
			if i, ok := names[u.Name]; ok {
				put.Refs[i].New = u.New
				continue
			}
			names[u.Name] = len(put.Refs)
			put.Refs = append(put.Refs, u)
		}
		batch = append(batch, p)
	}
	if len(batch) > 0 {
		send()
	}
	if len(failed) > 0 {
		a.record(failed, errEarlierFailed)
		a.answer(failed, errEarlierFailed)
	}
}

// begin sends one put of the operations in batch.
func (a *Actor) begin(batch []*pending, put *messages.PutBlocks) {
	// A ref made and removed within the put (a reservation opened and
	// released) needs no update.
	put.Refs = slices.DeleteFunc(put.Refs, func(u messages.RefUpdate) bool { return !u.Old.Defined() && !u.New.Defined() })
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	call, err := a.tree.Begin(ctx, dagName, put)
	if err != nil {
		cancel()
		a.record(batch, err)
		a.answer(batch, err)
		return
	}
	a.puts++
	a.commits.Add(1)
	done := &committed{owner: a, ops: batch}
	go func() {
		defer a.commits.Done()
		defer cancel()
		_, done.err = call.Wait(ctx)
		// The actor hears of the commit before the senders do, so their
		// next requests see it. The senders are answered from here, not
		// by the actor: an incarnation that has been stopped or restarted
		// meanwhile would never answer.
		a.sys.Root.Send(a.self, done)
		a.answer(done.ops, done.err)
	}()
}

// answer tells the senders of ops how they ended. It touches no actor
// state: commit goroutines call it.
func (a *Actor) answer(ops []*pending, err error) {
	for _, p := range ops {
		switch {
		case p.sender == nil:
		case err != nil:
			a.sys.Root.Send(p.sender, fmt.Errorf("ledger: %s not recorded: %w", p.op, err))
		default:
			a.sys.Root.Send(p.sender, p.reply)
		}
	}
}

// done takes a put's outcome and sends the next.
func (a *Actor) done(m *committed) {
	a.puts--
	a.record(m.ops, m.err)
	if a.puts == 0 && len(a.queue) > 0 {
		a.flush()
	}
}

// record acknowledges operations, or marks their accounts for reloading
// when err says they were not recorded.
func (a *Actor) record(ops []*pending, err error) {
	for _, p := range ops {
		a.inflight--
		for _, ch := range p.changes {
			if ch.e.Op == messages.OpReceive && ch.e.Source != nil {
				// Received (or not: a retry checks the ref again).
				delete(a.receiving, string(ch.e.Source.Cid.Bytes()))
			}
			acct := ch.acct
			acct.inflight--
			if err != nil {
				acct.broken = true
			} else if ch.next.seq > acct.acked.seq || !acct.acked.head.Defined() {
				acct.acked = ch.next
			}
			if acct.broken && acct.inflight == 0 {
				a.reload(acct)
			}
		}
		a.Metrics.ops.WithLabelValues(p.op).Observe(time.Since(p.began).Seconds())
		if err != nil {
			a.Metrics.rejections.WithLabelValues("commit_failed").Inc()
			continue
		}
		for _, ch := range p.changes {
			a.Metrics.entries.WithLabelValues(ch.e.Op).Inc()
		}
	}
	if err != nil {
		a.log.Error("ledger commit failed", "ops", len(ops), "err", err)
		return
	}
	a.publish()
}

// reload rebuilds an account whose commit failed from what the dag holds.
func (a *Actor) reload(acct *account) {
	did := acct.tip.account
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	err := func() error {
		r, err := supervisors.Ask[*messages.Ref](ctx, a.tree, dagName, &messages.GetRef{Name: headRef(did)})
		if err != nil {
			return err
		}
		reserves, err := a.refs(ctx, reserveRef(did, ""))
		if err != nil {
			return err
		}
		s, err := a.load(ctx, did, r.CID, reserves)
		if err != nil {
			return err
		}
		acct.tip, acct.acked, acct.broken = s, s, false
		return nil
	}()
	if err != nil {
		// The dag cannot tell us what is durable: start over from it.
		panic(fmt.Errorf("ledger: reload %s after a failed commit: %w", did, err))
	}
	a.log.Warn("account reloaded after a failed commit", "account", did, "seq", acct.tip.seq)
}

// reject answers an operation that changed nothing.
func (a *Actor) reject(c actor.Context, op string, err error) {
	reason := "invalid"
	var re *ruleError
	switch {
	case errors.Is(err, messages.ErrInsufficientMana):
		reason = "insufficient_mana"
	case errors.As(err, &re):
		reason = re.reason
	case errors.Is(err, messages.ErrNotLocal):
		reason = "not_local"
	case errors.Is(err, messages.ErrBusy):
		reason = "busy"
	case errors.Is(err, supervisors.ErrUnavailable):
		reason = "unavailable"
	}
	a.Metrics.rejections.WithLabelValues(reason).Inc()
	a.log.Debug("ledger operation refused", "op", op, "err", err)
	c.Respond(err)
}

func (a *Actor) transfer(c actor.Context, m *messages.Transfer) {
	from := m.From
	if from == "" {
		from = a.node
	}
	if err := a.checkPayee(from, m.To); err != nil {
		a.reject(c, "transfer", err)
		return
	}
	src, err := a.local(from)
	if err != nil {
		a.reject(c, "transfer", err)
		return
	}
	send, err := a.next(src, entry{Op: messages.OpSend, Amount: m.Amount, Counterparty: m.To, Memo: m.Memo})
	if err != nil {
		a.reject(c, "transfer", err)
		return
	}
	reply := &messages.TransferReply{Send: send.e.info(send.b.CID())}
	changes, extra, err := a.credit(send, m.To)
	if err != nil {
		a.reject(c, "transfer", err)
		return
	}
	if len(changes) > 1 {
		r := changes[1].e.info(changes[1].b.CID())
		reply.Receive = &r
	}
	a.submit(c, "transfer", changes, extra, reply)
}

// checkPayee checks a payer and payee pair.
func (a *Actor) checkPayee(from, to string) error {
	if _, _, err := identity.ParseDID(to); err != nil {
		return fmt.Errorf("%w: payee: %w", messages.ErrInvalidAccount, err)
	}
	if from == to {
		return fmt.Errorf("%w: %s cannot pay itself", messages.ErrInvalidAccount, to)
	}
	return nil
}

// credit completes a payment entry (a send, or a settle that pays): when
// the payee is local its receive lands in the same commit, with the ref
// that marks the payment as received.
func (a *Actor) credit(pay change, to string) ([]change, []messages.RefUpdate, error) {
	changes := []change{pay}
	dst := a.accounts[to]
	if dst == nil || pay.e.Amount == 0 {
		return changes, nil, nil // a remote payee receives it on its own node
	}
	if dst.broken {
		return nil, nil, &supervisors.UnavailableError{Path: Name, State: "recovering", RetryAfter: time.Second}
	}
	recv, err := a.next(dst, entry{Op: messages.OpReceive, Amount: pay.e.Amount, Counterparty: pay.e.Account, Source: link(pay.b.CID())})
	if err != nil {
		return nil, nil, err
	}
	return append(changes, recv), []messages.RefUpdate{{Name: receivedRef(pay.b.CID()), New: recv.b.CID()}}, nil
}

func (a *Actor) reserve(c actor.Context, m *messages.Reserve) {
	acct, err := a.local(m.Account)
	if err == nil {
		err = CheckReference(m.Ref)
	}
	if err != nil {
		a.reject(c, "reserve", err)
		return
	}
	ch, err := a.next(acct, entry{Op: messages.OpReserve, Amount: m.Amount, Ref: m.Ref})
	if err != nil {
		a.reject(c, "reserve", err)
		return
	}
	ref := messages.RefUpdate{Name: reserveRef(m.Account, m.Ref), New: ch.b.CID()}
	a.submit(c, "reserve", []change{ch}, []messages.RefUpdate{ref}, &messages.EntryReply{Entry: ch.e.info(ch.b.CID())})
}

func (a *Actor) release(c actor.Context, m *messages.Release) {
	acct, err := a.local(m.Account)
	if err != nil {
		a.reject(c, "release", err)
		return
	}
	r, ok := acct.tip.reservations[m.Ref]
	if !ok {
		a.reject(c, "release", fmt.Errorf("%w: %q on %s", messages.ErrUnknownReservation, m.Ref, m.Account))
		return
	}
	ch, err := a.next(acct, entry{Op: messages.OpRelease, Amount: r.amount, Ref: m.Ref})
	if err != nil {
		a.reject(c, "release", err)
		return
	}
	ref := messages.RefUpdate{Name: reserveRef(m.Account, m.Ref), Old: r.entry}
	a.submit(c, "release", []change{ch}, []messages.RefUpdate{ref}, &messages.EntryReply{Entry: ch.e.info(ch.b.CID())})
}

func (a *Actor) settle(c actor.Context, m *messages.Settle) {
	acct, err := a.local(m.Account)
	if err == nil {
		err = a.checkPayee(m.Account, m.To)
	}
	if err != nil {
		a.reject(c, "settle", err)
		return
	}
	r, ok := acct.tip.reservations[m.Ref]
	if !ok {
		a.reject(c, "settle", fmt.Errorf("%w: %q on %s", messages.ErrUnknownReservation, m.Ref, m.Account))
		return
	}
	pay, err := a.next(acct, entry{Op: messages.OpSettle, Amount: m.Pay, Ref: m.Ref, Counterparty: m.To})
	if err != nil {
		a.reject(c, "settle", err)
		return
	}
	changes, extra, err := a.credit(pay, m.To)
	if err != nil {
		a.reject(c, "settle", err)
		return
	}
	extra = append(extra, messages.RefUpdate{Name: reserveRef(m.Account, m.Ref), Old: r.entry})
	reply := &messages.EntryReply{Entry: pay.e.info(pay.b.CID())}
	if len(changes) > 1 {
		recv := changes[1].e.info(changes[1].b.CID())
		reply.Receive = &recv
	}
	a.submit(c, "settle", changes, extra, reply)
}

func (a *Actor) createAccount(c actor.Context) {
	ctx, cancel := a.ctx(c)
	defer cancel()
	did, err := a.Keyring.Create(ctx)
	if errors.Is(err, identity.ErrKeyringFull) {
		err = fmt.Errorf("%w: %w", messages.ErrAccountLimit, err)
	}
	if err != nil {
		a.reject(c, "create", err)
		return
	}
	acct := &account{tip: state{account: string(did)}}
	if err := a.open(ctx, acct); err != nil {
		// The key is kept: the next start opens the account.
		a.reject(c, "create", err)
		return
	}
	a.accounts[string(did)] = acct
	i, _ := slices.BinarySearch(a.order[1:], string(did))
	a.order = slices.Insert(a.order, i+1, string(did))
	a.publish()
	c.Respond(a.info(acct))
}

// info is an account's acknowledged state now.
func (a *Actor) info(acct *account) *messages.AccountInfo {
	s := acct.acked
	now := a.Clock.Now()
	avail := s.availableAt(max(now.UnixMilli(), s.time), a.Params)
	return &messages.AccountInfo{
		Account: s.account, Local: true, Balance: avail + s.reserved, Available: avail, Reserved: s.reserved,
		Reservations: len(s.reservations), Capacity: a.Params.Capacity, RegenPerHour: a.Params.RegenPerHour,
		Seq: s.seq, Head: s.head, AsOf: now,
	}
}

func (a *Actor) getAccount(did string) (*messages.AccountInfo, error) {
	if did == "" {
		did = a.node
	}
	if _, _, err := identity.ParseDID(did); err != nil {
		return nil, fmt.Errorf("%w: %w", messages.ErrInvalidAccount, err)
	}
	acct := a.accounts[did]
	if acct == nil {
		return nil, fmt.Errorf("%w: %s", messages.ErrUnknownAccount, did)
	}
	return a.info(acct), nil
}

func (a *Actor) listAccounts() *messages.AccountList {
	out := &messages.AccountList{Accounts: make([]messages.AccountInfo, 0, len(a.order))}
	for _, did := range a.order {
		out.Accounts = append(out.Accounts, *a.info(a.accounts[did]))
	}
	return out
}

// publish sets the supply gauges from the acknowledged local accounts.
func (a *Actor) publish() {
	var supply, reserved uint64
	now := a.Clock.Now().UnixMilli()
	for _, acct := range a.accounts {
		s := acct.acked
		supply += s.availableAt(max(now, s.time), a.Params) + s.reserved
		reserved += s.reserved
	}
	a.Metrics.accounts.Set(float64(len(a.accounts)))
	a.Metrics.supply.Set(float64(supply))
	a.Metrics.reserved.Set(float64(reserved))
}

func (a *Actor) status(c actor.Context) {
	d := map[string]string{
		"accounts": strconv.Itoa(len(a.accounts)), "in_flight": strconv.Itoa(a.inflight), "node_account": a.node,
	}
	if acct := a.accounts[a.node]; acct != nil {
		d["node_available"] = strconv.FormatUint(a.info(acct).Available, 10)
	}
	if !a.ready {
		d["state"] = "loading accounts from the dag"
	}
	c.Respond(&messages.SubsystemStatus{Name: Name, Ready: a.ready, Since: a.since, Details: d})
}

// dagSource reads blocks through the tree, off the actor's goroutine.
type dagSource struct{ tree *supervisors.Tree }

func (s dagSource) Block(ctx context.Context, c cid.Cid) (block.Block, error) {
	r, err := supervisors.Ask[*messages.GetBlockReply](ctx, s.tree, dagName, &messages.GetBlock{CID: c})
	if err != nil {
		return block.Block{}, err
	}
	return r.Block, nil
}

// heads answers the known heads of local accounts, for verification.
func (a *Actor) heads() Heads {
	known := make(map[string]cid.Cid, len(a.accounts))
	for did, acct := range a.accounts {
		known[did] = acct.acked.head
	}
	return func(account string) (cid.Cid, bool) {
		c, ok := known[account]
		return c, ok
	}
}

// verify checks a local account's chain off the actor's goroutine.
func (a *Actor) verify(c actor.Context, m *messages.VerifyAccount) {
	did := m.Account
	if did == "" {
		did = a.node
	}
	acct, err := a.known(did)
	if err != nil {
		c.Respond(err)
		return
	}
	sender, src, head, heads, params := c.Sender(), dagSource{a.tree}, acct.acked.head, a.heads(), a.Params
	ctx, cancel := a.ctx(c)
	go func() {
		defer cancel()
		r := Verify(ctx, src, did, head, params, heads)
		a.Metrics.ops.WithLabelValues("verify").Observe(r.Took.Seconds())
		if sender != nil {
			a.sys.Root.Send(sender, &r)
		}
	}()
}

// known returns the account of a DID this node keeps.
func (a *Actor) known(did string) (*account, error) {
	if _, _, err := identity.ParseDID(did); err != nil {
		return nil, fmt.Errorf("%w: %w", messages.ErrInvalidAccount, err)
	}
	acct := a.accounts[did]
	if acct == nil {
		return nil, fmt.Errorf("%w: %s", messages.ErrUnknownAccount, did)
	}
	return acct, nil
}

// listEntries reads a page of an account's chain, newest first, off the
// actor's goroutine.
func (a *Actor) listEntries(c actor.Context, m *messages.ListEntries) {
	did := m.Account
	if did == "" {
		did = a.node
	}
	acct, err := a.known(did)
	if err != nil {
		c.Respond(err)
		return
	}
	limit := m.Limit
	if limit <= 0 || limit > messages.MaxListedEntries {
		limit = messages.MaxListedEntries
	}
	sender, src, head := c.Sender(), dagSource{a.tree}, acct.acked.head
	ctx, cancel := a.ctx(c)
	go func() {
		defer cancel()
		out := &messages.EntryList{Entries: []messages.EntryInfo{}}
		var err error
		for next := head; next.Defined() && len(out.Entries) < limit; {
			var b block.Block
			if b, err = src.Block(ctx, next); err != nil {
				break
			}
			var e entry
			if e, err = decodeEntry(b); err != nil {
				break
			}
			if m.Before == 0 || e.Seq < m.Before {
				out.Entries = append(out.Entries, e.info(next))
			}
			next = unlink(e.Prev)
		}
		if n := len(out.Entries); err == nil && n == limit && out.Entries[n-1].Seq > 0 {
			out.Next = out.Entries[n-1].Seq
		}
		if sender == nil {
			return
		}
		if err != nil {
			a.sys.Root.Send(sender, fmt.Errorf("ledger: read the chain of %s: %w", did, err))
			return
		}
		a.sys.Root.Send(sender, out)
	}()
}
