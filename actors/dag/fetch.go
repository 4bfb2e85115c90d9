package dag

import (
	"context"
	"fmt"
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
	k := string(m.CID.Bytes())
	if _, ok := a.index[k]; ok || a.inflight[k] != nil {
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
	owner := a
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), fetchTimeout)
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
	ps, err := supervisors.Ask[*messages.Providers](ctx, tree, peersName, &messages.FindProviders{CID: c, Limit: providersAsked})
	if err != nil {
		return block.Block{}, "", "not_found", fmt.Errorf("dag: fetch %s: find providers: %w", c, err)
	}
	candidates := slices.Clone(prefer)
	for _, p := range ps.Peers {
		if !slices.Contains(candidates, p) {
			candidates = append(candidates, p)
		}
	}
	result := "not_found"
	var tried []string
	for _, p := range candidates {
		r, err := supervisors.Ask[*messages.PeerAnswer](ctx, tree, peersName,
			&messages.AskPeer{Peer: p, Type: messages.WireDAGBlock, Body: c.Bytes(), Timeout: askTimeout})
		if err != nil {
			tried = append(tried, p)
			if ctx.Err() != nil {
				break
			}
			continue
		}
		b, err := block.Verified(c, r.Body)
		if err != nil {
			result = "corrupt" // that peer lied or its disk rots: try the next
			tried = append(tried, p)
			continue
		}
		return b, p, "fetched", nil
	}
	return block.Block{}, "", result, fmt.Errorf("%w: %s: no node had it (asked %d: %v)", messages.ErrBlockNotFound, c, len(tried), tried)
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
	if _, ok := a.index[string(id.Bytes())]; !ok {
		c.Respond(fmt.Errorf("%w: %s", messages.ErrBlockNotFound, id))
		return
	}
	select {
	case a.readq <- read{cid: id, sender: c.Sender(), began: time.Now(), forPeer: true}:
	default:
		c.Respond(fmt.Errorf("%w: %d reads in flight", messages.ErrBusy, readQueue))
	}
}

// fetchDAG walks the DAG under a root, fetching what is missing, off the
// actor's goroutine: each block goes through GetBlock with Fetch, so a
// block this node has is read, not fetched.
func (a *Actor) fetchDAG(c actor.Context, m *messages.FetchDAG) {
	sender, tree, sys, log := c.Sender(), a.tree, a.sys, a.log
	go func() {
		reply, err := walkAndFetch(context.Background(), tree, m.Root, func(done, fetched int) {
			if done%1000 == 0 {
				log.Info("fetching a DAG", "root", m.Root.String(), "blocks", done, "fetched", fetched)
			}
		})
		if err == nil && m.Pin {
			_, err = tree.Request(context.Background(), Name, &messages.PinBlock{CID: m.Root, Recursive: true})
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

// announce tells the network that this node holds a pinned root (a DHT
// provider record), through the peer manager; without one, nothing.
func (a *Actor) announce(root cid.Cid) {
	if a.tree == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = a.tree.Send(ctx, peersName, &messages.Provide{CID: root})
}

// walkAndFetch gets every block under root (fetching the missing ones),
// walkParallel at a time, each once. The queue of blocks to visit grows
// with the DAG's width, not its goroutines.
func walkAndFetch(ctx context.Context, tree *supervisors.Tree, root cid.Cid, progress func(done, fetched int)) (*messages.FetchDAGReply, error) {
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
	visit := func(j job) (*messages.GetBlockReply, error) {
		return supervisors.Ask[*messages.GetBlockReply](ctx, tree, Name, &messages.GetBlock{CID: j.c, Fetch: true, Prefer: j.prefer})
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
	if firstErr != nil {
		return nil, fmt.Errorf("dag: fetch the DAG under %s: %w", root, firstErr)
	}
	reply.Took = time.Since(began)
	return reply, nil
}
