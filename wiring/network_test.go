package wiring

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"go.uber.org/fx"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/httpapi"
	"github.com/intercooperative-network/icn-go/services/network/memnet"
	"github.com/intercooperative-network/icn-go/services/runtest"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// federation starts n test-profile nodes on one in-process fabric, each
// bootstrapping from the first (p2p.bootstrap).
func federation(t *testing.T, n int) []*Node {
	t.Helper()
	return federationWith(t, n, nil)
}

// federationWith is federation with tweak (if not nil) applied to node i's
// configuration before it is built.
func federationWith(t *testing.T, n int, tweak func(i int, c *Config)) []*Node {
	t.Helper()
	return federationExtra(t, n, tweak, nil)
}

// federationExtra is federationWith with extra(i) (if not nil) added to
// node i's fx graph.
func federationExtra(t *testing.T, n int, tweak func(i int, c *Config), extra func(i int) []fx.Option) []*Node {
	t.Helper()
	f := memnet.NewFabric()
	t.Cleanup(func() { _ = f.Close() })
	shared := Component{Role: RoleNetwork, Impl: "mocknet", Stub: true, Module: memnet.SharedModule(f)}
	var nodes []*Node
	for i := range n {
		cfg := testConfig(t, ProfileTest)
		if i > 0 {
			cfg.P2P.Bootstrap = []string{nodes[0].Network.(*memnet.Network).Addr().String()}
		}
		if tweak != nil {
			tweak(i, &cfg)
		}
		o := Options{Logger: discard(), Version: "test", Overrides: []Component{shared}}
		if extra != nil {
			o.Extra = extra(i)
		}
		node, err := New(cfg, o)
		if err != nil {
			t.Fatal(err)
		}
		runtest.Start(t, node)
		waitLedgerReady(t, node)
		if i > 0 {
			first := nodes[0].Network.ID().String()
			if err := waitUntil(10*time.Second, func() bool {
				l, err := supervisors.Ask[*messages.PeerList](t.Context(), node.Tree, "peers", &messages.ListPeers{})
				if err != nil {
					return false
				}
				for _, p := range l.Peers {
					if p.PeerID == first && p.Connected {
						return true
					}
				}
				return false
			}); err != nil {
				t.Fatalf("node %d never connected to its bootstrap node", i)
			}
		}
		nodes = append(nodes, node)
	}
	// Each node saw itself connect to the first; the first's peer manager
	// may hear of it later, and a job submitted there meanwhile would be
	// announced to fewer executors than the test started.
	if n > 1 {
		if err := waitUntil(10*time.Second, func() bool {
			l, err := supervisors.Ask[*messages.PeerList](t.Context(), nodes[0].Tree, "peers", &messages.ListPeers{})
			if err != nil {
				return false
			}
			connected := 0
			for _, p := range l.Peers {
				if p.Connected {
					connected++
				}
			}
			return connected >= n-1
		}); err != nil {
			t.Fatalf("the first node does not see the %d others connected", n-1)
		}
	}
	return nodes
}

// chain is a DAG of n dag-cbor nodes, each linking the previous and a raw
// leaf: 2n blocks, root last.
func chain(t *testing.T, n int) []block.Block {
	t.Helper()
	var out []block.Block
	var prev *cid.Cid
	for i := range n {
		leaf, err := block.NewRaw(fmt.Appendf(nil, "leaf %d %s", i, bytes.Repeat([]byte{'x'}, 100)))
		if err != nil {
			t.Fatal(err)
		}
		links := map[string]any{"leaf": block.LinkTo(leaf.CID())}
		if prev != nil {
			links["prev"] = block.LinkTo(*prev)
		}
		node, err := block.Encode(map[string]any{"i": int64(i), "links": links})
		if err != nil {
			t.Fatal(err)
		}
		c := node.CID()
		prev = &c
		out = append(out, leaf, node)
	}
	return out
}

