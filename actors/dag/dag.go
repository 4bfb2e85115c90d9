package dag

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/messages/correlation"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/store"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// Name is the subsystem's name in the supervision tree.
const Name = "dag"

// Config is what an operator sets for the block store.
type Config struct {
	MaxBlockSize int           // bytes; larger blocks are refused
	GCInterval   time.Duration // scheduled collection; 0 runs it only on demand
	GCGrace      time.Duration // how long unpinned blocks without a TTL are kept
	CacheBytes   int64         // memory for recently read blocks; 0 disables the cache
	// ReprovideInterval is how often every pinned root is announced
	// again; 0 is DefaultReprovideInterval, negative only on start.
	ReprovideInterval time.Duration
}

// Deps are the dag actor's collaborators.
type Deps struct {
	Store   store.Store
	Clock   clock.Clock
	Config  Config
	Metrics *Metrics
	Logger  *slog.Logger
}

// New returns the producer the supervisor calls on every (re)start.
func New(d Deps) func() actor.Actor {
	return func() actor.Actor {
		return &Actor{Deps: d, index: map[string]indexed{}, inflight: map[string]*flight{}, refs: map[string]*refFlight{}, rooted: map[string]int{},
			cache: newBlockCache(d.Config.CacheBytes), log: d.Logger.With("actor", Name)}
	}
}

// Actor is the dag subsystem: the node's content-addressed block store.
//
// Writes are acknowledged only when durable: a put's store commit runs
// off the actor's goroutine (so that concurrent puts share one sync in the
// store's group commit) and the caller is answered from there once it
// succeeded. Reads run off the actor's goroutine too, and verify every
// block against its CID. Garbage collection, pins and walks run on the
// actor's goroutine, so they never interleave with each other.
//
// The actor keeps one index in memory, rebuilt from the store on Started:
// each stored block's size and retention. Puts consult it instead of the
// store (badger makes a read wait for every commit in flight, which would
// put each put behind the previous one's sync), and GC sweeps it instead of
// scanning the store. It costs about 100 bytes a block.
type Actor struct {
	Deps
	log          *slog.Logger
	self         *actor.PID
	sys          *actor.ActorSystem
	since        time.Time
	blocks       int64
	bytes        int64
	index        map[string]indexed    // CID bytes -> what is stored
	inflight     map[string]*flight    // CIDs with a put in flight: GC keeps them
	refs         map[string]*refFlight // refs with an update in flight
	rooted       map[string]int        // CIDs a put in flight pins or points a ref at: GC keeps what is under them
	putsInFlight int
	commits      sync.WaitGroup // put commits in flight: waited for before the actor stops
	readq        chan read      // reads for the reader goroutines
	cache        *blockCache    // verified blocks recently read; per incarnation
	tree         *supervisors.Tree
	fetching     int // single-block fetches in flight
	readers      sync.WaitGroup
	gcTimer      clock.Timer
	announcer    *announcer // per incarnation; nil outside a tree
}

// flight tracks the puts of one block that are in flight. Their commits
// land in the order the actor took them (each waits for the previous one),
// and each carries the largest expiry any of them promised, so the last
// meta written is never shorter than a retention already acknowledged.
type flight struct {
	count   int
	expires int64
	last    *outcome // the latest put of the block
}

// refFlight tracks the updates of one ref that are in flight: the value
// the latest of them leaves, which the next update must name as its Old.
type refFlight struct {
	count int
	value cid.Cid // cid.Undef: deleted
	last  *outcome
}

// ended says whether the put has ended (err is set).
func (o *outcome) ended() bool {
	select {
	case <-o.done:
		return true
	default:
		return false
	}
}

// outcome is how a put ended, for the puts ordered after it.
type outcome struct {
	done chan struct{} // closed once err is set
	err  error
}

// read is one block read handed to the reader goroutines.
type read struct {
	ctx     context.Context // the request's correlation id
	cid     cid.Cid
	sender  *actor.PID
	began   time.Time
	forPeer bool // another node asked: answer *messages.PeerResponse
}

