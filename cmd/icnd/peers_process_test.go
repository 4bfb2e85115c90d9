package main

import (
	"encoding/json"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/intercooperative-network/icn-go/services/httpapi"
)

// pairNode is one of two connected daemons.
type pairNode struct {
	c    api
	info httpapi.NodeInfo
	dir  string
}

// startPair runs two icnd (production profile, libp2p on 127.0.0.1), the
// second bootstrapping from the first, and returns once the second is
// connected to the first.
func startPair(t testing.TB) (icnctlBin string, first, second pairNode) {
	t.Helper()
	bins := build(t)
	start := func(name string, extra ...string) pairNode {
		dir := filepath.Join(t.TempDir(), name)
		d := startDaemonEnv(t, bins.icnd, dir, nil, extra...)
		n := pairNode{c: newAPI(t, d.waitReady(t, dir, 30*time.Second), dir), dir: dir}
		n.c.must(200, "GET", "/api/v1/node", nil, &n.info)
		return n
	}
	first = start("a")
	var bootstrap string
	for _, addr := range first.info.Addrs {
		if strings.HasPrefix(addr, "/ip4/127.0.0.1/tcp/") {
			bootstrap = addr // already ends in /p2p/<peer id>
		}
	}
	if bootstrap == "" {
		t.Fatalf("the first daemon has no TCP address on 127.0.0.1: %v", first.info.Addrs)
	}
	second = start("b", "--bootstrap", bootstrap)
	second.c.waitConnected(first.info.PeerID, 15*time.Second)
	return bins.icnctl, first, second
}

func pingPath(peer string, count int) string {
	return "/api/v1/peers/" + url.PathEscape(peer) + "/ping?count=" + strconv.Itoa(count)
}

// TestPeersPingAcrossDaemons: icnctl peers ping, by peer ID and by DID,
// measures round trips over real libp2p between two daemons.
func TestPeersPingAcrossDaemons(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	bin, a, b := startPair(t)
	for _, peer := range []string{a.info.PeerID, a.info.DID} {
		var r httpapi.PingResult
		if err := json.Unmarshal(icnctl(t, bin, b.dir, "peers", "ping", peer, "-n", "20", "-o", "json"), &r); err != nil {
			t.Fatal(err)
		}
		if r.PeerID != a.info.PeerID || r.DID != a.info.DID || r.Count != 20 || r.Failed != 0 || r.RTTMS.Min <= 0 || r.RTTMS.Max < r.RTTMS.P99 {
			t.Fatalf("ping %s: %+v", peer, r)
		}
	}
	out := string(icnctl(t, bin, b.dir, "peers", "ping", a.info.PeerID))
	if !strings.HasPrefix(out, a.info.PeerID+" ("+a.info.DID+"): 3 round trips, 0 failed\nrtt min ") {
		t.Fatalf("peers ping:\n%s", out)
	}
}

// BenchmarkRPCAcrossDaemons: daemon B pings daemon A through the API, 100
// signed /icn/rpc/1 round trips per call (so the HTTP call is amortised),
// and reports the round trips as B's peer manager timed them: the mean
// over the calls of each series' p50 and p99. The baseline in the same run
// is a bare TCP echo of a message the size of a sealed ping, between two
// goroutines of this process over a real loopback TCP connection (no
// libp2p, no encryption, no signatures, no process boundary).
func BenchmarkRPCAcrossDaemons(b *testing.B) {
	const perCall = 100
	_, a, c := startPair(b)
	path := pingPath(a.info.PeerID, perCall)
	var warm httpapi.PingResult
	c.c.must(200, "POST", path, nil, &warm) // the first streams and keys

	var p50, p99 float64
	b.ResetTimer()
	for range b.N {
		var r httpapi.PingResult
		c.c.must(200, "POST", path, nil, &r)
		if r.Failed != 0 {
			b.Fatalf("%d of %d round trips failed", r.Failed, r.Count)
		}
		p50 += r.RTTMS.P50
		p99 += r.RTTMS.P99
	}
	b.StopTimer()
	b.ReportMetric(p50/float64(b.N)*1000, "rpc-p50-µs")
	b.ReportMetric(p99/float64(b.N)*1000, "rpc-p99-µs")
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N*perCall), "api-µs/rtt")

	rtts := tcpEcho(b, b.N*perCall, 256)
	b.ReportMetric(float64(rtts[len(rtts)/2].Nanoseconds())/1000, "tcp-loopback-p50-µs")
	b.ReportMetric(float64(rtts[min(len(rtts)-1, len(rtts)*99/100)].Nanoseconds())/1000, "tcp-loopback-p99-µs")
}

// tcpEcho times n round trips of a size-byte message echoed over a
// loopback TCP connection between two goroutines; it returns them sorted.
func tcpEcho(b *testing.B, n, size int) []time.Duration {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	served := make(chan error, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			served <- err
			return
		}
		defer func() { _ = conn.Close() }()
		_, err = io.Copy(conn, conn)
		served <- err
	}()
	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	msg, echo := make([]byte, size), make([]byte, size)
	rtts := make([]time.Duration, 0, n)
	for range n {
		began := time.Now()
		if _, err := conn.Write(msg); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(conn, echo); err != nil {
			b.Fatal(err)
		}
		rtts = append(rtts, time.Since(began))
	}
	if err := conn.Close(); err != nil {
		b.Fatal(err)
	}
	if err := <-served; err != nil {
		b.Fatal(err)
	}
	slices.Sort(rtts)
	return rtts
}
