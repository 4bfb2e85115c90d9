package network_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/multiformats/go-multihash"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/goleak"

	"github.com/intercooperative-network/icn-go/services/identity/keyringtest"
	"github.com/intercooperative-network/icn-go/services/metrics/metricstest"
	"github.com/intercooperative-network/icn-go/services/network"
	"github.com/intercooperative-network/icn-go/services/network/libp2pnet"
	"github.com/intercooperative-network/icn-go/services/network/memnet"
	"github.com/intercooperative-network/icn-go/services/runtest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		goleak.IgnoreTopFunction("github.com/libp2p/go-libp2p/p2p/transport/quicreuse.(*reuse).gc"),
	)
}

// node is a network the tests start and stop.
type node interface {
	network.Network
	Start(context.Context) error
	Stop(context.Context) error
}

// tnode is a started node of a test with its registry and the address
// other nodes bootstrap from.
type tnode struct {
	node
	reg  *prometheus.Registry
	addr string
}

// kind makes started nodes of one implementation; each is stopped when the
// test ends.
type kind struct {
	name  string
	start func(t *testing.T, bootstrap ...string) *tnode
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// startNode starts n and stops it when the test or benchmark ends; reg
// is its registry, or nil.
func startNode(tb testing.TB, n node, reg *prometheus.Registry, addr func() string) *tnode {
	tb.Helper()
	runtest.Start(tb, n)
	return &tnode{node: n, reg: reg, addr: addr()}
}

// memKind runs nodes on one fabric, closed when the test ends.
func memKind(t *testing.T) kind {
	f := memnet.NewFabric()
	t.Cleanup(func() {
		if err := f.Close(); err != nil {
			t.Error(err)
		}
	})
	return kind{name: "memnet", start: func(t *testing.T, bootstrap ...string) *tnode {
		t.Helper()
		reg := prometheus.NewRegistry()
		n, err := memnet.New(f, keyringtest.NewNode(t), memnet.Options{Bootstrap: bootstrap}, reg, quiet())
		if err != nil {
			t.Fatal(err)
		}
		return startNode(t, n, reg, func() string { return n.Addr().String() })
	}}
}

// tcpKind runs production nodes on 127.0.0.1, TCP only, port chosen by the
// kernel.
func tcpKind(*testing.T) kind {
	return kind{name: "libp2p", start: func(t *testing.T, bootstrap ...string) *tnode {
		t.Helper()
		reg := prometheus.NewRegistry()
		n, err := libp2pnet.New(keyringtest.NewNode(t), libp2pnet.Options{Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Bootstrap: bootstrap}, reg, quiet())
		if err != nil {
			t.Fatal(err)
		}
		return startNode(t, n, reg, func() string { return fmt.Sprintf("%s/p2p/%s", n.Addrs()[0], n.ID()) })
	}}
}

func kinds(t *testing.T) []kind { return []kind{memKind(t), tcpKind(t)} }

// waitFor polls cond until it holds or d passes, and returns how long it took.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("%s: not within %s", what, d)
		}
		<-tick.C
	}
	return time.Since(start)
}

func connected(a, b *tnode) bool {
	h := a.Host()
	return h != nil && len(h.Network().ConnsToPeer(b.ID())) > 0
}

// meshed: every node is connected to every other.
func meshed(nodes []*tnode) bool {
	for _, a := range nodes {
		for _, b := range nodes {
			if a != b && !connected(a, b) {
				return false
			}
		}
	}
	return true
}

// cluster starts n nodes of k, all bootstrapping from the first.
func cluster(t *testing.T, k kind, n int) []*tnode {
	t.Helper()
	nodes := []*tnode{k.start(t)}
	for range n - 1 {
		nodes = append(nodes, k.start(t, nodes[0].addr))
	}
	return nodes
}

// inbox collects the gossip every node of a test receives on a topic.
type inbox struct {
	mu  sync.Mutex
	got map[peer.ID][]network.Message
}

