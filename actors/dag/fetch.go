package dag

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// peersName is the peer manager's name in the tree: blocks other nodes
// hold are asked for through it.
const peersName = "peers"

// Bounds of fetching from other nodes.
const (
	fetchesInFlight = 64               // single-block fetches at once; more are refused (busy)
	walkParallel    = 8                // blocks of one FetchDAG in flight
	askTimeout      = 5 * time.Second  // one peer asked for one block
	fetchTimeout    = 30 * time.Second // one block, every candidate included
	providersAsked  = 32               // a peer without the block says so at once: asking many is cheap
	storeBatch      = 64               // fetched blocks of a DAG stored in one commit
	storeBytes      = 4 << 20
)

// fetched reports a fetch's outcome to the actor (for the metrics).
type fetched struct {
	owner  *Actor
	result string
}

// fetchOrRead serves a GetBlock with Fetch: a block this node has (or is
// writing) is read as usual; a missing one is fetched off the actor's
// goroutine and kept.
func (a *Actor) fetchOrRead(c actor.Context, m *messages.GetBlock) {
	k := m.CID.Bytes()
	if _, ok := a.index[string(k)]; ok || a.inflight[string(k)] != nil {
		a.get(c, m)
		return
	}
	if a.fetching >= fetchesInFlight {
		c.Respond(fmt.Errorf("%w: %d fetches in flight", messages.ErrBusy, fetchesInFlight))
		return
	}
	if err := block.Supported(m.CID); err != nil {
		c.Respond(fmt.Errorf("dag: fetch: %w", err))
		return
	}
	a.fetching++
	sender, tree, self, sys := c.Sender(), a.tree, a.self, a.sys
	owner, rctx := a, requestContext(c)
	go func() {
		ctx, cancel := context.WithTimeout(rctx, fetchTimeout)
		defer cancel()
		b, from, result, err := fetchBlock(ctx, tree, m.CID, m.Prefer)
		if err == nil {
			// Kept like any put: durable before the answer.
			_, err = tree.Request(ctx, Name, &messages.PutBlocks{Blocks: []block.Block{b}})
		}
		sys.Root.Send(self, &fetched{owner: owner, result: result})
		switch {
		case sender == nil:
		case err != nil:
			sys.Root.Send(sender, err)
		default:
			sys.Root.Send(sender, &messages.GetBlockReply{Block: b, From: from})
		}
	}()
}

// fetchBlock asks the preferred peers, then the candidates the peer
// manager names for c, one after another, until one answers with bytes
// that hash to c; it returns the block and who sent it. The result is the
// metric label: fetched, not_found or corrupt (a peer sent other bytes).
func fetchBlock(ctx context.Context, tree *supervisors.Tree, c cid.Cid, prefer []string) (block.Block, string, string, error) {
	result := "not_found"
	var tried []string
	// The preferred peers first: asking the providers costs a DHT lookup,
	// which a DAG fetch pays once for its root, not for every block.
	if b, p, ok := askEach(ctx, tree, c, prefer, &tried, &result); ok {
		return b, p, "fetched", nil
	}
	ps, err := supervisors.Ask[*messages.Providers](ctx, tree, peersName, &messages.FindProviders{CID: c, Limit: providersAsked})
	if err != nil {
		return block.Block{}, "", "not_found", fmt.Errorf("dag: fetch %s: find providers: %w", c, err)
	}
	rest := slices.DeleteFunc(ps.Peers, func(p string) bool { return slices.Contains(prefer, p) })
	if b, p, ok := askEach(ctx, tree, c, rest, &tried, &result); ok {
		return b, p, "fetched", nil
	}
	return block.Block{}, "", result, fmt.Errorf("%w: %s: no node had it (asked %d: %v)", messages.ErrBlockNotFound, c, len(tried), tried)
}

