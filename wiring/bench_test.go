package wiring

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/httpapi"
)

// HTTP-level DAG benchmarks on a production node (badger under a temp
// dir, every put synced), the shape of PEER-FIGURES.md's Kubo figures.

func benchNode(b *testing.B) (base, bearer string) {
	b.Helper()
	cfg, err := Default(ProfileProduction)
	if err != nil {
		b.Fatal(err)
	}
	cfg.DataDir = b.TempDir()
	cfg.APIAddr, cfg.AdminAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.P2P.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
	cfg.LogLevel = "error"
	n, err := New(cfg, Options{Logger: discard(), Version: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = n.Stop(context.Background()) })
	tok, err := os.ReadFile(filepath.Join(cfg.DataDir, httpapi.APITokenFile))
	if err != nil {
		b.Fatal(err)
	}
	return "http://" + n.Server.Addr("api"), "Bearer " + strings.TrimSpace(string(tok))
}

var benchClient = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}

func call(b *testing.B, method, url, bearer, ct string, body []byte, want int) []byte {
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", bearer)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	res, err := benchClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	out, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil || res.StatusCode != want {
		b.Fatalf("%s %s: %d %s", method, url, res.StatusCode, out)
	}
	return out
}

// clients runs op from n clients until b.N ops are done; reports ops/s.
func clients(b *testing.B, n int, op func(i int64)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	began := time.Now()
	for range n {
		wg.Go(func() {
			for i := next.Add(1) - 1; i < int64(b.N); i = next.Add(1) - 1 {
				op(i)
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(began).Seconds(), "ops/s")
}

func BenchmarkHTTPBlock(b *testing.B) {
	for _, n := range []int{1, 8} {
		b.Run(fmt.Sprintf("put-1KiB/%d-clients", n), func(b *testing.B) {
			base, bearer := benchNode(b)
			payload := bytes.Repeat([]byte("x"), 1024)
			clients(b, n, func(i int64) {
				data := append(fmt.Appendf(nil, "%012d", i), payload[12:]...)
				call(b, "POST", base+"/api/v1/dag/blocks", bearer, "application/octet-stream", data, 201)
			})
		})
		b.Run(fmt.Sprintf("get-1KiB/%d-clients", n), func(b *testing.B) {
			base, bearer := benchNode(b)
			var cids []string
			for i := range 500 {
				data := append(fmt.Appendf(nil, "%012d", i), bytes.Repeat([]byte("y"), 1012)...)
				blk, _ := block.NewRaw(data)
				call(b, "POST", base+"/api/v1/dag/blocks", bearer, "application/octet-stream", data, 201)
				cids = append(cids, blk.CID().String())
			}
			clients(b, n, func(i int64) {
				call(b, "GET", base+"/api/v1/dag/blocks/"+cids[i%int64(len(cids))], bearer, "", nil, 200)
			})
		})
	}
	b.Run("put-64KiB/1-clients", func(b *testing.B) {
		base, bearer := benchNode(b)
		payload := bytes.Repeat([]byte("z"), 64<<10)
		clients(b, 1, func(i int64) {
			data := append(fmt.Appendf(nil, "%012d", i), payload[12:]...)
			call(b, "POST", base+"/api/v1/dag/blocks", bearer, "application/octet-stream", data, 201)
		})
		b.ReportMetric(float64(b.N*64)/1024/b.Elapsed().Seconds(), "MiB/s")
	})
}

// tenThousandCAR is a 10,101-block dag-cbor DAG as a CARv1, in the order
// our export writes it (root, then each child before its leaves).
func tenThousandCAR(b *testing.B) (root string, car []byte) {
	b.Helper()
	enc := func(v any) block.Block {
		blk, err := block.Encode(v)
		if err != nil {
			b.Fatal(err)
		}
		return blk
	}
	var children []block.Block
	var leaves [][]block.Block
	for c := range 100 {
		var ls []block.Block
		var links []any
		for l := range 100 {
			leaf := enc(map[string]any{"child": c, "leaf": l, "payload": strings.Repeat("p", 200)})
			ls = append(ls, leaf)
			links = append(links, block.LinkTo(leaf.CID()))
		}
		leaves = append(leaves, ls)
		children = append(children, enc(map[string]any{"child": c, "leaves": links}))
	}
	var links []any
	for _, ch := range children {
		links = append(links, block.LinkTo(ch.CID()))
	}
	r := enc(map[string]any{"children": links})
	var buf bytes.Buffer
	w, err := block.NewCARWriter(&buf, r.CID())
	if err != nil {
		b.Fatal(err)
	}
	_ = w.Write(r)
	for i, ch := range children {
		_ = w.Write(ch)
		for _, l := range leaves[i] {
			_ = w.Write(l)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	return r.CID().String(), buf.Bytes()
}

// BenchmarkCAR10101 imports a 10,101-block CAR (about 3 MB) into a fresh
// node, then exports it and checks the export is byte-identical.
func BenchmarkCAR10101(b *testing.B) {
	root, car := tenThousandCAR(b)
	b.Run("import", func(b *testing.B) {
		var total time.Duration
		for b.Loop() {
			b.StopTimer()
			base, bearer := benchNode(b)
			b.StartTimer()
			began := time.Now()
			call(b, "POST", base+"/api/v1/dag/car", bearer, "application/vnd.ipld.car", car, 201)
			total += time.Since(began)
		}
		b.ReportMetric(10101*float64(b.N)/total.Seconds(), "blocks/s")
	})
	b.Run("export", func(b *testing.B) {
		base, bearer := benchNode(b)
		call(b, "POST", base+"/api/v1/dag/car", bearer, "application/vnd.ipld.car", car, 201)
		var out []byte
		for b.Loop() {
			out = call(b, "GET", base+"/api/v1/dag/car/"+root, bearer, "", nil, 200)
		}
		b.ReportMetric(10101*float64(b.N)/b.Elapsed().Seconds(), "blocks/s")
		if !bytes.Equal(out, car) {
			b.Fatalf("export differs from the imported CAR (%d vs %d bytes)", len(out), len(car))
		}
	})
}