// Reads in flight are bounded; past the bound a read is refused at once
// (ErrBusy) rather than stalling the actor.
const readQueue = 1024

// readerCount is how many goroutines serve reads: enough to keep a disk busy.
func readerCount() int { return max(4, 2*runtime.GOMAXPROCS(0)) }

// readTimeout bounds one read from the store (a stalled disk).
const readTimeout = 30 * time.Second

// indexed is what the actor keeps in memory of a stored block.
type indexed struct {
	expires int64 // unix nanoseconds
	size    int32
}

// internal messages
type (
	putDone struct {
		owner     *Actor
		ctx       context.Context // the put's correlation id
		pinned    cid.Cid         // the root the put pinned, if any
		items     []*item
		refs      []messages.RefUpdate
		roots     []string
		committed int // items[:committed] are durable
		err       error
	}
	gcTick struct{ owner *Actor }
)

// Receive implements actor.Actor.
func (a *Actor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		a.start(c)
	case *actor.Stopping, *actor.Restarting:
		a.stop()
	case *putDone:
		if m.owner == a {
			a.putDone(m)
		}
	case *gcTick:
		if m.owner == a {
			a.scheduledGC()
		}
	case *messages.PutBlocks:
		a.put(c, m)
	case *messages.GetBlock:
		if m.Fetch {
			a.fetchOrRead(c, m)
		} else {
			a.get(c, m)
		}
	case *messages.FetchDAG:
		a.fetchDAG(c, m)
	case *messages.PeerRequestIn:
		if m.Type == messages.WireDAGBlock {
			a.serveBlock(c, m)
		} else {
			c.Respond(fmt.Errorf("%w: %s", messages.ErrNoRoute, m.Type))
		}
	case *fetched:
		if m.owner == a {
			a.fetching--
			a.Metrics.fetches.WithLabelValues(m.result).Inc()
		}
	case *messages.StatBlock:
		a.timed("stat", func() { c.Respond(orError(a.stat(m.CID))) })
	case *messages.PinBlock:
		a.timed("pin", func() {
			r, err := a.pin(m)
			if err == nil {
				a.announce(m.CID)
			}
			c.Respond(orError(r, err))
		})
	case *messages.UnpinBlock:
		a.timed("unpin", func() { c.Respond(orError(a.unpin(m.CID))) })
	case *messages.ListPins:
		c.Respond(orError(a.listPins()))
	case *messages.CollectGarbage:
		a.timed("gc", func() { c.Respond(orError(a.collect())) })
	case *messages.WalkDAG:
		a.timed("walk", func() { c.Respond(orError(a.walk(m.Root))) })
	case *messages.GetRef:
		c.Respond(orError(a.getRef(m.Name)))
	case *messages.ListRefs:
		c.Respond(orError(a.listRefs(m)))
	case *messages.StatusRequest:
		c.Respond(&messages.SubsystemStatus{Name: Name, Ready: true, Since: a.since, Details: map[string]string{
			"blocks": strconv.FormatInt(a.blocks, 10), "bytes": strconv.FormatInt(a.bytes, 10),
			"max_block_size": strconv.Itoa(a.Config.MaxBlockSize),
			"puts_in_flight": strconv.Itoa(a.putsInFlight), "refs_in_flight": strconv.Itoa(len(a.refs)),
		}})
	}
}

// orError answers an error as itself, a value as itself.
func orError[T any](v T, err error) any {
	if err != nil {
		return err
	}
	return v
}

func (a *Actor) timed(op string, f func()) {
	began := time.Now()
	f()
	a.Metrics.ops.WithLabelValues(op).Observe(time.Since(began).Seconds())
}

// requestContext carries the correlation id of the message c is
// handling, so that the log lines and requests it causes name it.
func requestContext(c actor.Context) context.Context {
	return correlation.With(context.Background(), c.MessageHeader().Get(correlation.Header))
}