func listen(t *testing.T, topic string, nodes []*tnode) *inbox {
	t.Helper()
	b := &inbox{got: map[peer.ID][]network.Message{}}
	var wg sync.WaitGroup
	var cancels []func()
	t.Cleanup(func() {
		for _, c := range cancels {
			c()
		}
		wg.Wait()
	})
	for _, n := range nodes {
		ch, cancel, err := n.Subscribe(topic)
		if err != nil {
			t.Fatal(err)
		}
		id := n.ID()
		wg.Go(func() {
			for m := range ch {
				b.mu.Lock()
				b.got[id] = append(b.got[id], m)
				b.mu.Unlock()
			}
		})
		cancels = append(cancels, cancel)
	}
	return b
}

// has reports whether p received a message whose data starts with prefix.
func (b *inbox) has(p peer.ID, prefix string) (network.Message, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.got[p] {
		if strings.HasPrefix(string(m.Data), prefix) {
			return m, true
		}
	}
	return network.Message{}, false
}

// probe publishes from src until every node of want received one of its
// messages (a fresh one every 100 ms: gossipsub may not yet know a peer's
// subscription), and returns how long that took.
func probe(t *testing.T, b *inbox, topic string, src *tnode, want []*tnode, d time.Duration) time.Duration {
	t.Helper()
	return probeAs(t, "any", b, topic, src, want, d)
}

// probeAs is probe with a label in the payload: "probe-<label>-<src>-<n>/".
func probeAs(t *testing.T, label string, b *inbox, topic string, src *tnode, want []*tnode, d time.Duration) time.Duration {
	t.Helper()
	tag := fmt.Sprintf("probe-%s-%s-%d/", label, src.ID(), time.Now().UnixNano())
	var sent int
	var last time.Time
	return waitFor(t, d, "gossip probe from "+src.ID().String()+" on "+topic, func() bool {
		if time.Since(last) > 100*time.Millisecond {
			sent++
			last = time.Now()
			if err := src.Publish(t.Context(), topic, fmt.Appendf(nil, "%s%d", tag, sent)); err != nil {
				t.Fatal(err)
			}
		}
		for _, n := range want {
			if n != src {
				if _, ok := b.has(n.ID(), tag); !ok {
					return false
				}
			}
		}
		return true
	})
}

func TestMemnetDiscoveryFromOneBootstrapNode(t *testing.T) {
	for _, size := range []int{3, 12} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			k := memKind(t)
			nodes := cluster(t, k, size)
			took := waitFor(t, 10*time.Second, "every node connected to every other", func() bool { return meshed(nodes) })
			t.Logf("%d memnet nodes fully connected %s after the last one started", size, took.Round(time.Millisecond))
			for _, n := range nodes {
				if got := len(n.Connected()); got != size-1 {
					t.Errorf("%s: %d peers, want %d", n.ID(), got, size-1)
				}
			}
		})
	}
}

func TestGossipReachesAllTwelveOnEveryTopic(t *testing.T) {
	nodes := cluster(t, memKind(t), 12)
	waitFor(t, 10*time.Second, "mesh", func() bool { return meshed(nodes) })
	for i, topic := range network.Topics() {
		b := listen(t, topic, nodes)
		src := nodes[(i*5)%len(nodes)]
		took := probe(t, b, topic, src, nodes, 5*time.Second)
		t.Logf("%s: a probe reached all 12 nodes in %s", topic, took.Round(time.Millisecond))
		for _, n := range nodes {
			m, ok := b.has(n.ID(), "probe-")
			if n == src {
				if ok {
					t.Errorf("%s: the publisher got its own message back", topic)
				}
				continue
			}
			if m.Topic != topic || m.From != src.ID() || m.ReceivedFrom == "" {
				t.Errorf("%s: message %+v", topic, m)
			}
			want, err := src.PublicKey(src.ID())
			if err != nil || m.FromKey == nil || !m.FromKey.Equals(want) {
				t.Errorf("%s: author key %v, want %v (%v)", topic, m.FromKey, want, err)
			}
		}
	}
}

