package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/messages/block/blocktest"
	"github.com/intercooperative-network/icn-go/services/httpapi"
)

// BenchmarkFetchAcrossDaemons: icnd daemon B fetches a fresh DAG of 421
// blocks (POST /api/v1/dag/fetch/{root}) that daemon A imported as a CAR;
// the baseline in the same run is the same fetch call on A, which has
// every block (the same walk, each block a local get).
func BenchmarkFetchAcrossDaemons(b *testing.B) {
	bins := build(b)
	start := func(name string, extra ...string) (api, httpapi.NodeInfo) {
		dir := filepath.Join(b.TempDir(), name)
		d := startDaemonEnv(b, bins.icnd, dir, nil, extra...)
		c := newAPI(b, d.waitReady(b, dir, 30*time.Second), dir)
		var info httpapi.NodeInfo
		c.must(200, "GET", "/api/v1/node", nil, &info)
		return c, info
	}
	a, aInfo := start("a")
	var bootstrap string
	for _, addr := range aInfo.Addrs {
		if strings.HasPrefix(addr, "/ip4/127.0.0.1/tcp/") {
			bootstrap = addr + "/p2p/" + aInfo.PeerID
		}
	}
	c, _ := start("b", "--bootstrap", bootstrap)
	c.waitConnected(aInfo.PeerID, 15*time.Second)

	for _, size := range []int{4 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) {
			var fetched, blocks int
			var bytes int64
			var fetchTook, localTook time.Duration
			for range b.N {
				b.StopTimer()
				root, all, err := blocktest.WideDAG(20, size)
				if err != nil {
					b.Fatal(err)
				}
				importCAR(b, a, all)
				b.StartTimer()
				var r httpapi.FetchResult
				began := time.Now()
				c.must(200, "POST", "/api/v1/dag/fetch/"+root.String(), nil, &r)
				fetchTook += time.Since(began)
				if r.Fetched != len(all) {
					b.Fatalf("fetched %d of %d blocks", r.Fetched, len(all))
				}
				b.StopTimer()
				var l httpapi.FetchResult
				began = time.Now()
				a.must(200, "POST", "/api/v1/dag/fetch/"+root.String(), nil, &l)
				localTook += time.Since(began)
				if l.Fetched != 0 || l.Blocks != len(all) {
					b.Fatalf("local walk: %+v", l)
				}
				fetched += r.Fetched
				bytes += r.Bytes
				blocks += l.Blocks
				b.StartTimer()
			}
			b.ReportMetric(float64(fetched)/fetchTook.Seconds(), "fetch-blocks/s")
			b.ReportMetric(float64(bytes)/fetchTook.Seconds()/(1<<20), "fetch-MiB/s")
			b.ReportMetric(float64(blocks)/localTook.Seconds(), "local-blocks/s")
		})
	}
}

// importCAR stores blocks on a daemon as one CAR whose root, pinned, is
// the last block.
func importCAR(b *testing.B, to api, blocks []block.Block) {
	b.Helper()
	var car bytes.Buffer
	w, err := block.NewCARWriter(&car, blocks[len(blocks)-1].CID())
	if err != nil {
		b.Fatal(err)
	}
	for _, blk := range blocks {
		if err := w.Write(blk); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		b.Fatal(err)
	}
	req, err := http.NewRequest("POST", "http://"+to.addr+"/api/v1/dag/car", &car)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", to.bearer)
	req.Header.Set("Content-Type", "application/vnd.ipld.car")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer res.Body.Close()
	var r httpapi.ImportResult
	if err := json.NewDecoder(res.Body).Decode(&r); err != nil || res.StatusCode != 201 || r.Blocks != len(blocks) {
		b.Fatalf("import: %d %+v %v", res.StatusCode, r, err)
	}
}
