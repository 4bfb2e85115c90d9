package libp2pnet

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/identity/keyringtest"
	"github.com/intercooperative-network/icn-go/services/logging/logtest"
	"github.com/intercooperative-network/icn-go/services/runtest"
)

func startNetwork(t *testing.T, id *identity.Identity, listen string, log *slog.Logger) *Network {
	t.Helper()
	n, err := New(id, Options{Listen: []string{listen}}, prometheus.NewRegistry(), log)
	if err != nil {
		t.Fatal(err)
	}
	runtest.Start(t, n)
	return n
}

// freeTCPAddr returns a loopback address nothing listens on (a port the
// kernel just handed out and took back).
func freeTCPAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("/ip4/127.0.0.1/tcp/%d", port)
}

// TestMDNSPeerIsDialedAgain: mDNS reports a peer once per lookup, so a
// peer that is not yet listening when it is found (still starting) is
// dialed again until it is.
func TestMDNSPeerIsDialedAgain(t *testing.T) {
	book := &logtest.Book{}
	a := startNetwork(t, keyringtest.NewNode(t), "/ip4/127.0.0.1/tcp/0", book.Logger(slog.LevelDebug))
	bID := keyringtest.NewNode(t)
	bPeer, err := bID.PeerID()
	if err != nil {
		t.Fatal(err)
	}
	bAddr := freeTCPAddr(t)
	found := peer.AddrInfo{ID: bPeer, Addrs: []ma.Multiaddr{ma.StringCast(bAddr)}}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		mdnsNotifee{n: a, ctx: ctx}.HandlePeerFound(found)
	}()

	// The first dial fails: b is not listening yet.
	deadline := time.Now().Add(15 * time.Second)
	for {
		failed, err := book.Records(func(r map[string]any) bool { return r["msg"] == "mdns peer not reachable" })
		if err != nil {
			t.Fatal(err)
		}
		if len(failed) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no failed dial logged")
		}
		time.Sleep(10 * time.Millisecond)
	}
	startNetwork(t, bID, bAddr, slog.New(slog.DiscardHandler))
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the dials did not end")
	}
	if c := a.Host().Network().Connectedness(bPeer); c != network.Connected {
		t.Fatalf("a to b: %v after the retries", c)
	}
}

// TestMDNSDialsStopWithTheNetwork: the retries of a peer that never
// answers end when the network stops, not after every attempt.
func TestMDNSDialsStopWithTheNetwork(t *testing.T) {
	a := startNetwork(t, keyringtest.NewNode(t), "/ip4/127.0.0.1/tcp/0", slog.New(slog.DiscardHandler))
	bPeer, err := keyringtest.NewNode(t).PeerID()
	if err != nil {
		t.Fatal(err)
	}
	found := peer.AddrInfo{ID: bPeer, Addrs: []ma.Multiaddr{ma.StringCast(freeTCPAddr(t))}}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		mdnsNotifee{n: a, ctx: ctx}.HandlePeerFound(found)
	}()
	stop()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the dials went on after the network stopped")
	}
}