// start rebuilds the counts from the store; nothing else is kept in memory.
func (a *Actor) start(c actor.Context) {
	a.self, a.sys, a.tree = c.Self(), c.ActorSystem(), supervisors.TreeOf(c)
	a.since = a.Clock.Now()
	ctx := context.Background()
	var blocks, bytes int64
	err := a.Store.Scan(ctx, prefixMeta, nil, func(k, v []byte) error {
		m, err := decodeMeta(v)
		if err != nil {
			return err
		}
		a.index[string(k[len(prefixMeta):])] = indexed{expires: m.expiresAt.UnixNano(), size: int32(m.size)}
		blocks++
		bytes += int64(m.size)
		return nil
	})
	if err != nil {
		// Cannot know what is stored: fail, and let the supervisor decide.
		panic(fmt.Errorf("dag: rebuild from the store: %w", err))
	}
	a.blocks, a.bytes = blocks, bytes
	a.Metrics.blocks.Set(float64(blocks))
	a.Metrics.bytes.Set(float64(bytes))
	if a.Config.GCInterval > 0 {
		a.armGC()
	}
	a.readq = make(chan read, readQueue)
	for range readerCount() {
		a.readers.Go(a.reader)
	}
	if a.tree != nil {
		every := a.Config.ReprovideInterval
		if every == 0 {
			every = DefaultReprovideInterval
		}
		a.announcer = newAnnouncer(a.tree, a.Store, a.Clock, a.Metrics, a.log, max(every, 0))
		a.announcer.start()
	}
	a.log.Debug("dag started", "blocks", blocks, "bytes", bytes)
}

func (a *Actor) armGC() {
	self, sys, tick := a.self, a.sys, &gcTick{owner: a}
	a.gcTimer = a.Clock.AfterFunc(a.Config.GCInterval, func() { sys.Root.Send(self, tick) })
}

// stop waits for the put commits in flight, so that no write of this
// instance lands after the next one has rebuilt its view.
func (a *Actor) stop() {
	if a.gcTimer != nil {
		a.gcTimer.Stop()
	}
	if a.announcer != nil {
		a.announcer.stop()
		a.announcer = nil
	}
	a.commits.Wait()
	if a.readq != nil {
		close(a.readq) // the actor sends no more: it is stopping
		a.readers.Wait()
		a.readq = nil
	}
}

func (a *Actor) put(c actor.Context, m *messages.PutBlocks) {
	began := time.Now()
	sender, ctx := c.Sender(), requestContext(c)
	items, err := a.check(m)
	if err != nil {
		c.Respond(err)
		return
	}
	now := a.Clock.Now()
	ttl := m.TTL
	if ttl <= 0 {
		ttl = a.Config.GCGrace
	}
	expires := now.Add(ttl).UnixNano()
	fresh, freshBytes := 0, int64(0)
	this := &outcome{done: make(chan struct{})}
	var after, refAfter []*outcome
	for _, it := range items {
		it.storedAt = now
		f := a.inflight[it.key]
		if f == nil {
			f = &flight{}
			a.inflight[it.key] = f
		}
		old, stored := a.index[it.key]
		it.expires = max(expires, old.expires, f.expires) // a re-put never shortens a retention
		if !stored && f.count == 0 {
			it.fresh = true // counted once, by the first put in flight
			fresh++
			freshBytes += int64(it.b.Size())
		}
		if f.last != nil {
			after = append(after, f.last)
		}
		f.count++
		f.expires, f.last = it.expires, this
	}
	for _, r := range roots(m) {
		a.rooted[r]++
	}
	for _, u := range m.Refs {
		f := a.refs[u.Name]
		if f == nil {
			f = &refFlight{}
			a.refs[u.Name] = f
		}
		if f.last != nil && !f.last.ended() {
			// Ordered after it; one that has ended already (its caller may
			// know before the actor does) orders nothing, and a failure of
			// it is not this put's.
			refAfter = append(refAfter, f.last)
		}
		f.count++
		f.value, f.last = u.New, this
	}
	a.commits.Add(1)
	a.putsInFlight++
	go func() {
		defer a.commits.Done()
		for _, prev := range after {
			<-prev.done
		}
		var committed int
		var err error
		for _, prev := range refAfter {
			if <-prev.done; prev.err != nil {
				err = fmt.Errorf("%w: an earlier update of the same ref failed: %w", messages.ErrRefConflict, prev.err)
			}
		}
		if err == nil {
			committed, err = a.commit(ctx, items, m.Pin, m.Refs, now)
		}
		this.err = err
		close(this.done)
		var pinned cid.Cid
		if m.Pin != nil {
			pinned = m.Pin.CID
		}
		// The actor hears of the commit before the caller does, so that
		// whatever the caller asks next (a GC, a stat) finds the blocks
		// indexed.
		a.sys.Root.Send(a.self, &putDone{owner: a, ctx: ctx, pinned: pinned, items: items, refs: m.Refs, roots: roots(m), committed: committed, err: err})
		if sender != nil {
			if err != nil {
				a.sys.Root.Send(sender, err)
			} else {
				a.sys.Root.Send(sender, &messages.PutBlocksReply{Stored: len(m.Blocks), New: fresh, Bytes: freshBytes})
			}
		}
		a.Metrics.ops.WithLabelValues("put").Observe(time.Since(began).Seconds())
	}()
}

