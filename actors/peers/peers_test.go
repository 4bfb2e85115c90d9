package peers

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"go.uber.org/goleak"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/envelope"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/clock/clocktest"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/identity/keyringtest"
	"github.com/intercooperative-network/icn-go/services/network"
	"github.com/intercooperative-network/icn-go/services/network/memnet"
	"github.com/intercooperative-network/icn-go/supervisors"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
		goleak.IgnoreAnyFunction("github.com/golang/glog.(*fileSink).flushDaemon"),
		// libp2p's process-wide workers (the resource manager's and the
		// mocknet's) outlive any one host.
		goleak.IgnoreTopFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		goleak.IgnoreAnyFunction("github.com/libp2p/go-libp2p/p2p/net/mock.(*peernet).setupConn"),
	)
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// node is one node: an identity, a memnet network and a tree with the
// peers actor.
type node struct {
	id      *identity.Identity
	net     *memnet.Network
	tree    *supervisors.Tree
	metrics *Metrics
}

func (n *node) peerID() string { return n.net.ID().String() }

func newNode(t *testing.T, f *memnet.Fabric, id *identity.Identity) *node {
	t.Helper()
	return newNodeWith(t, f, id, nil)
}

// newNodeWith is newNode with tweak (if not nil) applied to the actor's
// dependencies.
func newNodeWith(t *testing.T, f *memnet.Fabric, id *identity.Identity, tweak func(*Deps)) *node {
	t.Helper()
	if id == nil {
		var err error
		if id, err = identity.Generate(rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	net, err := memnet.New(f, id, memnet.Options{}, reg, discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := net.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	breaker := BreakerConfig{Failures: 2, OpenTimeout: 50 * time.Millisecond, MaxOpen: 200 * time.Millisecond}
	deps := Deps{Network: net, Identity: id, Clock: clock.Real{}, Metrics: m, Logger: discard(), Breaker: breaker}
	if tweak != nil {
		tweak(&deps)
	}
	producer, err := New(deps)
	if err != nil {
		t.Fatal(err)
	}
	d := supervisors.ProductionDefaults()
	d.Intensity, d.Period = 1000, time.Minute
	d.Backoff.Initial, d.Backoff.Max = time.Millisecond, 5*time.Millisecond
	tree, err := supervisors.New(supervisors.Spec{Name: "icn", Children: []supervisors.ChildSpec{
		{Name: Name, Restart: supervisors.Permanent, New: producer},
	}}, discard(), reg, supervisors.WithDefaults(d))
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	n := &node{id: id, net: net, tree: tree, metrics: m}
	t.Cleanup(func() {
		if err := tree.Stop(context.Background()); err != nil {
			t.Error(err)
		}
		if err := net.Stop(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return n
}

func fabric(t *testing.T) *memnet.Fabric {
	f := memnet.NewFabric()
	t.Cleanup(func() { _ = f.Close() })
	return f
}

func ask[R any](t *testing.T, n *node, msg any) R {
	t.Helper()
	r, err := supervisors.Ask[R](context.Background(), n.tree, Name, msg)
	if err != nil {
		t.Fatalf("%T: %v", msg, err)
	}
	return r
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, what string, within time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// rowOf is n's peer table row for p (zero if none).
func rowOf(t *testing.T, n *node, p string) messages.PeerInfo {
	t.Helper()
	for _, i := range ask[*messages.PeerList](t, n, &messages.ListPeers{}).Peers {
		if i.PeerID == p {
			return i
		}
	}
	return messages.PeerInfo{}
}

// observations is how many times an icn_rpc_duration_seconds series was
// observed.
func observations(t *testing.T, n *node, method, side string) uint64 {
	t.Helper()
	var d dto.Metric
	if err := n.metrics.rpc.WithLabelValues(method, side).(prometheus.Metric).Write(&d); err != nil {
		t.Fatal(err)
	}
	return d.GetHistogram().GetSampleCount()
}

func connectedTo(t *testing.T, n *node, p string) bool {
	for _, i := range ask[*messages.PeerList](t, n, &messages.ListPeers{}).Peers {
		if i.PeerID == p {
			return i.Connected
		}
	}
	return false
}

func TestConnectPingAndTable(t *testing.T) {
	f := fabric(t)
	a, b := newNode(t, f, nil), newNode(t, f, nil)
	info := ask[messages.PeerInfo](t, a, &messages.ConnectPeer{Addr: b.net.Addr().String()})
	if info.PeerID != b.peerID() || !info.Connected || info.DID != string(b.id.DID()) {
		t.Fatalf("connect: %+v", info)
	}
	eventually(t, "b sees a", 5*time.Second, func() bool { return connectedTo(t, b, a.peerID()) })
	r := ask[*messages.PeerAnswer](t, a, &messages.AskPeer{Peer: b.peerID(), Type: messages.WirePing, Body: []byte("hello")})
	if !bytes.Equal(r.Body, []byte("hello")) || r.Peer != b.peerID() {
		t.Fatalf("ping: %+v", r)
	}
	var row messages.PeerInfo
	for _, i := range ask[*messages.PeerList](t, a, &messages.ListPeers{}).Peers {
		if i.PeerID == b.peerID() {
			row = i
		}
	}
	if row.MessagesOut != 1 || row.MessagesIn != 1 || row.Breaker != stateClosed || row.Since.IsZero() || len(row.Addrs) == 0 {
		t.Fatalf("a's row for b: %+v", row)
	}
	// b counts its reply as a message out; each side timed the exchange
	// under the message's type.
	if got := rowOf(t, b, a.peerID()); got.MessagesIn != 1 || got.MessagesOut != 1 {
		t.Fatalf("b's row for a after serving a ping: %+v", got)
	}
	if observations(t, a, messages.WirePing, sideRequest) != 1 || observations(t, b, messages.WirePing, sideServe) != 1 {
		t.Fatal("icn_rpc_duration_seconds{method=\"peers.ping\"} not observed on both sides")
	}
	for _, bad := range []*messages.ConnectPeer{{Addr: "nonsense"}, {Addr: "/ip4/127.0.0.1/tcp/1"}} {
		if _, err := a.tree.Request(context.Background(), Name, bad); !errors.Is(err, messages.ErrInvalidPeer) {
			t.Fatalf("connect %q: %v", bad.Addr, err)
		}
	}
	if _, err := a.tree.Request(context.Background(), Name, &messages.AskPeer{Peer: b.peerID(), Type: "nobody.serves"}); !errors.Is(err, messages.ErrNoRoute) {
		t.Fatalf("ask of an unknown type: %v", err)
	}
}

func TestGossipProbeReachesEveryNode(t *testing.T) {
	f := fabric(t)
	nodes := []*node{newNode(t, f, nil), newNode(t, f, nil), newNode(t, f, nil)}
	for _, n := range nodes[1:] {
		ask[messages.PeerInfo](t, n, &messages.ConnectPeer{Addr: nodes[0].net.Addr().String()})
	}
	// Gossipsub needs a mesh before it delivers: publish until every other
	// node has counted at least one probe.
	deadline := time.Now().Add(10 * time.Second)
	for {
		ask[*messages.GossipPublished](t, nodes[2], &messages.PublishGossip{Topic: network.TopicJobs, Type: messages.WireProbe, Body: []byte("probe")})
		if testutil.ToFloat64(nodes[0].metrics.probes) > 0 && testutil.ToFloat64(nodes[1].metrics.probes) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a probe did not reach every node")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := testutil.ToFloat64(nodes[2].metrics.probes); got != 0 {
		t.Fatalf("the publisher counted its own probes: %v", got)
	}
	if _, err := nodes[0].tree.Request(context.Background(), Name, &messages.PublishGossip{Topic: network.TopicJobs, Type: "nobody.serves"}); !errors.Is(err, messages.ErrNoRoute) {
		t.Fatalf("publish of an unknown type: %v", err)
	}
}

func TestBreakerOpensWhenAPeerGoesAndClosesWhenItReturns(t *testing.T) {
	f := fabric(t)
	a := newNode(t, f, nil)
	bid, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b := newNode(t, f, bid)
	ask[messages.PeerInfo](t, a, &messages.ConnectPeer{Addr: b.net.Addr().String()})
	ping := &messages.AskPeer{Peer: b.peerID(), Type: messages.WirePing, Body: []byte("x"), Timeout: 500 * time.Millisecond}
	ask[*messages.PeerAnswer](t, a, ping)

	// b goes away: two failures open a's breaker, then calls fail at once.
	if err := b.net.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if _, err := a.tree.Request(context.Background(), Name, ping); !errors.Is(err, messages.ErrPeerFailed) {
			t.Fatalf("ping %d of a peer that is gone: %v", i, err)
		}
	}
	began := time.Now()
	_, err = a.tree.Request(context.Background(), Name, ping)
	var pu *messages.PeerUnavailableError
	if !errors.As(err, &pu) || time.Since(began) > 100*time.Millisecond {
		t.Fatalf("with the breaker open: %v after %s", err, time.Since(began))
	}
	if testutil.ToFloat64(a.metrics.breakersOpen) != 1 {
		t.Fatal("icn_peer_breakers_open is not 1")
	}

	// b returns with the same key: the breaker lets a probe through and
	// closes on its success.
	b2 := newNode(t, f, bid)
	ask[messages.PeerInfo](t, a, &messages.ConnectPeer{Addr: b2.net.Addr().String()})
	eventually(t, "the breaker to close", 5*time.Second, func() bool {
		_, err := a.tree.Request(context.Background(), Name, ping)
		return err == nil
	})
	// The table is read through the actor, which has taken the success.
	for _, i := range ask[*messages.PeerList](t, a, &messages.ListPeers{}).Peers {
		if i.PeerID == b.peerID() && i.Breaker != stateClosed {
			t.Fatalf("breaker after the peer returned: %+v", i)
		}
	}
	if testutil.ToFloat64(a.metrics.breakersOpen) != 0 {
		t.Fatal("icn_peer_breakers_open is not 0 after the peer returned")
	}
}

func TestForgedAndReplayedMessagesAreRejectedAndCounted(t *testing.T) {
	a, b := connectedPair(t)
	mallory := keyringtest.NewNode(t)
	seal := func(id *identity.Identity, typ string, body []byte, at time.Time) []byte {
		return sealAs(t, id, typ, "", body, at)
	}
	good := seal(a.id, messages.WirePing, []byte("ok"), time.Now())
	// a's DID, mallory's signature: what a forger who can reach b sends.
	forged, err := envelope.Seal(envelope.Signer{DID: string(a.id.DID()), Sign: func(m []byte) ([]byte, error) { return mallory.Sign(m), nil }},
		messages.WirePing, "", []byte("forged"), time.Now(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// Addressed to another node: a's request to mallory, sent to b.
	misdelivered := sealAs(t, a.id, messages.WirePing, string(mallory.DID()), nil, time.Now())
	for _, tc := range []struct {
		name   string
		data   []byte
		reason string
	}{
		{"good", good, ""},
		{"addressed to another node", misdelivered, envelope.ReasonWrongRecipient},
		{"replayed", good, envelope.ReasonReplay},
		{"another sender's key", seal(mallory, messages.WirePing, nil, time.Now()), envelope.ReasonSenderMismatch},
		{"stale", seal(a.id, messages.WirePing, nil, time.Now().Add(-time.Hour)), envelope.ReasonClockSkew},
		{"unknown type", seal(a.id, "nobody.serves", nil, time.Now()), envelope.ReasonUnknownType},
		{"garbage", []byte("not an envelope"), envelope.ReasonMalformed},
		{"forged signature", forged, envelope.ReasonBadSignature},
		{"oversize body", seal(a.id, messages.WirePing, make([]byte, envelope.DefaultMaxBody+1), time.Now()), envelope.ReasonOversize},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.ToFloat64(b.metrics.rejected.WithLabelValues(tc.reason))
			_, err := a.net.Request(context.Background(), b.net.ID(), tc.data)
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var remote *network.RemoteError
			if !errors.As(err, &remote) {
				t.Fatalf("got %v, want a refusal", err)
			}
			if got := testutil.ToFloat64(b.metrics.rejected.WithLabelValues(tc.reason)); got != before+1 {
				t.Fatalf("icn_network_rejected_total{reason=%q} = %v, want %v", tc.reason, got, before+1)
			}
			if rowOf(t, b, a.peerID()).MessagesIn != 1 {
				t.Fatal("a refused message was counted as traffic")
			}
		})
	}
}

// TestBodiesUpToTheLimitCrossAndLargerOnesAreRefused: a body over the
// envelope's default limit but within the node's (a block fetch's reply
// carries a whole block) goes both ways; one over the limit is refused
// by the receiver, counted, and does not count against the sender's
// breaker as a failure of the peer.
func TestBodiesUpToTheLimitCrossAndLargerOnesAreRefused(t *testing.T) {
	// Over the default 1 MiB, and small enough to stay quick on a loaded
	// 2-core machine (a 3 MiB round trip took seconds there).
	const limit = 3 << 19 // 1.5 MiB
	f := fabric(t)
	withLimit := func(d *Deps) { d.MaxBody = limit }
	a, b := newNodeWith(t, f, nil, withLimit), newNodeWith(t, f, nil, withLimit)
	ask[messages.PeerInfo](t, a, &messages.ConnectPeer{Addr: b.net.Addr().String()})
	body := bytes.Repeat([]byte{7}, 5<<18) // 1.25 MiB
	r := ask[*messages.PeerAnswer](t, a, &messages.AskPeer{Peer: b.peerID(), Type: messages.WirePing, Body: body})
	if !bytes.Equal(r.Body, body) {
		t.Fatalf("a %d-byte ping came back as %d bytes", len(body), len(r.Body))
	}

	before := testutil.ToFloat64(b.metrics.rejected.WithLabelValues(envelope.ReasonOversize))
	for range 3 { // more than the breaker's failures
		_, err := a.tree.Request(context.Background(), Name, &messages.AskPeer{Peer: b.peerID(), Type: messages.WirePing, Body: make([]byte, limit+1)})
		if err == nil || errors.Is(err, messages.ErrPeerFailed) {
			t.Fatalf("a body over b's limit: %v, want b's refusal", err)
		}
	}
	if got := testutil.ToFloat64(b.metrics.rejected.WithLabelValues(envelope.ReasonOversize)); got != before+3 {
		t.Fatalf("icn_network_rejected_total{reason=\"oversize\"} = %v, want %v", got, before+3)
	}
	if st := rowOf(t, a, b.peerID()).Breaker; st != stateClosed {
		t.Fatalf("a's breaker for b after b refused bodies: %s", st)
	}

	// A reply over the asker's own limit is refused and counted there,
	// and is not the answering peer's failure either.
	small := newNode(t, f, nil) // the default limit, 1 MiB
	ask[messages.PeerInfo](t, small, &messages.ConnectPeer{Addr: b.net.Addr().String()})
	before = testutil.ToFloat64(small.metrics.rejected.WithLabelValues(envelope.ReasonOversize))
	for range 3 {
		_, err := small.tree.Request(context.Background(), Name, &messages.AskPeer{Peer: b.peerID(), Type: messages.WirePing, Body: body})
		if err == nil || errors.Is(err, messages.ErrPeerFailed) {
			t.Fatalf("a reply over the asker's limit: %v", err)
		}
	}
	if got := testutil.ToFloat64(small.metrics.rejected.WithLabelValues(envelope.ReasonOversize)); got != before+3 {
		t.Fatalf("the asker's icn_network_rejected_total{reason=\"oversize\"} = %v, want %v", got, before+3)
	}
	if st := rowOf(t, small, b.peerID()).Breaker; st != stateClosed {
		t.Fatalf("the asker's breaker for b after replies over its limit: %s", st)
	}

	if _, err := New(Deps{Identity: small.id, MaxBody: network.MaxRPCSize}); err == nil || !strings.Contains(err.Error(), "body limit") {
		t.Fatalf("a body limit whose envelope cannot fit an RPC frame: %v", err)
	}
	if _, err := New(Deps{}); err == nil {
		t.Fatal("a node without an identity was accepted")
	}
}

// TestRTTIsMeasured: a peer's round trip is measured as it connects, so
// the table shows it and providers are ordered by it.
func TestRTTIsMeasured(t *testing.T) {
	a, b := connectedPair(t)
	eventually(t, "a has b's round trip", 5*time.Second, func() bool { return rowOf(t, a, b.peerID()).RTT > 0 })
	eventually(t, "b has a's round trip", 5*time.Second, func() bool { return rowOf(t, b, a.peerID()).RTT > 0 })
}

// pingCounter is a network that counts its pings.
type pingCounter struct {
	network.Network
	pings atomic.Int64
}

func (n *pingCounter) Ping(ctx context.Context, p peer.ID) (time.Duration, error) {
	n.pings.Add(1)
	return n.Network.Ping(ctx, p)
}

// TestRTTIsMeasuredOnSchedule: after the ping on connect, each tick of
// the schedule measures the connected peers again.
func TestRTTIsMeasuredOnSchedule(t *testing.T) {
	f := fabric(t)
	clk := clocktest.New(time.Now())
	var counter *pingCounter
	a := newNodeWith(t, f, nil, func(d *Deps) {
		counter = &pingCounter{Network: d.Network}
		d.Network, d.Clock = counter, clk
	})
	b := newNode(t, f, nil)
	ask[messages.PeerInfo](t, a, &messages.ConnectPeer{Addr: b.net.Addr().String()})
	eventually(t, "a has b's round trip", 5*time.Second, func() bool { return rowOf(t, a, b.peerID()).RTT > 0 })
	// A tick while the ping on connect is still being recorded skips b:
	// tick until one pings it again.
	eventually(t, "a scheduled ping", 5*time.Second, func() bool {
		clk.Advance(DefaultPingInterval)
		return counter.pings.Load() >= 2
	})
}

// TestPublishingCountsAMessageToEachPeer: gossip is flood-published to
// every peer known to subscribe to the topic; the answer names them and
// each row counts it.
func TestPublishingCountsAMessageToEachPeer(t *testing.T) {
	f := fabric(t)
	a, b, c := newNode(t, f, nil), newNode(t, f, nil), newNode(t, f, nil)
	for _, n := range []*node{b, c} {
		ask[messages.PeerInfo](t, a, &messages.ConnectPeer{Addr: n.net.Addr().String()})
	}
	// Their subscriptions reach a shortly after the connections.
	eventually(t, "a knows b and c subscribe", 5*time.Second, func() bool { return len(a.net.TopicPeers(network.TopicJobs)) == 2 })
	r := ask[*messages.GossipPublished](t, a, &messages.PublishGossip{Topic: network.TopicJobs, Type: messages.WireProbe, Body: []byte("p")})
	for _, n := range []*node{b, c} {
		if !slices.Contains(r.Reached, n.peerID()) {
			t.Fatalf("the publish reached %v, not %s", r.Reached, n.peerID())
		}
		if got := rowOf(t, a, n.peerID()).MessagesOut; got != 1 {
			t.Fatalf("messages out to %s after one publish: %d", n.peerID(), got)
		}
	}
}

func TestKillingThePeersActorKeepsItServing(t *testing.T) {
	a, b := connectedPair(t)
	for i, mode := range []supervisors.KillMode{supervisors.KillPanic, supervisors.KillStop, supervisors.KillPoison} {
		if err := b.tree.Kill(context.Background(), Name, mode); err != nil {
			t.Fatal(err)
		}
		body := []byte(fmt.Sprintf("after kill %d", i))
		eventually(t, "b serving again after a "+mode.String()+" kill", 5*time.Second, func() bool {
			r, err := supervisors.Ask[*messages.PeerAnswer](context.Background(), a.tree, Name,
				&messages.AskPeer{Peer: b.peerID(), Type: messages.WirePing, Body: body, Timeout: time.Second})
			return err == nil && bytes.Equal(r.Body, body)
		})
		// Its table is rebuilt: a is connected.
		if !connectedTo(t, b, a.peerID()) {
			t.Fatalf("after a %s kill b's table lost a", mode)
		}
	}
}

func TestBlockAndUnblockAPeer(t *testing.T) {
	f := fabric(t)
	a, b := newNode(t, f, nil), newNode(t, f, nil)
	ask[messages.PeerInfo](t, a, &messages.ConnectPeer{Addr: b.net.Addr().String()})
	faults := ask[*messages.Faults](t, a, &messages.BlockPeers{Peers: []string{b.peerID()}})
	if len(faults.Blocked) != 1 || faults.Blocked[0] != b.peerID() {
		t.Fatalf("faults: %+v", faults)
	}
	eventually(t, "a disconnected from b", 5*time.Second, func() bool { return !connectedTo(t, a, b.peerID()) })
	if _, err := a.tree.Request(context.Background(), Name, &messages.AskPeer{Peer: b.peerID(), Type: messages.WirePing, Timeout: time.Second}); !errors.Is(err, messages.ErrPeerFailed) {
		t.Fatalf("ping of a blocked peer: %v", err)
	}
	for _, bad := range [][]string{{"nonsense"}, {a.peerID()}} {
		if _, err := a.tree.Request(context.Background(), Name, &messages.BlockPeers{Peers: bad}); !errors.Is(err, messages.ErrInvalidPeer) {
			t.Fatalf("block %v: %v", bad, err)
		}
	}
	if f := ask[*messages.Faults](t, a, &messages.UnblockPeers{}); len(f.Blocked) != 0 {
		t.Fatalf("after heal: %+v", f)
	}
	// Unblocked, the peers talk again (the redial loop or a connect).
	ask[messages.PeerInfo](t, a, &messages.ConnectPeer{Addr: b.net.Addr().String()})
	ask[*messages.PeerAnswer](t, a, &messages.AskPeer{Peer: b.peerID(), Type: messages.WirePing})
}

// watcher is a subsystem that records the peer events it is sent.
type watcher struct{ events chan *messages.PeerEvent }

func (w *watcher) Receive(c actor.Context) {
	if e, ok := c.Message().(*messages.PeerEvent); ok {
		w.events <- e
	}
}

func TestWatchersHearPeersComeAndGo(t *testing.T) {
	f := fabric(t)
	events := make(chan *messages.PeerEvent, 16)
	id, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	net, err := memnet.New(f, id, memnet.Options{}, reg, discard())
	if err != nil {
		t.Fatal(err)
	}
	if err := net.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	producer, err := New(Deps{Network: net, Identity: id, Clock: clock.Real{}, Metrics: m, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	tree, err := supervisors.New(supervisors.Spec{Name: "icn", Children: []supervisors.ChildSpec{
		{Name: Name, Restart: supervisors.Permanent, New: producer},
		{Name: "jobs", Restart: supervisors.Permanent, New: func() actor.Actor { return &watcher{events: events} }},
	}}, discard(), reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = tree.Stop(context.Background())
		_ = net.Stop(context.Background())
	})
	a := &node{id: id, net: net, tree: tree, metrics: m}
	ask[*messages.PeerList](t, a, &messages.WatchPeers{Subscriber: "jobs"})

	b := newNode(t, f, nil)
	ask[messages.PeerInfo](t, a, &messages.ConnectPeer{Addr: b.net.Addr().String()})
	next := func(n *node, up bool) {
		t.Helper()
		select {
		case e := <-events:
			if e.Peer != n.peerID() || e.Up != up || e.DID != string(n.id.DID()) {
				t.Fatalf("event %+v, want %s up=%v", e, n.peerID(), up)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no event (%s up=%v)", n.peerID(), up)
		}
	}
	next(b, true)

	// The subscription outlives the peers actor: b leaving around a
	// restart is heard once, from whichever incarnation saw it.
	if err := tree.Kill(context.Background(), Name, supervisors.KillStop); err != nil {
		t.Fatal(err)
	}
	if err := b.net.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	next(b, false)

	// A restart with nothing changed tells nothing: the next event is c's.
	if err := tree.Kill(context.Background(), Name, supervisors.KillPanic); err != nil {
		t.Fatal(err)
	}
	c := newNode(t, f, nil)
	eventually(t, "a connects to c after the restart", 5*time.Second, func() bool {
		_, err := supervisors.Ask[messages.PeerInfo](context.Background(), tree, Name, &messages.ConnectPeer{Addr: c.net.Addr().String()})
		return err == nil
	})
	next(c, true)
}

// TestProbesKeepArrivingAcrossKills kills b's peers actor
// while a publishes probes: b keeps counting probes after every restart.
func TestProbesKeepArrivingAcrossKills(t *testing.T) {
	a, b := connectedPair(t)
	ctx, cancel := context.WithCancel(context.Background())
	published := make(chan struct{})
	go func() {
		defer close(published)
		for ctx.Err() == nil {
			_, _ = a.tree.Request(ctx, Name, &messages.PublishGossip{Topic: network.TopicGov, Type: messages.WireProbe, Body: []byte("p")})
			time.Sleep(2 * time.Millisecond)
		}
	}()
	defer func() { cancel(); <-published }()
	for _, mode := range []supervisors.KillMode{supervisors.KillPanic, supervisors.KillStop, supervisors.KillPoison} {
		before := testutil.ToFloat64(b.metrics.probes)
		if err := b.tree.Kill(context.Background(), Name, mode); err != nil {
			t.Fatal(err)
		}
		eventually(t, "probes counted after a "+mode.String()+" kill", 10*time.Second, func() bool {
			return testutil.ToFloat64(b.metrics.probes) > before+5
		})
	}
}

// TestPingPeerMeasuresSignedRoundTrips: a ping series is that many RPCs
// answered by the other node's peer manager, named by peer ID or DID;
// each is counted and timed like any request.
func TestPingPeerMeasuresSignedRoundTrips(t *testing.T) {
	a, b := connectedPair(t)
	eventually(t, "b sees a", 5*time.Second, func() bool { return connectedTo(t, b, a.peerID()) })
	tests := []struct {
		name  string
		peer  string
		count int
		want  int
	}{
		{"by peer ID", b.peerID(), 5, 5},
		{"by DID", string(b.id.DID()), 1, 1},
		{"the default count", b.peerID(), 0, messages.DefaultPingCount},
	}
	sent := 0
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ask[*messages.PingReport](t, a, &messages.PingPeer{Peer: tt.peer, Count: tt.count})
			sent += tt.want
			if r.Peer != b.peerID() || r.DID != string(b.id.DID()) || r.Count != tt.want || r.Failed != 0 || len(r.RTTs) != tt.want {
				t.Fatalf("report: %+v", r)
			}
			if !slices.IsSorted(r.RTTs) || r.RTTs[0] <= 0 {
				t.Fatalf("round trips not positive and sorted: %v", r.RTTs)
			}
			if got := observations(t, a, messages.WirePing, sideRequest); got != uint64(sent) {
				t.Fatalf("%d ping requests timed, want %d", got, sent)
			}
			// b's peer manager answered each one (counted as served once the
			// reply is sealed, which may be just after a has it).
			eventually(t, "b to count the pings served", 5*time.Second, func() bool {
				return observations(t, b, messages.WirePing, sideServe) == uint64(sent)
			})
		})
	}
	if row := rowOf(t, a, b.peerID()); row.MessagesOut != uint64(sent) || row.MessagesIn != uint64(sent) {
		t.Fatalf("a's row for b after %d pings: %+v", sent, row)
	}
}

// TestPingPeerRefusals: what cannot be pinged is refused at once, by kind.
func TestPingPeerRefusals(t *testing.T) {
	f := fabric(t)
	a := newNode(t, f, nil)
	stranger, sp := keyringtest.NewPeer(t)
	tests := []struct {
		name  string
		msg   *messages.PingPeer
		want  error
		count bool // a bad count: no sentinel, the API checks it first
	}{
		{"nonsense", &messages.PingPeer{Peer: "nonsense"}, messages.ErrInvalidPeer, false},
		{"a DID that names no key", &messages.PingPeer{Peer: "did:key:nonsense"}, messages.ErrInvalidPeer, false},
		{"this node", &messages.PingPeer{Peer: a.peerID()}, messages.ErrInvalidPeer, false},
		{"this node by DID", &messages.PingPeer{Peer: string(a.id.DID())}, messages.ErrInvalidPeer, false},
		{"a peer never seen", &messages.PingPeer{Peer: sp.String()}, messages.ErrUnknownPeer, false},
		{"a DID never seen", &messages.PingPeer{Peer: string(stranger.DID())}, messages.ErrUnknownPeer, false},
		{"too many", &messages.PingPeer{Peer: sp.String(), Count: messages.MaxPingCount + 1}, nil, true},
		{"a negative count", &messages.PingPeer{Peer: sp.String(), Count: -1}, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := a.tree.Request(context.Background(), Name, tt.msg)
			switch {
			case err == nil:
				t.Fatal("no error")
			case tt.count && !strings.Contains(err.Error(), "ping count"):
				t.Fatalf("bad count: %v", err)
			case !tt.count && !errors.Is(err, tt.want):
				t.Fatalf("got %v, want %v", err, tt.want)
			}
		})
	}
	if got := testutil.ToFloat64(a.metrics.requests.WithLabelValues("ok")) + testutil.ToFloat64(a.metrics.requests.WithLabelValues("failed")); got != 0 {
		t.Fatalf("refused pings sent %v requests", got)
	}
}

// TestPingPeerGoneOpensItsBreaker: a series to a peer that went away stops
// once its failures open the breaker, rather than trying every round
// trip; the next series fails fast.
func TestPingPeerGoneOpensItsBreaker(t *testing.T) {
	a, b := connectedPair(t)
	if err := b.net.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, err := a.tree.Request(context.Background(), Name, &messages.PingPeer{Peer: b.peerID(), Count: 50})
	if !errors.Is(err, messages.ErrPeerFailed) {
		t.Fatalf("ping of a peer that is gone: %v", err)
	}
	// newNode's breaker opens after 2 failures in a row. The outcomes
	// reached a's mailbox before its answer: a read through it has them.
	rowOf(t, a, b.peerID())
	if got := testutil.ToFloat64(a.metrics.requests.WithLabelValues("failed")); got != 2 {
		t.Fatalf("%v round trips failed, want 2 (the series stops when the breaker opens)", got)
	}
	began := time.Now()
	_, err = a.tree.Request(context.Background(), Name, &messages.PingPeer{Peer: b.peerID()})
	var pu *messages.PeerUnavailableError
	if !errors.As(err, &pu) || pu.Peer != b.peerID() || time.Since(began) > 100*time.Millisecond {
		t.Fatalf("with the breaker open: %v after %s", err, time.Since(began))
	}
}

// TestPingPeerWithinCountsTheRestAsFailed: a series cut short by its
// deadline reports the round trips it had, and the rest as failed.
func TestPingPeerWithinCountsTheRestAsFailed(t *testing.T) {
	a, b := connectedPair(t)
	ask[*messages.PingReport](t, a, &messages.PingPeer{Peer: b.peerID(), Count: 1}) // warm
	r := ask[*messages.PingReport](t, a, &messages.PingPeer{Peer: b.peerID(), Count: messages.MaxPingCount, Within: 50 * time.Millisecond})
	if r.Count != messages.MaxPingCount || r.Failed == 0 || len(r.RTTs)+r.Failed != r.Count {
		t.Fatalf("a series of %d within 50 ms: %d round trips, %d failed", r.Count, len(r.RTTs), r.Failed)
	}
}

// TestAReplyAddressedElsewhereIsRefused: a peer that answers with an
// envelope sealed for another node fails the request, and the asker
// counts it as wrong_recipient.
func TestAReplyAddressedElsewhereIsRefused(t *testing.T) {
	a, b := connectedPair(t)
	mallory := keyringtest.NewNode(t)
	// b answers every request with a reply addressed to mallory.
	reply := sealAs(t, b.id, messages.WirePing+replySuffix, string(mallory.DID()), []byte("pong"), time.Now())
	b.net.Handle(func(context.Context, peer.ID, []byte) ([]byte, error) { return reply, nil })
	before := testutil.ToFloat64(a.metrics.rejected.WithLabelValues(envelope.ReasonWrongRecipient))
	_, err := a.tree.Request(context.Background(), Name, &messages.AskPeer{Peer: b.peerID(), Type: messages.WirePing, Body: []byte("ping")})
	if !errors.Is(err, messages.ErrPeerFailed) || !strings.Contains(err.Error(), envelope.ReasonWrongRecipient) {
		t.Fatalf("a reply addressed to another node: %v", err)
	}
	if got := testutil.ToFloat64(a.metrics.rejected.WithLabelValues(envelope.ReasonWrongRecipient)); got != before+1 {
		t.Fatalf(`icn_network_rejected_total{reason="wrong_recipient"} = %v, want %v`, got, before+1)
	}
}

// sealAs seals an envelope as id, or fails the test.
func sealAs(t *testing.T, id *identity.Identity, typ, to string, body []byte, at time.Time) []byte {
	t.Helper()
	data, err := envelope.Seal(signerOf(id), typ, to, body, at, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// connectedPair starts two nodes on a fabric of their own, a connected to b.
func connectedPair(t *testing.T) (a, b *node) {
	t.Helper()
	f := fabric(t)
	a, b = newNode(t, f, nil), newNode(t, f, nil)
	ask[messages.PeerInfo](t, a, &messages.ConnectPeer{Addr: b.net.Addr().String()})
	return a, b
}
