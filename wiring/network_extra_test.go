package wiring

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// startNode starts a node of cfg, stopped at the end of the test.
func startNode(t *testing.T, cfg Config) *Node {
	t.Helper()
	cfg.LogLevel = "error"
	n, err := New(cfg, Options{Logger: discard(), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop(context.Background()) })
	return n
}

// dialAddr is n's first listen address with proto (a multiaddr protocol
// name such as "tcp" or "quic-v1"), ending in its peer ID.
func dialAddr(t *testing.T, n *Node, proto string) string {
	t.Helper()
	for _, a := range n.Network.Addrs() {
		if slices.Contains(strings.Split(a.String(), "/"), proto) {
			return a.String() + "/p2p/" + n.Network.ID().String()
		}
	}
	t.Fatalf("%s listens on no %s address: %v", n.Network.ID(), proto, n.Network.Addrs())
	return ""
}

// waitPeer waits until n's peer table shows p connected.
func waitPeer(t *testing.T, n *Node, p peer.ID, within time.Duration) {
	t.Helper()
	if err := waitUntil(within, func() bool {
		l, err := supervisors.Ask[*messages.PeerList](context.Background(), n.Tree, "peers", &messages.ListPeers{})
		if err != nil {
			return false
		}
		return slices.ContainsFunc(l.Peers, func(i messages.PeerInfo) bool { return i.PeerID == p.String() && i.Connected })
	}); err != nil {
		t.Fatalf("%s not connected to %s within %s", n.Network.ID(), p, within)
	}
}

// libp2pFamilies are the names of the libp2p_* metric families g has.
func libp2pFamilies(t *testing.T, g prometheus.Gatherer) []string {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "libp2p_") {
			names = append(names, mf.GetName())
		}
	}
	return names
}

// TestProductionNodeRegistryHasLibp2pMetrics: libp2p's own metrics
// (swarm, identify, resource manager...) land in the node's private
// registry, which /metrics serves, and not in the process-wide one.
func TestProductionNodeRegistryHasLibp2pMetrics(t *testing.T) {
	a := prodNode(t)
	b := prodNode(t, dialAddr(t, a, "tcp"))
	waitPeer(t, b, a.Network.ID(), 10*time.Second)
	for _, n := range []*Node{a, b} {
		names := libp2pFamilies(t, n.Registry)
		if !slices.Contains(names, "libp2p_swarm_connections_opened_total") {
			t.Fatalf("node %s's registry has no libp2p_swarm_connections_opened_total; libp2p families: %v", n.Network.ID(), names)
		}
	}
	if names := libp2pFamilies(t, prometheus.DefaultGatherer); len(names) != 0 {
		t.Fatalf("libp2p metrics in the process-wide registry: %v", names)
	}
	status, _, metrics := newAPI(t, a).do("GET", "/metrics", "", nil)
	if status != 200 || !strings.Contains(string(metrics), "\nlibp2p_swarm_connections_opened_total{") {
		t.Fatal("/metrics does not serve libp2p_swarm_connections_opened_total")
	}
}

// TestProductionNodesConnectOverQUICOnly: two production nodes that listen
// on QUIC alone connect through the bootstrap address and exchange signed
// RPCs over that connection.
func TestProductionNodesConnectOverQUICOnly(t *testing.T) {
	quicOnly := func(bootstrap ...string) *Node {
		cfg := testConfig(t, ProfileProduction)
		cfg.P2P.Listen = []string{"/ip4/127.0.0.1/udp/0/quic-v1"}
		cfg.P2P.Bootstrap = bootstrap
		return startNode(t, cfg)
	}
	a := quicOnly()
	for _, addr := range a.Network.Addrs() {
		if !strings.Contains(addr.String(), "/quic-v1") {
			t.Fatalf("a QUIC-only node listens on %s", addr)
		}
	}
	b := quicOnly(dialAddr(t, a, "quic-v1"))
	waitPeer(t, b, a.Network.ID(), 10*time.Second)
	conns := b.Network.Host().Network().ConnsToPeer(a.Network.ID())
	if len(conns) == 0 {
		t.Fatal("no connection from b to a")
	}
	for _, c := range conns {
		if !strings.Contains(c.RemoteMultiaddr().String(), "/quic-v1") {
			t.Fatalf("b is connected to a over %s", c.RemoteMultiaddr())
		}
	}
	r, err := supervisors.Ask[*messages.PingReport](context.Background(), b.Tree, "peers",
		&messages.PingPeer{Peer: a.Network.ID().String(), Count: 5})
	if err != nil {
		t.Fatal(err)
	}
	if r.Failed != 0 || len(r.RTTs) != 5 {
		t.Fatalf("pings over QUIC: %+v", r)
	}
}

// TestDevNodesFindEachOtherByMDNS: two dev-profile nodes with no bootstrap
// peer connect through mDNS on the local link, which that profile turns on.
func TestDevNodesFindEachOtherByMDNS(t *testing.T) {
	profile, err := Default(ProfileDev)
	if err != nil {
		t.Fatal(err)
	}
	dev := func() *Node {
		cfg := testConfig(t, ProfileDev)
		cfg.P2P.MDNS = profile.P2P.MDNS // testConfig turns it off for other tests
		cfg.P2P.Bootstrap = nil
		return startNode(t, cfg)
	}
	a, b := dev(), dev()
	waitPeer(t, a, b.Network.ID(), 15*time.Second)
	waitPeer(t, b, a.Network.ID(), 15*time.Second)
}