// item is one block of a put, checked by the actor.
type item struct {
	b        block.Block
	key      string
	links    []cid.Cid
	expires  int64
	storedAt time.Time
	fresh    bool
}

// check validates a put on the actor's goroutine; it reads nothing.
func (a *Actor) check(m *messages.PutBlocks) ([]*item, error) {
	seen := map[string]bool{}
	items := make([]*item, 0, len(m.Blocks))
	for i, b := range m.Blocks {
		if !b.Defined() {
			return nil, fmt.Errorf("dag: block %d is empty", i)
		}
		if b.Size() > a.Config.MaxBlockSize {
			return nil, fmt.Errorf("%w: %s is %d bytes, the limit is %d (dag.max_block_size)",
				messages.ErrBlockTooLarge, b.CID(), b.Size(), a.Config.MaxBlockSize)
		}
		k := string(b.CID().Bytes())
		if seen[k] {
			continue
		}
		seen[k] = true
		links, err := block.Links(b)
		if err != nil {
			return nil, fmt.Errorf("dag: %s: %w", b.CID(), err)
		}
		items = append(items, &item{b: b, key: k, links: links})
	}
	if p := m.Pin; p != nil {
		if err := block.Supported(p.CID); err != nil {
			return nil, fmt.Errorf("dag: pin: %w", err)
		}
		k := p.CID.Bytes()
		if _, stored := a.index[string(k)]; !stored && !seen[string(k)] && a.inflight[string(k)] == nil {
			return nil, fmt.Errorf("%w: pin of %s, which is neither in the put nor stored", messages.ErrBlockNotFound, p.CID)
		}
	}
	if err := a.checkRefs(m.Refs, seen); err != nil {
		return nil, err
	}
	return items, nil
}

// checkRefs validates a put's ref updates against the refs' current values
// (the latest update in flight, else the store).
func (a *Actor) checkRefs(updates []messages.RefUpdate, inPut map[string]bool) error {
	if len(updates) > messages.MaxRefsPerPut {
		return fmt.Errorf("%w: %d ref updates in one put (at most %d)", messages.ErrInvalidRef, len(updates), messages.MaxRefsPerPut)
	}
	names := make(map[string]bool, len(updates))
	for _, u := range updates {
		if err := messages.CheckRefName(u.Name); err != nil {
			return err
		}
		if names[u.Name] {
			return fmt.Errorf("%w: ref %q updated twice in one put", messages.ErrInvalidRef, u.Name)
		}
		names[u.Name] = true
		if u.New.Defined() {
			if err := block.Supported(u.New); err != nil {
				return fmt.Errorf("dag: ref %q: %w", u.Name, err)
			}
			k := u.New.Bytes()
			if _, stored := a.index[string(k)]; !stored && !inPut[string(k)] && a.inflight[string(k)] == nil {
				return fmt.Errorf("%w: ref %q to %s, which is neither in the put nor stored", messages.ErrBlockNotFound, u.Name, u.New)
			}
		}
		cur, err := a.refValue(u.Name)
		if err != nil {
			return err
		}
		if !cur.Equals(u.Old) {
			return fmt.Errorf("%w: ref %q is %s, not %s", messages.ErrRefConflict, u.Name, cidOrNone(cur), cidOrNone(u.Old))
		}
	}
	return nil
}

