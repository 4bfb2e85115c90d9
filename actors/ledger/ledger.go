package ledger

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
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
	// What the last load replayed of each local chain: a restart replays
	// only what was appended since. A new process starts from the
	// checkpoints the node saved in the store (saved.go).
	loadedUpTo := newCheckpoints(identity.MaxAccounts)
	return func() actor.Actor {
		return &Actor{Deps: d, commits: commits, loadedUpTo: loadedUpTo, accounts: map[string]*account{}, refused: map[string]*BrokenChainError{},
			reputation: map[string]*record{}, receiving: map[string]bool{}, keyed: map[string]bool{}, verified: newCheckpoints(maxCheckpoints), log: d.Logger.With("actor", Name)}
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
	node       string                       // the node's own account
	accounts   map[string]*account          // local accounts
	refused    map[string]*BrokenChainError // local accounts whose chain does not replay to its head
	order      []string                     // of accounts: the node's own first, then by DID
	inflight   int                          // operations waiting for their commit
	queue      []*pending                   // operations waiting for the put in flight
	puts       int                          // puts in flight
	reputation map[string]*record
	receiving  map[string]bool // payments from other nodes being received, by source CID bytes
	keyed      map[string]bool // transfers with an idempotency key in progress, by the key's ref
	verified   *checkpoints    // the last verified heads of payers' chains; shared with payment checks
	loadedUpTo *checkpoints    // the local chains as last loaded; shared by every incarnation
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
	broken   bool   // a commit failed: reload from the dag once none is in flight
	saved    uint64 // the seq of its saved checkpoint (0: none, or the open entry)
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
	case *keyChecked:
		if m.owner == a {
			a.onKeyChecked(m)
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
			// The dag starting alongside is expected for a moment; past
			// that, or for any other cause, it is worth a warning.
			level := slog.LevelWarn
			if errors.Is(err, supervisors.ErrUnavailable) && backoff < time.Second {
				level = slog.LevelDebug
			}
			a.log.Log(ctx, level, "ledger: cannot load the accounts yet; retrying", "err", err, "in", backoff)
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
	refused  map[string]*BrokenChainError
	order    []string
}

// loadAll reads every local account from the dag, opening those that have
// no chain yet (a new node, or a key created just before a crash). An
// account whose chain does not replay to its head is refused, not served;
// the others are. It runs off the actor's goroutine and touches none of
// its state.
func (a *Actor) loadAll(ctx context.Context, dids []identity.DID) (*loaded, error) {
	refsCtx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	heads, err := a.refs(refsCtx, headPrefix)
	if err != nil {
		return nil, fmt.Errorf("heads: %w", err)
	}
	reserves, err := a.refs(refsCtx, reservePrefix)
	if err != nil {
		return nil, fmt.Errorf("reservations: %w", err)
	}
	l := &loaded{owner: a, accounts: make(map[string]*account, len(dids)), refused: map[string]*BrokenChainError{}}
	var save store.Batch
	saveNow := func() {
		// Lost, checkpoints cost the next start a longer replay; nothing else.
		ctx, cancel := context.WithTimeout(ctx, callTimeout)
		defer cancel()
		if err := a.Store.Commit(ctx, &save); err != nil {
			a.log.Warn("ledger: cannot save the loaded chains' checkpoints", "err", err)
		}
		save.Reset()
	}
	for _, d := range dids {
		did := string(d)
		acct := &account{tip: state{account: did}}
		if head, ok := heads[headRef(did)]; ok {
			// Where this process last loaded the chain, else where the node
			// last saved it, else its open entry.
			from := a.loadedUpTo.get(did)
			if from == nil {
				if from, err = a.savedCheckpointOf(ctx, did); err != nil {
					return nil, fmt.Errorf("the saved checkpoint of %s: %w", did, err)
				}
			}
			// A long chain takes as long as it takes: each read is bounded,
			// not the replay.
			s, cp, err := a.load(ctx, did, head, reserves, from)
			var bce *BrokenChainError
			if errors.As(err, &bce) {
				l.refused[did] = bce
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("load %s: %w", did, err)
			}
			a.loadedUpTo.put(cp)
			acct.tip, acct.acked = s, s
			if from != nil {
				acct.saved = from.state.seq
			}
			if s.seq > acct.saved {
				if err := a.saveCheckpoint(&save, s); err != nil {
					return nil, fmt.Errorf("save the checkpoint of %s: %w", did, err)
				}
				acct.saved = s.seq
				if save.Len() >= 1000 || save.Size() >= 1<<20 { // well within a batch's bounds
					saveNow()
				}
			}
		} else if err := a.openWithin(ctx, acct); err != nil {
			return nil, fmt.Errorf("open %s: %w", did, err)
		}
		l.accounts[did] = acct
		l.order = append(l.order, did)
	}
	if save.Len() > 0 {
		saveNow()
	}
	a.sortAccounts(l.order)
	return l, nil
}

// sortAccounts orders DIDs as a.order keeps them: the node's own first,
// then by DID.
func (a *Actor) sortAccounts(dids []string) {
	slices.SortFunc(dids, func(x, y string) int {
		switch {
		case x == y:
			return 0
		case x == a.node:
			return -1
		case y == a.node:
			return 1
		}
		return strings.Compare(x, y)
	})
}

func (a *Actor) onLoaded(l *loaded) {
	a.accounts, a.refused, a.order, a.ready = l.accounts, l.refused, l.order, true
	for did, err := range l.refused {
		a.log.Error("ledger: refusing an account whose chain does not replay to its head", "account", did, "head", err.Head, "err", err)
	}
	a.publish()
	a.log.Debug("ledger loaded", "accounts", len(a.accounts), "refused", len(a.refused), "node", a.node)
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

// ErrBrokenChain: a local account's chain does not replay to its head.
// The ledger refuses to serve the account (its other accounts are served)
// until an operator repairs the store; the error is a *BrokenChainError.
var ErrBrokenChain = errors.New("ledger: the account's chain does not replay to its head")

// BrokenChainError names the account whose chain does not replay, and why.
type BrokenChainError struct {
	Account  string
	Head     cid.Cid
	Problems []messages.Problem // as Verify reports them; at least one
}

func (e *BrokenChainError) Error() string {
	p := e.Problems[0]
	return fmt.Sprintf("%v: %s: %s at seq %d (%s): %s", ErrBrokenChain, e.Account, p.Reason, p.Seq, p.CID, p.Detail)
}

// Unwrap makes errors.Is true for ErrBrokenChain and, for callers that
// know only messages' errors (the HTTP API), messages.ErrCorruptBlock: the
// store holds what does not verify.
func (e *BrokenChainError) Unwrap() []error { return []error{ErrBrokenChain, messages.ErrCorruptBlock} }

// load rebuilds an account's state by replaying its chain to head with
// the rules and checks Verify applies (signatures, seq, prev links, times,
// balances, receives backed by their sources), from the checkpoint from
// (nil: the open entry); the head's balances are trusted only once the
// replay arrives at them. Its open reservations
// (reserves: every reservation ref, by name) must be those of the replay.
// Other local chains are not walked for equivocation, so that a load is
// linear in what it replays; Verify does that. A chain that does not
// replay is a *BrokenChainError; a dag that cannot be read, any other
// error.
func (a *Actor) load(ctx context.Context, did string, head cid.Cid, reserves map[string]cid.Cid, from *checkpoint) (state, *checkpoint, error) {
	src := &loadSource{tree: a.tree}
	r, cp := verifyFrom(ctx, src, did, head, a.Params, nil, from)
	if src.err != nil {
		return state{}, nil, src.err
	}
	if err := ctx.Err(); err != nil {
		return state{}, nil, err
	}
	if !r.Valid {
		return state{}, nil, &BrokenChainError{Account: did, Head: head, Problems: r.Problems}
	}
	s := cp.state.clone()
	prefix := reserveRef(did, "")
	refs := 0
	for name, c := range reserves {
		ref, ok := strings.CutPrefix(name, prefix)
		if !ok {
			continue
		}
		refs++
		if r, ok := s.reservations[ref]; !ok || !r.entry.Equals(c) {
			return state{}, nil, &BrokenChainError{Account: did, Head: head, Problems: []messages.Problem{{Seq: s.seq, CID: c,
				Reason: messages.ReasonUnknownReserve, Detail: fmt.Sprintf("the ref of reservation %q names %s, not open on the chain", ref, c)}}}
		}
	}
	if refs != len(s.reservations) {
		return state{}, nil, &BrokenChainError{Account: did, Head: head, Problems: []messages.Problem{{Seq: s.seq, CID: head,
			Reason: messages.ReasonUnknownReserve, Detail: fmt.Sprintf("the chain has %d open reservations, the refs %d", len(s.reservations), refs)}}}
	}
	return s, cp, nil
}

// loadSource reads a local chain's blocks for its replay, each read
// bounded. A block the dag lacks or holds corrupt is the chain's fault,
// which the replay reports; any other failure (the dag restarting, a
// timeout) is kept in err, so that the load is retried rather than the
// account refused.
type loadSource struct {
	tree *supervisors.Tree
	err  error
}

func (s *loadSource) Block(ctx context.Context, c cid.Cid) (block.Block, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	b, err := dagSource{s.tree}.Block(ctx, c)
	if err != nil && s.err == nil && !errors.Is(err, messages.ErrBlockNotFound) && !errors.Is(err, messages.ErrCorruptBlock) {
		s.err = err
	}
	return b, err
}

// openWithin is open bounded by callTimeout.
func (a *Actor) openWithin(ctx context.Context, acct *account) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	return a.open(ctx, acct)
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
	if err := a.refused[did]; err != nil {
		return nil, err
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
		for _, u := range p.refs {
			delete(a.keyed, u.Name) // paid under its key (or not: a retry looks again)
		}
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
	a.saveDue(ops)
	a.publish()
}

// saveDue saves the checkpoints of the accounts of ops that appended
// saveEvery entries since their last, at their acknowledged state, which
// the rules made from a verified one.
func (a *Actor) saveDue(ops []*pending) {
	var b store.Batch
	var due []*account
	for _, p := range ops {
		for _, ch := range p.changes {
			acct := ch.acct
			if acct.acked.seq < acct.saved+saveEvery || slices.Contains(due, acct) {
				continue
			}
			if err := a.saveCheckpoint(&b, acct.acked); err != nil {
				a.log.Warn("ledger: cannot save a checkpoint", "account", acct.acked.account, "err", err)
				continue
			}
			due = append(due, acct)
		}
	}
	if len(due) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	if err := a.Store.Commit(ctx, &b); err != nil {
		// The next try is saveEvery entries later, not at every commit.
		a.log.Warn("ledger: cannot save checkpoints", "accounts", len(due), "err", err)
	}
	for _, acct := range due {
		acct.saved = acct.acked.seq
	}
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
		// What was acknowledged is on the chain: only what follows it, the
		// failed commit's entries if they landed after all, is replayed.
		from := &checkpoint{state: acct.acked, params: a.Params}
		s, _, err := a.load(ctx, did, r.CID, reserves, from)
		if err != nil {
			return err
		}
		acct.tip, acct.acked, acct.broken = s, s, false
		return nil
	}()
	var bce *BrokenChainError
	if errors.As(err, &bce) {
		delete(a.accounts, did)
		a.order = slices.DeleteFunc(a.order, func(d string) bool { return d == did })
		a.refused[did] = bce
		a.publish()
		a.log.Error("ledger: refusing an account whose chain does not replay to its head", "account", did, "head", bce.Head, "err", bce)
		return
	}
	if err != nil {
		// The dag cannot tell us what is durable: start over from it.
		panic(fmt.Errorf("ledger: reload %s after a failed commit: %w", did, err))
	}
	a.log.Warn("account reloaded after a failed commit", "account", did, "seq", acct.tip.seq)
}

// reject answers an operation that changed nothing.
func (a *Actor) reject(c actor.Context, op string, err error) {
	a.Metrics.rejections.WithLabelValues(rejection(err)).Inc()
	a.log.Debug("ledger operation refused", "op", op, "err", err)
	c.Respond(err)
}

// rejection is the reason label of icn_ledger_rejections_total for err:
// one of rejectionReasons, or a rule's reason (messages.Reason*).
func rejection(err error) string {
	var re *ruleError
	switch {
	case errors.Is(err, messages.ErrInsufficientMana):
		return "insufficient_mana"
	case errors.As(err, &re):
		return re.reason
	case errors.Is(err, messages.ErrNotLocal):
		return "not_local"
	case errors.Is(err, messages.ErrKeyReused):
		return "key_reused"
	case errors.Is(err, ErrBrokenChain):
		return "broken_chain"
	case errors.Is(err, messages.ErrBusy):
		return "busy"
	case errors.Is(err, supervisors.ErrUnavailable):
		return "unavailable"
	}
	return "invalid"
}

func (a *Actor) transfer(c actor.Context, m *messages.Transfer) {
	t := *m
	if t.From == "" {
		t.From = a.node
	}
	if t.Key != "" {
		a.transferWithKey(c, &t)
		return
	}
	changes, extra, reply, err := a.payment(&t)
	if err != nil {
		a.reject(c, "transfer", err)
		return
	}
	a.submit(c, "transfer", changes, extra, reply)
}

// payment builds a transfer's entries (m.From set): the payer's send, and
// the payee's receive when the payee is local.
func (a *Actor) payment(m *messages.Transfer) ([]change, []messages.RefUpdate, *messages.TransferReply, error) {
	if err := a.checkPayee(m.From, m.To); err != nil {
		return nil, nil, nil, err
	}
	src, err := a.local(m.From)
	if err != nil {
		return nil, nil, nil, err
	}
	send, err := a.next(src, entry{Op: messages.OpSend, Amount: m.Amount, Counterparty: m.To, Memo: m.Memo})
	if err != nil {
		return nil, nil, nil, err
	}
	reply := &messages.TransferReply{Send: send.e.info(send.b.CID())}
	changes, extra, err := a.credit(send, m.To)
	if err != nil {
		return nil, nil, nil, err
	}
	if len(changes) > 1 {
		r := changes[1].e.info(changes[1].b.CID())
		reply.Receive = &r
	}
	return changes, extra, reply, nil
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
	if err := a.refused[to]; err != nil {
		return nil, nil, err // its receive could not be appended
	}
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
	a.order = append(a.order, string(did))
	a.sortAccounts(a.order)
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
	if err := a.refused[did]; err != nil {
		return nil, err
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
	a.Metrics.refused.Set(float64(len(a.refused)))
	a.Metrics.supply.Set(float64(supply))
	a.Metrics.reserved.Set(float64(reserved))
}

func (a *Actor) status(c actor.Context) {
	d := map[string]string{
		"accounts": strconv.Itoa(len(a.accounts)), "in_flight": strconv.Itoa(a.inflight), "node_account": a.node,
	}
	if len(a.refused) > 0 {
		d["refused_accounts"] = strings.Join(slices.Sorted(maps.Keys(a.refused)), ",")
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
	head, err := a.headOf(did)
	if err != nil {
		c.Respond(err)
		return
	}
	sender, src, heads, params := c.Sender(), dagSource{a.tree}, a.heads(), a.Params
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

// headOf returns the acknowledged head of an account this node keeps. A
// refused account's chain can still be read and verified: that is how an
// operator sees what is wrong with it.
func (a *Actor) headOf(did string) (cid.Cid, error) {
	if _, _, err := identity.ParseDID(did); err != nil {
		return cid.Undef, fmt.Errorf("%w: %w", messages.ErrInvalidAccount, err)
	}
	if err := a.refused[did]; err != nil {
		return err.Head, nil
	}
	acct := a.accounts[did]
	if acct == nil {
		return cid.Undef, fmt.Errorf("%w: %s", messages.ErrUnknownAccount, did)
	}
	return acct.acked.head, nil
}

// listEntries reads a page of an account's chain, newest first, off the
// actor's goroutine.
func (a *Actor) listEntries(c actor.Context, m *messages.ListEntries) {
	did := m.Account
	if did == "" {
		did = a.node
	}
	head, err := a.headOf(did)
	if err != nil {
		c.Respond(err)
		return
	}
	limit := m.Limit
	if limit <= 0 || limit > messages.MaxListedEntries {
		limit = messages.MaxListedEntries
	}
	sender, src := c.Sender(), dagSource{a.tree}
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