func TestGossipRefusesUnknownTopicsAndOversizeMessages(t *testing.T) {
	n := memKind(t).start(t)
	if err := n.Publish(t.Context(), "icn/other/1", []byte("x")); !errors.Is(err, network.ErrUnknownTopic) {
		t.Errorf("publish on an unknown topic: %v", err)
	}
	if _, _, err := n.Subscribe("icn/other/1"); !errors.Is(err, network.ErrUnknownTopic) {
		t.Errorf("subscribe to an unknown topic: %v", err)
	}
	if err := n.Publish(t.Context(), network.TopicJobs, make([]byte, network.MaxGossipSize+1)); !errors.Is(err, network.ErrTooLarge) {
		t.Errorf("oversize gossip: %v", err)
	}
	if err := n.Publish(t.Context(), network.TopicJobs, make([]byte, network.MaxGossipSize)); err != nil {
		t.Errorf("gossip of exactly the limit: %v", err)
	}
}

func TestGossipCarriesAMaximalMessage(t *testing.T) {
	for _, k := range kinds(t) {
		t.Run(k.name, func(t *testing.T) {
			nodes := cluster(t, k, 2)
			waitFor(t, 5*time.Second, "connected", func() bool { return meshed(nodes) })
			b := listen(t, network.TopicBlocks, nodes)
			data := append([]byte("big/"), bytes.Repeat([]byte{0xab}, network.MaxGossipSize-4)...)
			waitFor(t, 5*time.Second, "a 1 MiB message delivered", func() bool {
				if _, ok := b.has(nodes[1].ID(), "big/"); ok {
					return true
				}
				if err := nodes[0].Publish(t.Context(), network.TopicBlocks, data); err != nil {
					t.Fatal(err)
				}
				return false
			})
			m, _ := b.has(nodes[1].ID(), "big/")
			if !bytes.Equal(m.Data, data) {
				t.Fatalf("got %d bytes", len(m.Data))
			}
		})
	}
}

// echo serves "echo:<data>", "fail:<text>" as a handler error, "big" as a
// reply over the limit, and "slow" by waiting for its context.
func echo(ctx context.Context, from peer.ID, data []byte) ([]byte, error) {
	switch s := string(data); {
	case strings.HasPrefix(s, "fail:"):
		return nil, errors.New(strings.TrimPrefix(s, "fail:"))
	case s == "big":
		return make([]byte, network.MaxRPCSize+1), nil
	case s == "slow":
		<-ctx.Done()
		return nil, ctx.Err()
	case s == "panic":
		panic("handler bug")
	case s == "who":
		return []byte(from.String()), nil
	case len(data) > 1<<10:
		return fmt.Appendf(nil, "%d bytes", len(data)), nil
	}
	return append([]byte("echo:"), data...), nil
}