// refValue is a ref's value as the next update must see it: the latest
// update in flight, or once every update in flight has ended (their
// callers may be answered before the actor hears of it), the store. An
// update that failed must not stand for the value: its caller, told of
// the failure, retries from the stored one.
func (a *Actor) refValue(name string) (cid.Cid, error) {
	if f := a.refs[name]; f != nil && !f.last.ended() { // once the last has ended, so has every one before it
		return f.value, nil
	}
	r, err := a.storedRef(name)
	if errors.Is(err, messages.ErrRefNotFound) {
		return cid.Undef, nil
	}
	return r.cid, err
}

func (a *Actor) storedRef(name string) (ref, error) {
	v, err := a.Store.Get(context.Background(), refKey(name))
	if errors.Is(err, store.ErrNotFound) {
		return ref{}, fmt.Errorf("%w: %q", messages.ErrRefNotFound, name)
	}
	if err != nil {
		return ref{}, fmt.Errorf("dag: ref %q: %w", name, err)
	}
	return decodeRef(v)
}

func cidOrNone(c cid.Cid) string {
	if !c.Defined() {
		return "unset"
	}
	return c.String()
}

func (a *Actor) getRef(name string) (*messages.Ref, error) {
	if err := messages.CheckRefName(name); err != nil {
		return nil, err
	}
	r, err := a.storedRef(name)
	if err != nil {
		return nil, err
	}
	return &messages.Ref{Name: name, CID: r.cid, UpdatedAt: r.updatedAt}, nil
}

func (a *Actor) listRefs(m *messages.ListRefs) (*messages.ListRefsReply, error) {
	limit := m.Limit
	if limit <= 0 || limit > messages.MaxListedRefs {
		limit = messages.MaxListedRefs
	}
	prefix := refKey(m.Prefix)
	var start []byte
	if m.After != "" {
		start = append(refKey(m.After), 0) // the first name after it
	}
	reply := &messages.ListRefsReply{Refs: []messages.Ref{}}
	errFull := errors.New("page full")
	err := a.Store.Scan(context.Background(), prefix, start, func(k, v []byte) error {
		if len(reply.Refs) == limit {
			reply.More = true
			return errFull
		}
		r, err := decodeRef(v)
		if err != nil {
			return err
		}
		reply.Refs = append(reply.Refs, messages.Ref{Name: string(k[len(prefixRef):]), CID: r.cid, UpdatedAt: r.updatedAt})
		return nil
	})
	if err != nil && !errors.Is(err, errFull) {
		return nil, fmt.Errorf("dag: list refs: %w", err)
	}
	return reply, nil
}

