package network_test

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/network"
	"github.com/intercooperative-network/icn-go/services/network/libp2pnet"
	"github.com/intercooperative-network/icn-go/services/network/memnet"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/ipfs/go-log/v2/writer.(*MirrorWriter).logRoutine"),
		goleak.IgnoreTopFunction("github.com/libp2p/go-libp2p/p2p/transport/quicreuse.(*reuse).gc"),
	)
}

type startStop interface {
	network.Network
	Start(context.Context) error
	Stop(context.Context) error
}

func newID(t *testing.T) *identity.Identity {
	t.Helper()
	id, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// connectPair starts two nodes made by mk, connects the first to the
// second, and checks each sees the other under the peer ID of its node key.
func connectPair(t *testing.T, mk func(id *identity.Identity) startStop, link func()) {
	t.Helper()
	var nodes [2]startStop
	for i := range nodes {
		id := newID(t)
		n := mk(id)
		want, _ := id.PeerID()
		if n.ID() != want || n.Host() != nil || n.Addrs() != nil {
			t.Fatalf("before start: id %s (want %s), host %v", n.ID(), want, n.Host())
		}
		if err := n.Start(t.Context()); err != nil {
			t.Fatal(err)
		}
		if n.Host() == nil || n.Host().ID() != want || len(n.Addrs()) == 0 {
			t.Fatalf("after start: host id %v, addrs %v", n.Host(), n.Addrs())
		}
		nodes[i] = n
	}
	if link != nil {
		link()
	}
	a, b := nodes[0], nodes[1]
	if err := a.Host().Connect(t.Context(), peer.AddrInfo{ID: b.ID(), Addrs: b.Addrs()}); err != nil {
		t.Fatal(err)
	}
	if len(a.Host().Network().ConnsToPeer(b.ID())) == 0 {
		t.Fatal("no connection after Connect")
	}
	for _, n := range nodes {
		if err := n.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		if err := n.Stop(context.Background()); err != nil || n.Host() != nil {
			t.Fatalf("second stop: %v", err)
		}
	}
}

func TestLibp2pHostsConnectOverTCP(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	connectPair(t, func(id *identity.Identity) startStop {
		n, err := libp2pnet.New(id, libp2pnet.Options{Listen: []string{"/ip4/127.0.0.1/tcp/0"}}, prometheus.NewRegistry(), log)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}, nil)
}

func TestLibp2pRefusesBadListenAddresses(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, listen := range [][]string{nil, {"0.0.0.0:4001"}} {
		if _, err := libp2pnet.New(newID(t), libp2pnet.Options{Listen: listen}, prometheus.NewRegistry(), log); err == nil {
			t.Errorf("listen %v accepted", listen)
		}
	}
}

func TestMemnetHostsConnectOnASharedMocknet(t *testing.T) {
	mn := mocknet.New()
	defer func() {
		if err := mn.Close(); err != nil {
			t.Error(err)
		}
	}()
	connectPair(t, func(id *identity.Identity) startStop {
		n, err := memnet.New(mn, id)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}, func() {
		if err := mn.LinkAll(); err != nil {
			t.Fatal(err)
		}
	})
}