func TestRPC(t *testing.T) {
	for _, k := range kinds(t) {
		t.Run(k.name, func(t *testing.T) {
			nodes := cluster(t, k, 2)
			a, b := nodes[0], nodes[1]
			b.Handle(echo)
			ctx := t.Context()
			waitFor(t, 5*time.Second, "connected", func() bool { return meshed(nodes) })

			// Before a handler is set: a typed "no handler" error.
			_, err := b.Request(ctx, a.ID(), []byte("hi"))
			var re *network.RemoteError
			if !errors.As(err, &re) || re.Code != network.RemoteNoHandler || re.Peer != a.ID() {
				t.Fatalf("no handler: %v", err)
			}

			if got, err := a.Request(ctx, b.ID(), []byte("hi")); err != nil || string(got) != "echo:hi" {
				t.Fatalf("request: %q, %v", got, err)
			}
			if got, err := a.Request(ctx, b.ID(), nil); err != nil || string(got) != "echo:" {
				t.Fatalf("empty request: %q, %v", got, err)
			}
			if got, err := a.Request(ctx, b.ID(), []byte("who")); err != nil || string(got) != a.ID().String() {
				t.Fatalf("the handler saw the caller as %q (%v), want %s", got, err, a.ID())
			}
			// A request of exactly the limit goes through. It is 16 MiB:
			// on a loaded 2-core machine under the race detector that
			// takes longer than the other requests' deadline.
			max := bytes.Repeat([]byte{1}, network.MaxRPCSize)
			bigCtx, cancelBig := context.WithTimeout(t.Context(), time.Minute)
			got, err := a.Request(bigCtx, b.ID(), max)
			cancelBig()
			if err != nil || string(got) != fmt.Sprintf("%d bytes", network.MaxRPCSize) {
				t.Fatalf("request at the limit: %q, %v", got, err)
			}

			_, err = a.Request(ctx, b.ID(), []byte("fail:no such job"))
			if !errors.As(err, &re) || re.Code != network.RemoteHandlerError || re.Message != "no such job" || re.Peer != b.ID() {
				t.Fatalf("remote error: %v", err)
			}
			if errors.Is(err, network.ErrTooLarge) || errors.Is(err, network.ErrPeerUnreachable) {
				t.Fatalf("a handler error matches a transport error: %v", err)
			}
			_, err = a.Request(ctx, b.ID(), []byte("panic"))
			if !errors.As(err, &re) || !strings.Contains(re.Message, "handler bug") {
				t.Fatalf("panicking handler: %v", err)
			}

			_, err = a.Request(ctx, b.ID(), make([]byte, network.MaxRPCSize+1))
			if !errors.Is(err, network.ErrTooLarge) || errors.As(err, &re) {
				t.Fatalf("oversize request: %v", err)
			}
			_, err = a.Request(ctx, b.ID(), []byte("big"))
			if !errors.Is(err, network.ErrTooLarge) || !errors.As(err, &re) || re.Code != network.RemoteTooLarge {
				t.Fatalf("oversize reply: %v", err)
			}

			dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			start := time.Now()
			_, err = a.Request(dctx, b.ID(), []byte("slow"))
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
				t.Fatalf("deadline: %v after %s", err, time.Since(start))
			}
			cctx, cancel := context.WithCancel(ctx)
			time.AfterFunc(50*time.Millisecond, cancel)
			if _, err := a.Request(cctx, b.ID(), []byte("slow")); !errors.Is(err, context.Canceled) {
				t.Fatalf("cancel: %v", err)
			}

			if _, err := a.Request(ctx, a.ID(), []byte("hi")); !errors.Is(err, network.ErrSelf) {
				t.Fatalf("request to self: %v", err)
			}
			// Still healthy after all that.
			if got, err := a.Request(ctx, b.ID(), []byte("again")); err != nil || string(got) != "echo:again" {
				t.Fatalf("request after errors: %q, %v", got, err)
			}
		})
	}
}

// TestRPCServerRefusesAnOversizeFrame speaks the wire protocol by hand: a
// frame header announcing more than the limit gets a too-large error frame
// without the server reading (or allocating) the body.
func TestRPCServerRefusesAnOversizeFrame(t *testing.T) {
	nodes := cluster(t, memKind(t), 2)
	a, b := nodes[0], nodes[1]
	b.Handle(echo)
	s, err := a.Host().NewStream(t.Context(), b.ID(), network.ProtocolRPC)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Write(binary.AppendUvarint([]byte{1}, network.MaxRPCSize+1)); err != nil {
		t.Fatal(err)
	}
	if err := s.CloseWrite(); err != nil {
		t.Fatal(err)
	}
	reply, err := io.ReadAll(s)
	if err != nil {
		t.Fatal(err)
	}
	if len(reply) < 3 || reply[0] != 3 || reply[2] != byte(network.RemoteTooLarge) {
		t.Fatalf("reply %q", reply)
	}
}

func TestRequestToAVanishedPeerFailsFast(t *testing.T) {
	for _, k := range kinds(t) {
		t.Run(k.name, func(t *testing.T) {
			nodes := cluster(t, k, 2)
			a, b := nodes[0], nodes[1]
			b.Handle(echo)
			waitFor(t, 5*time.Second, "connected", func() bool { return meshed(nodes) })
			if _, err := a.Request(t.Context(), b.ID(), []byte("hi")); err != nil {
				t.Fatal(err)
			}
			if err := b.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			for i := range 2 { // the first dial and the one after it
				ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
				start := time.Now()
				_, err := a.Request(ctx, b.ID(), []byte("hi"))
				took := time.Since(start)
				cancel()
				if !errors.Is(err, network.ErrPeerUnreachable) || took > 2*time.Second {
					t.Fatalf("request %d to a stopped peer: %v after %s", i, err, took)
				}
				t.Logf("request %d to a stopped peer failed in %s: %v", i, took.Round(time.Microsecond), err)
			}
		})
	}
}

