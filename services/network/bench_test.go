package network_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/network"
	"github.com/intercooperative-network/icn-go/services/network/libp2pnet"
	"github.com/intercooperative-network/icn-go/services/network/memnet"
)

// The benchmarks of this file measure the network against a baseline in
// the same run: gossipsub to 12 memnet nodes against a direct RPC fan-out
// on the same nodes, and a libp2p RPC round trip over 127.0.0.1 TCP against
// the same round trip on a bare TCP connection.
//
//	go test -run '^$' -bench 'Gossip12|RPC' -benchtime 2s -count 3 ./services/network/

// benchWait polls cond until it holds, failing after d.
func benchWait(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("%s: not within %s", what, d)
		}
		<-tick.C
	}
}

func benchID(tb testing.TB) *identity.Identity {
	tb.Helper()
	id, err := identity.Generate(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return id
}

// benchPayload is a 256-byte message: "icnbench", the sequence number, and
// filler.
const benchPayloadSize = 256

var benchMagic = []byte("icnbench")

func benchPayload(seq uint64) []byte {
	p := make([]byte, benchPayloadSize)
	copy(p, benchMagic)
	binary.BigEndian.PutUint64(p[len(benchMagic):], seq)
	for i := len(benchMagic) + 8; i < len(p); i++ {
		p[i] = byte(i)
	}
	return p
}

func benchSeq(p []byte) (uint64, bool) {
	if len(p) != benchPayloadSize || !bytes.HasPrefix(p, benchMagic) {
		return 0, false
	}
	return binary.BigEndian.Uint64(p[len(benchMagic):]), true
}

// arrival: node `at` received message number seq.
type arrival struct {
	seq uint64
	at  int
}

// collect reads arrivals until want distinct nodes have one numbered at
// least min, or fails after d.
func collect(tb testing.TB, arrivals <-chan arrival, want int, min uint64, d time.Duration) {
	tb.Helper()
	got := make(map[int]bool, want)
	timeout := time.NewTimer(d)
	defer timeout.Stop()
	for len(got) < want {
		select {
		case a := <-arrivals:
			if a.seq >= min {
				got[a.at] = true
			}
		case <-timeout.C:
			tb.Fatalf("message %d reached %d of %d nodes within %s", min, len(got), want, d)
		}
	}
}

// report adds the p50 and p99 of the delivery-to-all latencies and the
// message rate.
func report(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p int) float64 {
		i := min(len(lat)*p/100, len(lat)-1)
		return float64(lat[i].Nanoseconds()) / 1e3
	}
	b.ReportMetric(pct(50), "p50-µs")
	b.ReportMetric(pct(99), "p99-µs")
	b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "msgs/s")
}

// BenchmarkGossip12: 12 memnet nodes, fully connected. An op publishes one
// 256-byte message from one node (the publisher rotates) and waits until
// the 11 others received it. The baseline, rpc-fanout, sends the same
// message from the same publisher to the 11 others as concurrent RPC
// requests over the same mocknet (one stream each), timed to the moment the
// 11th handler has it.
func BenchmarkGossip12(b *testing.B) {
	const size = 12
	f := memnet.NewFabric()
	b.Cleanup(func() {
		if err := f.Close(); err != nil {
			b.Error(err)
		}
	})
	var nodes []*tnode
	for i := range size {
		var boot []string
		if i > 0 {
			boot = []string{nodes[0].addr}
		}
		n, err := memnet.New(f, benchID(b), memnet.Options{Bootstrap: boot}, prometheus.NewRegistry(), quiet())
		if err != nil {
			b.Fatal(err)
		}
		nodes = append(nodes, startNode(b, n, nil, func() string { return n.Addr().String() }))
	}
	benchWait(b, 20*time.Second, "12 nodes fully connected", func() bool { return meshed(nodes) })

	arrivals := make(chan arrival, 4096)
	done := make(chan struct{})
	var wg sync.WaitGroup
	var cancels []func()
	b.Cleanup(func() {
		for _, c := range cancels {
			c()
		}
		close(done)
		wg.Wait()
	})
	deliver := func(at int, data []byte) {
		if seq, ok := benchSeq(data); ok {
			select {
			case arrivals <- arrival{seq, at}:
			case <-done:
			}
		}
	}
	for i, n := range nodes {
		ch, cancel, err := n.Subscribe(network.TopicJobs)
		if err != nil {
			b.Fatal(err)
		}
		cancels = append(cancels, cancel)
		wg.Go(func() {
			for m := range ch {
				deliver(i, m.Data)
			}
		})
		n.Handle(func(_ context.Context, _ peer.ID, data []byte) ([]byte, error) {
			deliver(i, data)
			return nil, nil
		})
	}
	var seq atomic.Uint64

	// Gossipsub learns the peers' subscriptions through its heartbeats:
	// each node publishes (every 100 ms) until one of its messages has
	// reached all 11 others.
	for _, src := range nodes {
		first := seq.Load() + 1
		got := map[int]bool{}
		deadline := time.Now().Add(20 * time.Second)
		var last time.Time
		for len(got) < size-1 {
			if time.Now().After(deadline) {
				b.Fatalf("warm-up gossip from %s reached %d of %d nodes", src.ID(), len(got), size-1)
			}
			if time.Since(last) >= 100*time.Millisecond {
				last = time.Now()
				if err := src.Publish(context.Background(), network.TopicJobs, benchPayload(seq.Add(1))); err != nil {
					b.Fatal(err)
				}
			}
			select {
			case a := <-arrivals:
				if a.seq >= first {
					got[a.at] = true
				}
			case <-time.After(10 * time.Millisecond):
			}
		}
	}

	b.Run("gossipsub", func(b *testing.B) {
		ctx := b.Context()
		var lat []time.Duration
		i := 0
		for b.Loop() {
			src := nodes[i%size]
			i++
			s := seq.Add(1)
			start := time.Now()
			if err := src.Publish(ctx, network.TopicJobs, benchPayload(s)); err != nil {
				b.Fatal(err)
			}
			collect(b, arrivals, size-1, s, 10*time.Second)
			lat = append(lat, time.Since(start))
		}
		report(b, lat)
	})

	b.Run("rpc-fanout", func(b *testing.B) {
		ctx := b.Context()
		fanout := func(src int, s uint64) time.Duration {
			data := benchPayload(s)
			errs := make([]error, size)
			var reqs sync.WaitGroup
			start := time.Now()
			for j, dst := range nodes {
				if j != src {
					reqs.Go(func() { _, errs[j] = nodes[src].Request(ctx, dst.ID(), data) })
				}
			}
			collect(b, arrivals, size-1, s, 10*time.Second)
			took := time.Since(start)
			reqs.Wait()
			if err := errors.Join(errs...); err != nil {
				b.Fatal(err)
			}
			return took
		}
		for src := range size { // untimed: each node's streams to the others
			fanout(src, seq.Add(1))
		}
		var lat []time.Duration
		i := 0
		for b.Loop() {
			lat = append(lat, fanout(i%size, seq.Add(1)))
			i++
		}
		report(b, lat)
	})
}