// commit writes a put's blocks (and pin) in as few batches as the store's
// limits allow; it runs off the actor's goroutine. It returns how many of
// the items are durable (all of them, unless a batch failed).
func (a *Actor) commit(ctx context.Context, items []*item, p *messages.PinBlock, refs []messages.RefUpdate, now time.Time) (committed int, err error) {
	type batch struct {
		b     *store.Batch
		items int
	}
	var batches []batch
	cur := batch{b: &store.Batch{}}
	fits := func(ops, weight, total int) bool {
		return cur.b.Len()+ops <= store.MaxBatchOps && cur.b.Size()+weight <= store.MaxBatchBytes &&
			cur.b.Total()+total <= store.MaxBatchTotal
	}
	for _, it := range items {
		md := meta{storedAt: it.storedAt, expiresAt: time.Unix(0, it.expires), size: it.b.Size(), links: it.links}
		dk, mk, mv := key(prefixData, it.b.CID()), key(prefixMeta, it.b.CID()), md.encode()
		if cur.b.Len() > 0 && !fits(2, len(dk)+store.Weight(it.b.Size())+len(mk)+len(mv), len(dk)+it.b.Size()+len(mk)+len(mv)) {
			batches = append(batches, cur)
			cur = batch{b: &store.Batch{}}
		}
		cur.b.Put(dk, it.b.Data())
		cur.b.Put(mk, mv)
		cur.items++
	}
	if p != nil {
		pk := key(prefixPin, p.CID)
		pv := pin{recursive: p.Recursive, pinnedAt: now}.encode()
		keep := false
		if !p.Recursive {
			// Never weaken a recursive pin to a direct one.
			if v, err := a.Store.Get(ctx, pk); err == nil {
				if old, err := decodePin(v); err == nil && old.recursive {
					keep = true
				}
			}
		}
		if !keep {
			if cur.b.Len() > 0 && !fits(1, len(pk)+len(pv), len(pk)+len(pv)) {
				batches = append(batches, cur)
				cur = batch{b: &store.Batch{}}
			}
			cur.b.Put(pk, pv) // with the last blocks: the root is pinned once all is stored
		}
	}
	if len(refs) > 0 {
		// Every ref moves in one batch (all or none), the last one.
		var ops, weight int
		for _, u := range refs {
			ops++
			weight += len(prefixRef) + len(u.Name) + 9 + len(u.New.Bytes())
		}
		if cur.b.Len() > 0 && !fits(ops, weight, weight) {
			batches = append(batches, cur)
			cur = batch{b: &store.Batch{}}
		}
		for _, u := range refs {
			if u.New.Defined() {
				cur.b.Put(refKey(u.Name), ref{cid: u.New, updatedAt: now}.encode())
			} else {
				cur.b.Delete(refKey(u.Name))
			}
		}
	}
	if cur.b.Len() > 0 {
		batches = append(batches, cur)
	}
	for _, b := range batches {
		if err := a.Store.Commit(ctx, b.b); err != nil {
			return committed, fmt.Errorf("dag: store %d blocks: %w", len(items), err)
		}
		committed += b.items
	}
	return committed, nil
}

// roots are the CIDs a put pins or points refs at.
func roots(m *messages.PutBlocks) []string {
	var out []string
	if m.Pin != nil {
		out = append(out, string(m.Pin.CID.Bytes()))
	}
	for _, u := range m.Refs {
		if u.New.Defined() {
			out = append(out, string(u.New.Bytes()))
		}
	}
	return out
}

func (a *Actor) putDone(m *putDone) {
	a.putsInFlight--
	for _, r := range m.roots {
		if a.rooted[r]--; a.rooted[r] <= 0 {
			delete(a.rooted, r)
		}
	}
	for _, u := range m.refs {
		if f := a.refs[u.Name]; f != nil {
			if f.count--; f.count <= 0 {
				delete(a.refs, u.Name)
			}
		}
	}
	for _, it := range m.items {
		if f := a.inflight[it.key]; f != nil {
			if f.count--; f.count <= 0 {
				delete(a.inflight, it.key)
			}
		}
	}
	if m.err != nil {
		a.log.ErrorContext(m.ctx, "put failed", "err", m.err, "durable", m.committed, "blocks", len(m.items))
	} else if m.pinned.Defined() {
		a.announce(m.pinned) // durable now: other nodes may ask for it
	}
	for _, it := range m.items[:m.committed] { // what did land is in the store: index it
		old, ok := a.index[it.key]
		if !ok {
			a.blocks++
			a.bytes += int64(it.b.Size())
		}
		a.index[it.key] = indexed{expires: max(it.expires, old.expires), size: int32(it.b.Size())}
	}
	a.Metrics.puts.Add(float64(len(m.items)))
	a.Metrics.blocks.Set(float64(a.blocks))
	a.Metrics.bytes.Set(float64(a.bytes))
}