func TestPeerEventsPingAndKeys(t *testing.T) {
	for _, k := range kinds(t) {
		t.Run(k.name, func(t *testing.T) {
			a := k.start(t)
			events, cancel := a.Events()
			defer cancel()
			b := k.start(t, a.addr)
			next := func() network.PeerEvent {
				t.Helper()
				select {
				case e := <-events:
					return e
				case <-time.After(10 * time.Second):
					t.Fatal("no peer event")
				}
				return network.PeerEvent{}
			}
			if e := next(); e.Kind != network.PeerConnected || e.Peer != b.ID() {
				t.Fatalf("event %+v, want %s connected", e, b.ID())
			}
			rtt, err := a.Ping(t.Context(), b.ID())
			if err != nil || rtt <= 0 {
				t.Fatalf("ping: %s, %v", rtt, err)
			}
			if a.RTT(b.ID()) <= 0 {
				t.Errorf("no RTT average after a ping")
			}
			if _, err := a.Ping(t.Context(), a.ID()); !errors.Is(err, network.ErrSelf) {
				t.Errorf("ping self: %v", err)
			}
			key, err := a.PublicKey(b.ID())
			if err != nil {
				t.Fatal(err)
			}
			if id, err := peer.IDFromPublicKey(key); err != nil || id != b.ID() {
				t.Errorf("key of %s is that of %s (%v)", b.ID(), id, err)
			}
			if err := b.Stop(context.Background()); err != nil {
				t.Fatal(err)
			}
			if e := next(); e.Kind != network.PeerDisconnected || e.Peer != b.ID() {
				t.Fatalf("event %+v, want %s disconnected", e, b.ID())
			}
		})
	}
}

func TestBlockAndUnblock(t *testing.T) {
	for _, k := range kinds(t) {
		t.Run(k.name, func(t *testing.T) {
			nodes := cluster(t, k, 2)
			a, b := nodes[0], nodes[1]
			a.Handle(echo)
			b.Handle(echo)
			waitFor(t, 5*time.Second, "connected", func() bool { return meshed(nodes) })
			if err := a.Block(b.ID()); err != nil {
				t.Fatal(err)
			}
			if got := a.Blocked(); len(got) != 1 || got[0] != b.ID() {
				t.Fatalf("blocked %v", got)
			}
			waitFor(t, 5*time.Second, "disconnected", func() bool { return !connected(a, b) && !connected(b, a) })
			if _, err := a.Request(t.Context(), b.ID(), []byte("hi")); !errors.Is(err, network.ErrPeerUnreachable) {
				t.Fatalf("request to a blocked peer: %v", err)
			}
			// The other side cannot get through either.
			if _, err := b.Request(t.Context(), a.ID(), []byte("hi")); err == nil {
				t.Fatal("a blocked peer reached us")
			}
			if connected(a, b) {
				t.Fatal("a blocked peer is connected")
			}
			if err := a.Unblock(b.ID()); err != nil {
				t.Fatal(err)
			}
			took := waitFor(t, 10*time.Second, "reconnected by the redial loop", func() bool { return meshed(nodes) })
			t.Logf("reconnected %s after unblocking", took.Round(time.Millisecond))
			if got, err := a.Request(t.Context(), b.ID(), []byte("hi")); err != nil || string(got) != "echo:hi" {
				t.Fatalf("request after unblock: %q, %v", got, err)
			}
		})
	}
}