// askEach asks peers for c in turn until one sends bytes that hash to c.
func askEach(ctx context.Context, tree *supervisors.Tree, c cid.Cid, peers []string, tried *[]string, result *string) (block.Block, string, bool) {
	for _, p := range peers {
		if ctx.Err() != nil {
			break
		}
		r, err := supervisors.Ask[*messages.PeerAnswer](ctx, tree, peersName,
			&messages.AskPeer{Peer: p, Type: messages.WireDAGBlock, Body: c.Bytes(), Timeout: askTimeout})
		if err != nil {
			*tried = append(*tried, p)
			continue
		}
		b, err := block.Verified(c, r.Body)
		if err != nil {
			*result = "corrupt" // that peer lied or its disk rots: try the next
			*tried = append(*tried, p)
			continue
		}
		return b, p, true
	}
	return block.Block{}, "", false
}

// serveBlock answers another node's request for a block this node holds;
// it never fetches on another's behalf.
func (a *Actor) serveBlock(c actor.Context, m *messages.PeerRequestIn) {
	id, err := cid.Cast(m.Body)
	if err != nil {
		c.Respond(fmt.Errorf("dag: bad CID in request: %w", err))
		return
	}
	if b, ok := a.cache.get(string(id.Bytes())); ok {
		c.Respond(&messages.PeerResponse{Body: b.Data()})
		return
	}
	// A block in flight may be durable already: its writer is answered
	// before the actor indexes it, and may have told another node of it
	// (a receipt's output, a payment's entry). The store says.
	if _, ok := a.index[string(id.Bytes())]; !ok && a.inflight[string(id.Bytes())] == nil {
		c.Respond(fmt.Errorf("%w: %s", messages.ErrBlockNotFound, id))
		return
	}
	select {
	case a.readq <- read{ctx: requestContext(c), cid: id, sender: c.Sender(), began: time.Now(), forPeer: true}:
	default:
		c.Respond(fmt.Errorf("%w: %d reads in flight", messages.ErrBusy, readQueue))
	}
}

// fetchDAG walks the DAG under a root, fetching what is missing, off the
// actor's goroutine: each block goes through GetBlock with Fetch, so a
// block this node has is read, not fetched.
func (a *Actor) fetchDAG(c actor.Context, m *messages.FetchDAG) {
	sender, tree, sys, log, metrics := c.Sender(), a.tree, a.sys, a.log, a.Metrics
	ctx := requestContext(c)
	metrics.dagFetches.Inc()
	go func() {
		defer metrics.dagFetches.Dec()
		root := m.Root.String()
		long := false // a fetch that logged its progress logs its end alike
		progress := everyBlocksOrPeriod(progressBlocks, progressPeriod, time.Now, func(done, fetched int) {
			long = true
			log.InfoContext(ctx, "fetching a DAG", "root", root, "blocks", done, "fetched", fetched)
		})
		reply, err := walkAndFetch(ctx, tree, metrics, m.Root, func(done, fetched int) {
			metrics.dagBlocks.Inc()
			progress(done, fetched)
		})
		if err == nil && m.Pin {
			_, err = tree.Request(ctx, Name, &messages.PinBlock{CID: m.Root, Recursive: true})
		}
		level := slog.LevelDebug
		if long {
			level = slog.LevelInfo
		}
		if err != nil {
			log.Log(ctx, level, "DAG fetch failed", "root", root, "err", err)
		} else {
			log.Log(ctx, level, "fetched a DAG", "root", root, "blocks", reply.Blocks, "fetched", reply.Fetched,
				"bytes", reply.Bytes, "took", reply.Took)
		}
		if sender == nil {
			return
		}
		if err != nil {
			sys.Root.Send(sender, err)
			return
		}
		sys.Root.Send(sender, reply)
	}()
}

// A long DAG fetch logs its progress every progressBlocks blocks or every
// progressPeriod, whichever comes first.
const (
	progressBlocks = 1000
	progressPeriod = 5 * time.Second
)

// everyBlocksOrPeriod returns a progress callback that calls report once
// every blocks blocks or once period has passed since the last report,
// whichever comes first. Its callers serialize their calls.
func everyBlocksOrPeriod(blocks int, period time.Duration, now func() time.Time, report func(done, fetched int)) func(done, fetched int) {
	next, last := blocks, now()
	return func(done, fetched int) {
		if t := now(); done >= next || t.Sub(last) >= period {
			report(done, fetched)
			next, last = done+blocks, t
		}
	}
}