// get hands a read to the reader goroutines; the actor never waits for it.
func (a *Actor) get(c actor.Context, m *messages.GetBlock) {
	sender := c.Sender()
	if sender == nil {
		return
	}
	if b, ok := a.cache.get(string(m.CID.Bytes())); ok {
		// Served here: handing a cached block to a reader would cost
		// more than the answer itself.
		a.Metrics.gets.Inc()
		a.Metrics.cacheHits.Inc()
		c.Respond(&messages.GetBlockReply{Block: b})
		return
	}
	select {
	case a.readq <- read{ctx: requestContext(c), cid: m.CID, sender: sender, began: time.Now()}:
	default:
		c.Respond(fmt.Errorf("%w: %d reads in flight", messages.ErrBusy, readQueue))
	}
}

// reader serves reads until the queue is closed.
func (a *Actor) reader() {
	for r := range a.readq {
		gen := a.cache.generation() // before the read: see blockCache
		b, err := a.read(r.ctx, r.cid)
		a.Metrics.gets.Inc()
		a.Metrics.ops.WithLabelValues("get").Observe(time.Since(r.began).Seconds())
		if err != nil {
			a.sys.Root.Send(r.sender, err)
			continue
		}
		// Cached before the answer: the caller's next read is a hit.
		a.cache.add(string(r.cid.Bytes()), b, gen)
		a.Metrics.cacheBytes.Set(float64(a.cache.bytes()))
		if r.forPeer {
			a.sys.Root.Send(r.sender, &messages.PeerResponse{Body: b.Data()})
			continue
		}
		a.sys.Root.Send(r.sender, &messages.GetBlockReply{Block: b})
	}
}

// read returns a stored block after checking it still hashes to its CID.
func (a *Actor) read(ctx context.Context, c cid.Cid) (block.Block, error) {
	ctx, cancel := context.WithTimeout(ctx, readTimeout)
	defer cancel()
	data, err := a.Store.Get(ctx, key(prefixData, c))
	if errors.Is(err, store.ErrNotFound) {
		return block.Block{}, fmt.Errorf("%w: %s", messages.ErrBlockNotFound, c)
	}
	if err != nil {
		return block.Block{}, fmt.Errorf("dag: read %s: %w", c, err)
	}
	b, err := block.Verified(c, data)
	if err != nil {
		a.Metrics.corrupt.Inc()
		a.log.ErrorContext(ctx, "corrupt block on disk", "cid", c.String(), "err", err)
		return block.Block{}, fmt.Errorf("%w: %s: %v", messages.ErrCorruptBlock, c, err)
	}
	return b, nil
}

func (a *Actor) metaOf(c cid.Cid) (meta, error) {
	v, err := a.Store.Get(context.Background(), key(prefixMeta, c))
	if errors.Is(err, store.ErrNotFound) {
		return meta{}, fmt.Errorf("%w: %s", messages.ErrBlockNotFound, c)
	}
	if err != nil {
		return meta{}, fmt.Errorf("dag: %w", err)
	}
	return decodeMeta(v)
}

func (a *Actor) pinOf(c cid.Cid) (pin, bool, error) {
	v, err := a.Store.Get(context.Background(), key(prefixPin, c))
	if errors.Is(err, store.ErrNotFound) {
		return pin{}, false, nil
	}
	if err != nil {
		return pin{}, false, fmt.Errorf("dag: %w", err)
	}
	p, err := decodePin(v)
	return p, err == nil, err
}

func (a *Actor) stat(c cid.Cid) (*messages.BlockStat, error) {
	m, err := a.metaOf(c)
	if err != nil {
		return nil, err
	}
	st := &messages.BlockStat{CID: c, Codec: c.Prefix().Codec, Size: m.size, Links: m.links, ExpiresAt: m.expiresAt, StoredAt: m.storedAt}
	if p, ok, err := a.pinOf(c); err != nil {
		return nil, err
	} else if ok {
		st.Pin = pinKind(p.recursive)
	}
	return st, nil
}

func pinKind(recursive bool) string {
	if recursive {
		return "recursive"
	}
	return "direct"
}