func TestProvidersThroughTheDHT(t *testing.T) {
	nodes := cluster(t, memKind(t), 4)
	waitFor(t, 10*time.Second, "mesh", func() bool { return meshed(nodes) })
	h, err := multihash.Sum([]byte("a block"), multihash.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	c := cid.NewCidV1(cid.Raw, h)
	if err := nodes[1].Provide(t.Context(), c); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	provs, err := nodes[3].FindProviders(ctx, c, 5)
	if err != nil || len(provs) != 1 || provs[0].ID != nodes[1].ID() {
		t.Fatalf("providers %v, %v", provs, err)
	}
}

// TestPartitionAndHeal splits 12 nodes into two halves while gossip flows,
// checks nothing crosses, heals, and measures how long until every node is
// connected to all its usual peers again and a probe reaches all 12.
func TestPartitionAndHeal(t *testing.T) {
	f := memnet.NewFabric()
	t.Cleanup(func() { _ = f.Close() })
	var nodes []*tnode
	for i := range 12 {
		reg := prometheus.NewRegistry()
		var boot []string
		if i > 0 {
			boot = []string{nodes[0].addr}
		}
		n, err := memnet.New(f, keyringtest.NewNode(t), memnet.Options{Bootstrap: boot}, reg, quiet())
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, startNode(t, n, reg, func() string { return n.Addr().String() }))
	}
	waitFor(t, 10*time.Second, "mesh", func() bool { return meshed(nodes) })
	b := listen(t, network.TopicJobs, nodes)
	probe(t, b, network.TopicJobs, nodes[0], nodes, 5*time.Second)

	left, right := nodes[:6], nodes[6:]
	ids := func(ns []*tnode) (out []peer.ID) {
		for _, n := range ns {
			out = append(out, n.ID())
		}
		return out
	}
	if err := f.Partition(ids(left), ids(right)); err != nil {
		t.Fatal(err)
	}
	crossed := func() bool {
		for _, x := range left {
			for _, y := range right {
				if connected(x, y) || connected(y, x) {
					return true
				}
			}
		}
		return false
	}
	if crossed() {
		t.Fatal("connections cross the partition")
	}

	// Gossip keeps flowing on both sides for 10 s (the figure),
	// long enough for the redial backoff to reach its 5 s cap; 4 s in the
	// -short (race) run.
	partitionFor := 10 * time.Second
	if testing.Short() {
		partitionFor = 4 * time.Second
	}
	var tags []string
	for start := time.Now(); time.Since(start) < partitionFor; {
		for _, side := range [][]*tnode{left, right} {
			src := side[len(tags)%len(side)]
			probeAs(t, "split", b, network.TopicJobs, src, side, 5*time.Second)
			tags = append(tags, src.ID().String())
		}
		if crossed() {
			t.Fatal("a connection crossed the partition")
		}
	}
	for i, side := range [][]*tnode{left, right} {
		other := [][]*tnode{right, left}[i]
		for _, src := range side {
			for _, dst := range other {
				if m, ok := b.has(dst.ID(), "probe-split-"+src.ID().String()); ok {
					t.Fatalf("gossip crossed the partition: %s got %q from %s via %s; left %v", dst.ID(), m.Data, m.From, m.ReceivedFrom, ids(left))
				}
			}
		}
	}
	t.Logf("partition held for %s with %d probes delivered on each side", partitionFor, len(tags)/2)

	start := time.Now()
	if err := f.Heal(ids(left), ids(right)); err != nil {
		t.Fatal(err)
	}
	reconnected := waitFor(t, 15*time.Second, "every node reconnected to its usual peers", func() bool { return meshed(nodes) })
	probe(t, b, network.TopicJobs, left[0], nodes, 10*time.Second)
	healed := time.Since(start)
	t.Logf("heal: every node reconnected after %s; a probe reached all 12 after %s", reconnected.Round(time.Millisecond), healed.Round(time.Millisecond))
	// The bound is 5 s. Under -short (the race-detector run of
	// make test, several times slower, often beside other builds on two
	// cores) it is the original plan's 30 s; the measured figures are in
	// docs/benchmarks.md.
	bound := 5 * time.Second
	if testing.Short() {
		bound = 30 * time.Second
	}
	if healed > bound {
		t.Errorf("recovery took %s, the goal is under %s", healed, bound)
	}
}