// announce tells the network, once the root is durably pinned, that this
// node holds it (a DHT provider record); see announcer.
func (a *Actor) announce(root cid.Cid) {
	if a.announcer != nil {
		a.announcer.add(root)
	}
}

// walkAndFetch gets every block under root (fetching the missing ones),
// walkParallel at a time, each once. The queue of blocks to visit grows
// with the DAG's width, not its goroutines.
//
// Fetched blocks are stored in batches (up to storeBatch blocks or
// storeBytes), one durable commit each, rather than one commit per block;
// the answer waits for the last batch.
func walkAndFetch(ctx context.Context, tree *supervisors.Tree, metrics *Metrics, root cid.Cid, progress func(done, fetched int)) (*messages.FetchDAGReply, error) {
	began := time.Now()
	reply := &messages.FetchDAGReply{Root: root}
	// Each block to visit carries the peers to ask first: the one that
	// sent its parent.
	type job struct {
		c      cid.Cid
		prefer []string
	}
	var (
		mu       sync.Mutex
		wake     = sync.NewCond(&mu)
		pending  = []job{{c: root}}
		seen     = map[string]bool{string(root.Bytes()): true}
		active   int
		firstErr error
		wg       sync.WaitGroup
	)
	var (
		storeMu sync.Mutex // one batch filling at a time; commits may overlap
		batch   []block.Block
		size    int
	)
	store := func(flush bool, b ...block.Block) error {
		storeMu.Lock()
		batch = append(batch, b...)
		for _, x := range b {
			size += x.Size()
		}
		if len(batch) == 0 || (!flush && len(batch) < storeBatch && size < storeBytes) {
			storeMu.Unlock()
			return nil
		}
		full := batch
		batch, size = nil, 0
		storeMu.Unlock()
		_, err := tree.Request(ctx, Name, &messages.PutBlocks{Blocks: full})
		return err
	}
	visit := func(j job) (*messages.GetBlockReply, error) {
		r, err := supervisors.Ask[*messages.GetBlockReply](ctx, tree, Name, &messages.GetBlock{CID: j.c})
		if !errors.Is(err, messages.ErrBlockNotFound) {
			return r, err
		}
		b, from, result, err := fetchBlock(ctx, tree, j.c, j.prefer)
		metrics.fetches.WithLabelValues(result).Inc()
		if err != nil {
			return nil, err
		}
		if err := store(false, b); err != nil {
			return nil, err
		}
		return &messages.GetBlockReply{Block: b, From: from}, nil
	}
	for range walkParallel {
		wg.Go(func() {
			mu.Lock()
			defer mu.Unlock()
			for {
				for len(pending) == 0 && active > 0 && firstErr == nil {
					wake.Wait()
				}
				if len(pending) == 0 || firstErr != nil {
					wake.Broadcast()
					return
				}
				j := pending[len(pending)-1]
				pending = pending[:len(pending)-1]
				active++
				mu.Unlock()
				r, err := visit(j)
				var links []cid.Cid
				if err == nil {
					links, err = block.Links(r.Block)
				}
				mu.Lock()
				active--
				if err != nil {
					if firstErr == nil {
						firstErr = err
					}
					wake.Broadcast()
					continue
				}
				reply.Blocks++
				prefer := j.prefer
				if r.From != "" {
					reply.Fetched++
					reply.Bytes += int64(r.Block.Size())
					prefer = []string{r.From}
				}
				progress(reply.Blocks, reply.Fetched)
				for _, l := range links {
					if k := string(l.Bytes()); !seen[k] {
						seen[k] = true
						pending = append(pending, job{c: l, prefer: prefer})
					}
				}
				wake.Broadcast()
			}
		})
	}
	wg.Wait()
	if firstErr == nil {
		firstErr = store(true)
	}
	if firstErr != nil {
		return nil, fmt.Errorf("dag: fetch the DAG under %s: %w", root, firstErr)
	}
	reply.Took = time.Since(began)
	return reply, nil
}