func (a *Actor) pin(m *messages.PinBlock) (*messages.PinBlockReply, error) {
	if err := block.Supported(m.CID); err != nil {
		return nil, err
	}
	if _, err := a.metaOf(m.CID); err != nil {
		return nil, err
	}
	if old, ok, err := a.pinOf(m.CID); err != nil {
		return nil, err
	} else if ok && old.recursive && !m.Recursive {
		// Never weaken a recursive pin: the DAG under it would become collectable.
		return &messages.PinBlockReply{Pin: messages.PinInfo{CID: m.CID, Recursive: true, PinnedAt: old.pinnedAt}}, nil
	}
	missing := 0
	if m.Recursive {
		w, err := a.walk(m.CID)
		if err != nil {
			return nil, err
		}
		missing = len(w.Missing)
	}
	p := pin{recursive: m.Recursive, pinnedAt: a.Clock.Now()}
	var b store.Batch
	b.Put(key(prefixPin, m.CID), p.encode())
	if err := a.Store.Commit(context.Background(), &b); err != nil {
		return nil, fmt.Errorf("dag: pin %s: %w", m.CID, err)
	}
	return &messages.PinBlockReply{Pin: messages.PinInfo{CID: m.CID, Recursive: p.recursive, PinnedAt: p.pinnedAt}, Missing: missing}, nil
}

func (a *Actor) unpin(c cid.Cid) (*messages.UnpinBlockReply, error) {
	p, ok, err := a.pinOf(c)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s", messages.ErrNotPinned, c)
	}
	var b store.Batch
	b.Delete(key(prefixPin, c))
	if err := a.Store.Commit(context.Background(), &b); err != nil {
		return nil, fmt.Errorf("dag: unpin %s: %w", c, err)
	}
	return &messages.UnpinBlockReply{Pin: messages.PinInfo{CID: c, Recursive: p.recursive, PinnedAt: p.pinnedAt}}, nil
}

func (a *Actor) listPins() (*messages.ListPinsReply, error) {
	reply := &messages.ListPinsReply{Pins: []messages.PinInfo{}}
	err := a.Store.Scan(context.Background(), prefixPin, nil, func(k, v []byte) error {
		c, err := cidOf(prefixPin, k)
		if err != nil {
			return err
		}
		p, err := decodePin(v)
		if err != nil {
			return err
		}
		reply.Pins = append(reply.Pins, messages.PinInfo{CID: c, Recursive: p.recursive, PinnedAt: p.pinnedAt})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dag: list pins: %w", err)
	}
	return reply, nil
}

// walk lists the DAG under root depth first, parents before children,
// each block once; blocks the node lacks are listed as missing (and not
// descended into).
func (a *Actor) walk(root cid.Cid) (*messages.WalkDAGReply, error) {
	reply := &messages.WalkDAGReply{CIDs: []cid.Cid{}, Missing: []cid.Cid{}}
	seen := map[string]bool{}
	stack := []cid.Cid{root}
	for len(stack) > 0 {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		k := string(c.Bytes())
		if seen[k] {
			continue
		}
		seen[k] = true
		m, err := a.metaOf(c)
		if errors.Is(err, messages.ErrBlockNotFound) {
			reply.Missing = append(reply.Missing, c)
			continue
		}
		if err != nil {
			return nil, err
		}
		reply.CIDs = append(reply.CIDs, c)
		reply.Bytes += int64(m.size)
		for i := len(m.links) - 1; i >= 0; i-- {
			stack = append(stack, m.links[i])
		}
	}
	if len(reply.CIDs) == 0 {
		return nil, fmt.Errorf("%w: %s", messages.ErrBlockNotFound, root)
	}
	return reply, nil
}

func (a *Actor) scheduledGC() {
	began := time.Now()
	r, err := a.collect()
	a.Metrics.ops.WithLabelValues("gc").Observe(time.Since(began).Seconds())
	if err != nil {
		a.log.Error("scheduled gc failed", "err", err)
	} else if r.RemovedCount > 0 {
		a.log.Info("scheduled gc", "removed", r.RemovedCount, "bytes", r.RemovedBytes, "kept", r.Kept, "took", r.Took)
	}
	a.armGC()
}