func TestMetrics(t *testing.T) {
	nodes := cluster(t, memKind(t), 2)
	a, b := nodes[0], nodes[1]
	b.Handle(echo)
	waitFor(t, 5*time.Second, "connected", func() bool { return meshed(nodes) })
	if _, err := a.Request(t.Context(), b.ID(), []byte("hello")); err != nil {
		t.Fatal(err)
	}
	inb := listen(t, network.TopicGov, nodes)
	probe(t, inb, network.TopicGov, a, nodes, 5*time.Second)

	value := func(n *tnode, name string, labels map[string]string) float64 {
		t.Helper()
		v, found, err := metricstest.Value(n.reg, name, labels)
		if err != nil || !found {
			t.Fatalf("no %s%v: %v", name, labels, err)
		}
		return v
	}
	checks := []struct {
		n      *tnode
		name   string
		labels map[string]string
	}{
		{a, "icn_peers_connected", nil},
		{a, "icn_network_messages_total", map[string]string{"topic": "rpc", "direction": "out"}},
		{a, "icn_network_messages_total", map[string]string{"topic": "rpc", "direction": "in"}},
		{b, "icn_network_messages_total", map[string]string{"topic": "rpc", "direction": "in"}},
		{a, "icn_network_messages_total", map[string]string{"topic": network.TopicGov, "direction": "out"}},
		{b, "icn_network_messages_total", map[string]string{"topic": network.TopicGov, "direction": "in"}},
		{a, "icn_network_bytes_total", map[string]string{"direction": "out"}},
		{b, "icn_network_bytes_total", map[string]string{"direction": "in"}},
	}
	for _, c := range checks {
		if v := value(c.n, c.name, c.labels); v <= 0 {
			t.Errorf("%s%v = %v", c.name, c.labels, v)
		}
	}
	if v := value(a, "icn_network_messages_total", map[string]string{"topic": network.TopicJobs, "direction": "in"}); v != 0 {
		t.Errorf("jobs in = %v before any jobs gossip", v)
	}
}

func TestNotStartedAndRestart(t *testing.T) {
	f := memnet.NewFabric()
	defer func() { _ = f.Close() }()
	id := keyringtest.NewNode(t)
	want, _ := id.PeerID()
	n, err := memnet.New(f, id, memnet.Options{}, prometheus.NewRegistry(), quiet())
	if err != nil {
		t.Fatal(err)
	}
	if n.ID() != want || n.Host() != nil || n.Addrs() != nil || n.Connected() != nil {
		t.Fatalf("before start: id %s (want %s), host %v", n.ID(), want, n.Host())
	}
	if _, err := n.Request(t.Context(), want, nil); !errors.Is(err, network.ErrNotStarted) {
		t.Errorf("request before start: %v", err)
	}
	if err := n.Publish(t.Context(), network.TopicJobs, nil); !errors.Is(err, network.ErrNotStarted) {
		t.Errorf("publish before start: %v", err)
	}
	for range 2 {
		if err := n.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n.Host() == nil || n.Host().ID() != want || len(n.Addrs()) == 0 {
			t.Fatalf("after start: host %v, addrs %v", n.Host(), n.Addrs())
		}
		msgs, cancel, err := n.Subscribe(network.TopicGov)
		if err != nil {
			t.Fatal(err)
		}
		events, cancelEvents := n.Events()
		for range 2 {
			if err := n.Stop(context.Background()); err != nil || n.Host() != nil {
				t.Fatalf("stop: %v", err)
			}
		}
		if _, ok := <-msgs; ok {
			t.Fatal("subscription open after stop")
		}
		if _, ok := <-events; ok {
			t.Fatal("events open after stop")
		}
		cancel()
		cancelEvents()
	}
	// The same registry cannot take a second network's metrics.
	reg := prometheus.NewRegistry()
	if _, err := memnet.New(f, keyringtest.NewNode(t), memnet.Options{}, reg, quiet()); err != nil {
		t.Fatal(err)
	}
	if _, err := memnet.New(f, keyringtest.NewNode(t), memnet.Options{}, reg, quiet()); err == nil {
		t.Fatal("two networks registered on one registry")
	}
}

