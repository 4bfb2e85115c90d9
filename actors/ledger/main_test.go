package ledger

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/intercooperative-network/icn-go/actors/actortest"
	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/clock/clocktest"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/store"
	"github.com/intercooperative-network/icn-go/services/store/memstore"
	"github.com/intercooperative-network/icn-go/supervisors"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
		goleak.IgnoreAnyFunction("github.com/golang/glog.(*fileSink).flushDaemon"),
	)
}

// tb is what the helpers need of a test: a *testing.T or a *rapid.T.
type tb interface {
	Helper()
	Fatal(args ...any)
	Fatalf(format string, args ...any)
}

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// node is a tree with the dag and ledger actors over one store.
type node struct {
	tree    *supervisors.Tree
	store   store.Store
	clock   *clocktest.Fake
	keyring identity.Keyring
	metrics *Metrics
	params  Params
	self    string // the node's account
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

type setup struct {
	store   store.Store
	params  Params
	keyring identity.Keyring
	clock   *clocktest.Fake
}

// startNode launches a node that stops when the test ends.
func startNode(t testing.TB, s setup) *node {
	t.Helper()
	n := launch(t, s)
	t.Cleanup(func() {
		if err := n.tree.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return n
}

// launch starts a node; the caller stops its tree.
func launch(t tb, s setup) *node {
	t.Helper()
	if s.store == nil {
		s.store = memstore.New()
	}
	if s.params == (Params{}) {
		s.params = DefaultParams()
	}
	if s.keyring == nil {
		id, err := identity.Generate(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		s.keyring = identity.NewMemoryKeyring(id, rand.Reader, 0)
	}
	if s.clock == nil {
		s.clock = clocktest.New(t0)
	}
	reg := prometheus.NewRegistry()
	lm, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	tree, err := supervisors.New(supervisors.Spec{Name: "icn", Children: []supervisors.ChildSpec{
		actortest.DAG(t, reg, s.store, s.clock, 1<<20),
		{Name: Name, Restart: supervisors.Permanent, New: New(Deps{Keyring: s.keyring, Store: s.store, Clock: s.clock,
			Params: s.params, Metrics: lm, Logger: discard()})},
	}}, discard(), reg, supervisors.WithDefaults(actortest.Defaults()))
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := &node{tree: tree, store: s.store, clock: s.clock, keyring: s.keyring, metrics: lm, params: s.params,
		self: string(s.keyring.DIDs()[0])}
	n.waitReady(t)
	return n
}

// waitReady polls until the ledger has loaded its accounts.
func (n *node) waitReady(t tb) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		st, err := supervisors.Ask[*messages.SubsystemStatus](context.Background(), n.tree, Name, &messages.StatusRequest{})
		if err == nil && st.Ready {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ledger never became ready: %v %+v", err, st)
		}
		time.Sleep(time.Millisecond)
	}
}

func ask[R any](t tb, n *node, msg any) R {
	t.Helper()
	r, err := supervisors.Ask[R](context.Background(), n.tree, Name, msg)
	if err != nil {
		t.Fatalf("%T: %v", msg, err)
	}
	return r
}

func askErr(t tb, n *node, msg any) error {
	t.Helper()
	_, err := n.tree.Request(context.Background(), Name, msg)
	return err
}

func (n *node) account(t tb, did string) *messages.AccountInfo {
	t.Helper()
	return ask[*messages.AccountInfo](t, n, &messages.GetAccount{Account: did})
}

func (n *node) newAccount(t tb) string {
	t.Helper()
	return ask[*messages.AccountInfo](t, n, &messages.CreateAccount{}).Account
}

// storeSource reads blocks straight from a node's dag.
type treeSource struct{ tree *supervisors.Tree }

func (s treeSource) Block(ctx context.Context, c cid.Cid) (block.Block, error) {
	return dagSource(s).Block(ctx, c)
}

// mapSource is a BlockSource over blocks in memory.
type mapSource map[string]block.Block

func (m mapSource) Block(_ context.Context, c cid.Cid) (block.Block, error) {
	b, ok := m[c.KeyString()]
	if !ok {
		return block.Block{}, messages.ErrBlockNotFound
	}
	return b, nil
}

func (m mapSource) add(b block.Block) { m[b.CID().KeyString()] = b }

// chain builds entries by hand, signed by keys the keyring holds, for
// verification tests.
type chain struct {
	t       tb
	keyring identity.Keyring
	params  Params
	src     mapSource
	s       state
	entries []cid.Cid
}

func newChain(t tb, k identity.Keyring, account string, p Params, src mapSource) *chain {
	return &chain{t: t, keyring: k, params: p, src: src, s: state{account: account}}
}

// add applies e's op at time ms, signs it and stores it; it returns the CID.
func (c *chain) add(e entry, ms int64) cid.Cid {
	c.t.Helper()
	e.Account, e.Time = c.s.account, ms
	if c.s.head.Defined() {
		e.Seq, e.Prev = c.s.seq+1, link(c.s.head)
	}
	next, err := apply(c.s, &e, cid.Undef, c.params)
	if err != nil {
		c.t.Fatal(err)
	}
	b := c.sign(e)
	next.head = b.CID()
	if r, ok := next.reservations[e.Ref]; ok && e.Op == messages.OpReserve {
		next.reservations[e.Ref] = reservation{amount: r.amount, entry: b.CID()}
	}
	c.s = next
	c.entries = append(c.entries, b.CID())
	return b.CID()
}

// sign signs e as it is and stores its block.
func (c *chain) sign(e entry) block.Block {
	c.t.Helper()
	e.Sig = nil
	msg, err := e.signingBytes()
	if err != nil {
		c.t.Fatal(err)
	}
	if e.Sig, err = c.keyring.Sign(identity.DID(e.Account), msg); err != nil {
		c.t.Fatal(err)
	}
	b, err := e.encode()
	if err != nil {
		c.t.Fatal(err)
	}
	c.src.add(b)
	return b
}

func (c *chain) entry(i int) entry {
	c.t.Helper()
	e, err := decodeEntry(c.src[c.entries[i].KeyString()])
	if err != nil {
		c.t.Fatal(err)
	}
	return e
}

func isProblem(r messages.VerifyReport, reason string) bool {
	return !r.Valid && len(r.Problems) > 0 && r.Problems[0].Reason == reason
}

var errAny = errors.New("any")