// TestADAGPutOnOneNodeIsFetchedByAnother: 12 nodes; a DAG of 200 blocks
// put on one is fetched completely by another.
func TestADAGPutOnOneNodeIsFetchedByAnother(t *testing.T) {
	nodes := federation(t, 12)
	src, dst := nodes[5], nodes[11] // not directly connected: both know node 0
	blocks := chain(t, 100)
	root := blocks[len(blocks)-1].CID()
	ctx := t.Context()
	if _, err := src.Tree.Request(ctx, "dag", &messages.PutBlocks{Blocks: blocks, Pin: &messages.PinBlock{CID: root, Recursive: true}}); err != nil {
		t.Fatal(err)
	}
	// dst knows src only through node 0 until it learns of it: connect
	// them, as the DHT or a bootstrap list would.
	addr := src.Network.(*memnet.Network).Addr().String()
	if _, err := dst.Tree.Request(ctx, "peers", &messages.ConnectPeer{Addr: addr}); err != nil {
		t.Fatal(err)
	}

	// One block on demand.
	leaf := blocks[0]
	r, err := supervisors.Ask[*messages.GetBlockReply](ctx, dst.Tree, "dag", &messages.GetBlock{CID: leaf.CID(), Fetch: true})
	if err != nil || !bytes.Equal(r.Block.Data(), leaf.Data()) {
		t.Fatalf("fetch one block: %v", err)
	}
	if _, err := supervisors.Ask[*messages.BlockStat](ctx, dst.Tree, "dag", &messages.StatBlock{CID: leaf.CID()}); err != nil {
		t.Fatalf("the fetched block was not kept: %v", err)
	}

	// The whole DAG, pinned.
	rep, err := supervisors.Ask[*messages.FetchDAGReply](ctx, dst.Tree, "dag", &messages.FetchDAG{Root: root, Pin: true})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Blocks != len(blocks) || rep.Fetched != len(blocks)-1 {
		t.Fatalf("fetch the DAG: %+v, want %d blocks, %d fetched", rep, len(blocks), len(blocks)-1)
	}
	for _, b := range blocks {
		got, err := supervisors.Ask[*messages.GetBlockReply](ctx, dst.Tree, "dag", &messages.GetBlock{CID: b.CID()})
		if err != nil || !bytes.Equal(got.Block.Data(), b.Data()) {
			t.Fatalf("block %s after the fetch: %v", b.CID(), err)
		}
	}
	st, err := supervisors.Ask[*messages.BlockStat](ctx, dst.Tree, "dag", &messages.StatBlock{CID: root})
	if err != nil || st.Pin == "" {
		t.Fatalf("root after a pinned fetch: %+v %v", st, err)
	}

	// A block nobody has fails, and says so.
	missing, err := block.NewRaw([]byte("nobody has this"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = dst.Tree.Request(ctx, "dag", &messages.GetBlock{CID: missing.CID(), Fetch: true})
	if !errors.Is(err, messages.ErrBlockNotFound) {
		t.Fatalf("fetch of a block nobody has: %v", err)
	}
}

func TestFetchOverHTTP(t *testing.T) {
	nodes := federation(t, 2)
	blocks := chain(t, 20)
	root := blocks[len(blocks)-1].CID()
	if _, err := nodes[0].Tree.Request(t.Context(), "dag", &messages.PutBlocks{Blocks: blocks, Pin: &messages.PinBlock{CID: root, Recursive: true}}); err != nil {
		t.Fatal(err)
	}
	c := newAPI(t, nodes[1])
	// Without ?fetch the node answers from what it has.
	if code := c.errorCode("GET", "/api/v1/dag/blocks/"+blocks[0].CID().String(), "", nil, 404); code != httpapi.CodeBlockNotFound {
		t.Fatalf("get without fetch: %s", code)
	}
	status, _, body := c.do("GET", "/api/v1/dag/blocks/"+blocks[0].CID().String()+"?fetch=true", "", nil)
	if status != 200 || !bytes.Equal(body, blocks[0].Data()) {
		t.Fatalf("get ?fetch=true: %d %q", status, body)
	}
	var res httpapi.FetchResult
	c.json("POST", "/api/v1/dag/fetch/"+root.String(), "", nil, 200, &res)
	if res.Blocks != len(blocks) || res.Fetched != len(blocks)-1 || !res.Pinned || res.Root != root.String() {
		t.Fatalf("fetch: %+v", res)
	}
	var st httpapi.BlockStat
	c.json("GET", "/api/v1/dag/blocks/"+root.String()+"/stat", "", nil, 200, &st)
	if st.Pin != "recursive" {
		t.Fatalf("root after fetch: %+v", st)
	}
	missing, err := block.NewRaw([]byte("nobody has this"))
	if err != nil {
		t.Fatal(err)
	}
	if code := c.errorCode("POST", "/api/v1/dag/fetch/"+missing.CID().String(), "", nil, 404); code != httpapi.CodeBlockNotFound {
		t.Fatalf("fetch of a DAG nobody has: %s", code)
	}
}