func TestOptionsAreChecked(t *testing.T) {
	log := quiet()
	bad := []libp2pnet.Options{
		{},
		{Listen: []string{"0.0.0.0:4001"}},
		{Listen: []string{"/ip4/0.0.0.0/tcp/4001/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"}},
		{Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Bootstrap: []string{"/ip4/127.0.0.1/tcp/4001"}},
		{Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Bootstrap: []string{"not an address"}},
	}
	for _, o := range bad {
		if _, err := libp2pnet.New(keyringtest.NewNode(t), o, prometheus.NewRegistry(), log); err == nil {
			t.Errorf("options %+v accepted", o)
		}
	}
	f := memnet.NewFabric()
	defer func() { _ = f.Close() }()
	if _, err := memnet.New(f, keyringtest.NewNode(t), memnet.Options{Bootstrap: []string{"/ip6/100::1/tcp/4001"}}, prometheus.NewRegistry(), log); err == nil {
		t.Error("memnet bootstrap without a peer id accepted")
	}
}

// TestBlockHealOverTCP is the production path of a partition: libp2p hosts
// on 127.0.0.1 split in two by each side blocking the other (connection
// gater plus disconnect), then unblocked.
func TestBlockHealOverTCP(t *testing.T) {
	nodes := cluster(t, tcpKind(t), 6)
	waitFor(t, 10*time.Second, "mesh", func() bool { return meshed(nodes) })
	b := listen(t, network.TopicJobs, nodes)
	probe(t, b, network.TopicJobs, nodes[0], nodes, 5*time.Second)
	left, right := nodes[:3], nodes[3:]
	ids := func(ns []*tnode) (out []peer.ID) {
		for _, n := range ns {
			out = append(out, n.ID())
		}
		return out
	}
	for i, side := range [][]*tnode{left, right} {
		for _, n := range side {
			if err := n.Block(ids([][]*tnode{right, left}[i])...); err != nil {
				t.Fatal(err)
			}
		}
	}
	waitFor(t, 5*time.Second, "split", func() bool {
		for _, x := range left {
			for _, y := range right {
				if connected(x, y) || connected(y, x) {
					return false
				}
			}
		}
		return true
	})
	for _, side := range [][]*tnode{left, right} {
		probeAs(t, "split", b, network.TopicJobs, side[0], side, 5*time.Second)
	}
	for _, x := range left {
		for _, y := range right {
			if _, ok := b.has(y.ID(), "probe-split-"+x.ID().String()); ok {
				t.Fatal("gossip crossed")
			}
		}
	}
	start := time.Now()
	for i, side := range [][]*tnode{left, right} {
		for _, n := range side {
			if err := n.Unblock(ids([][]*tnode{right, left}[i])...); err != nil {
				t.Fatal(err)
			}
		}
	}
	reconnected := waitFor(t, 10*time.Second, "reconnected", func() bool { return meshed(nodes) })
	probe(t, b, network.TopicJobs, left[0], nodes, 10*time.Second)
	t.Logf("tcp heal: reconnected after %s; a probe reached all 6 after %s", reconnected.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
}

// TestFxModules assembles memnet nodes the way the wiring does: the
// one-node Module, and two nodes on a shared fabric that find each other
// from a bootstrap address in their Options.
func TestFxModules(t *testing.T) {
	app := func(t *testing.T, mod fx.Option, extra ...fx.Option) network.Network {
		t.Helper()
		var n network.Network
		opts := append([]fx.Option{
			fx.NopLogger,
			fx.Supply(keyringtest.NewNode(t), quiet()),
			fx.Provide(func() prometheus.Registerer { return prometheus.NewRegistry() }),
			mod,
			fx.Populate(&n),
		}, extra...)
		a := fx.New(opts...)
		if err := a.Err(); err != nil {
			t.Fatal(err)
		}
		runtest.Start(t, a)
		return n
	}
	if n := app(t, memnet.Module); n.Host() == nil {
		t.Fatal("memnet.Module did not start the node")
	}
	f := memnet.NewFabric()
	t.Cleanup(func() { _ = f.Close() })
	first := app(t, memnet.SharedModule(f))
	boot := first.(*memnet.Network).Addr().String()
	second := app(t, memnet.SharedModule(f), fx.Supply(memnet.Options{Bootstrap: []string{boot}}))
	waitFor(t, 5*time.Second, "connected through fx-built nodes", func() bool {
		return len(second.Connected()) == 1 && second.Connected()[0] == first.ID()
	})
}