// bareEcho serves length-prefixed frames (4-byte big-endian length, then
// the body) on 127.0.0.1, echoing each back, and returns its address; it
// stops when the benchmark ends.
func bareEcho(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	tb.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		for _, c := range conns {
			_ = c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			wg.Go(func() {
				defer func() { _ = c.Close() }()
				var buf []byte
				for {
					var err error
					if buf, err = readFrame(c, buf); err != nil {
						return
					}
					if _, err := c.Write(buf); err != nil {
						return
					}
				}
			})
		}
	})
	return ln.Addr().String()
}

// readFrame reads one frame into buf (reused when large enough) and
// returns it whole, header included.
func readFrame(r io.Reader, buf []byte) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return buf, err
	}
	n := int(binary.BigEndian.Uint32(hdr[:]))
	if cap(buf) < 4+n {
		buf = make([]byte, 4+n)
	}
	buf = buf[:4+n]
	copy(buf, hdr[:])
	_, err := io.ReadFull(r, buf[4:])
	return buf, err
}

// BenchmarkRPC: request/reply round trips between two libp2p hosts on
// 127.0.0.1 TCP (Noise, Yamux; the handler echoes the body; a new stream
// per request, as Request does), against the same round trip on one bare
// TCP connection to a length-prefixed echo server. SetBytes counts the
// body both ways.
func BenchmarkRPC(b *testing.B) {
	start := func(bootstrap ...string) *tnode {
		n, err := libp2pnet.New(benchID(b), libp2pnet.Options{Listen: []string{"/ip4/127.0.0.1/tcp/0"}, Bootstrap: bootstrap}, prometheus.NewRegistry(), quiet())
		if err != nil {
			b.Fatal(err)
		}
		return startNode(b, n, nil, func() string { return fmt.Sprintf("%s/p2p/%s", n.Addrs()[0], n.ID()) })
	}
	srv := start()
	cli := start(srv.addr)
	srv.Handle(func(_ context.Context, _ peer.ID, data []byte) ([]byte, error) { return data, nil })
	nodes := []*tnode{srv, cli}
	benchWait(b, 10*time.Second, "the two hosts connected", func() bool { return meshed(nodes) })

	conn, err := net.Dial("tcp", bareEcho(b))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = conn.Close() })

	for _, sz := range []struct {
		name string
		n    int
	}{{"256B", 256}, {"64KiB", 64 << 10}} {
		body := make([]byte, sz.n)
		if _, err := rand.Read(body); err != nil {
			b.Fatal(err)
		}
		b.Run(sz.name+"/libp2p-rpc", func(b *testing.B) {
			b.SetBytes(int64(2 * sz.n))
			ctx := b.Context()
			roundTrip := func() {
				got, err := cli.Request(ctx, srv.ID(), body)
				if err != nil {
					b.Fatal(err)
				}
				if !bytes.Equal(got, body) {
					b.Fatalf("reply of %d bytes, not the %d sent", len(got), len(body))
				}
			}
			roundTrip()
			for b.Loop() {
				roundTrip()
			}
		})
		b.Run(sz.name+"/bare-tcp", func(b *testing.B) {
			b.SetBytes(int64(2 * sz.n))
			frame := binary.BigEndian.AppendUint32(nil, uint32(sz.n))
			frame = append(frame, body...)
			var buf []byte
			roundTrip := func() {
				if _, err := conn.Write(frame); err != nil {
					b.Fatal(err)
				}
				var err error
				if buf, err = readFrame(conn, buf); err != nil {
					b.Fatal(err)
				}
				if !bytes.Equal(buf[4:], body) {
					b.Fatalf("reply of %d bytes, not the %d sent", len(buf)-4, len(body))
				}
			}
			roundTrip()
			for b.Loop() {
				roundTrip()
			}
		})
	}
}
