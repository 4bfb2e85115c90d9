package wiring

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	carv2 "github.com/ipld/go-car/v2"
	"github.com/ipld/go-car/v2/storage"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/httpapi"
	"github.com/intercooperative-network/icn-go/services/runtest"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// api is a tiny client of a running node's public API.
type api struct {
	t     *testing.T
	base  string
	token string
}

func newAPI(t *testing.T, n *Node) *api {
	c := newClient(t, n)
	return &api{t: t, base: c.api, token: c.apiTok}
}

func (a *api) do(method, path, contentType string, body []byte) (int, http.Header, []byte) {
	a.t.Helper()
	req, err := http.NewRequestWithContext(a.t.Context(), method, a.base+path, bytes.NewReader(body))
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return res.StatusCode, res.Header, b
}

// json calls and decodes the answer, failing unless the status is want.
func (a *api) json(method, path, contentType string, body []byte, want int, out any) {
	a.t.Helper()
	status, _, b := a.do(method, path, contentType, body)
	if status != want {
		a.t.Fatalf("%s %s: %d %s, want %d", method, path, status, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: %v\n%s", method, path, err, b)
		}
	}
}

func (a *api) errorCode(method, path, contentType string, body []byte, want int) string {
	a.t.Helper()
	status, _, b := a.do(method, path, contentType, body)
	var eb httpapi.ErrorBody
	if status != want || json.Unmarshal(b, &eb) != nil || eb.Code == "" {
		a.t.Fatalf("%s %s: %d %s, want %d and the error shape", method, path, status, b, want)
	}
	return eb.Code
}

func startDAGNode(t *testing.T, mutate func(*Config)) *Node {
	t.Helper()
	cfg := testConfig(t, ProfileTest)
	if mutate != nil {
		mutate(&cfg)
	}
	n, err := New(cfg, Options{Logger: discard(), Version: "test"})
	if err != nil {
		t.Fatal(err)
	}
	runtest.Start(t, n)
	waitLedgerReady(t, n)
	return n
}

// waitLedgerReady waits until the ledger has loaded (or opened) the node's
// account: its open entry is then the one block a fresh node holds.
func waitLedgerReady(t testing.TB, n *Node) {
	t.Helper()
	if err := waitUntil(10*time.Second, func() bool {
		st, err := supervisors.Ask[*messages.SubsystemStatus](context.Background(), n.Tree, "ledger", &messages.StatusRequest{})
		return err == nil && st.Ready
	}); err != nil {
		t.Fatalf("the ledger never loaded: %v", err)
	}
}

// ledgerBlocks are the blocks the ledger writes at first start (the node
// account's open entry).
const ledgerBlocks = 1

func TestDAGOverHTTP(t *testing.T) {
	a := newAPI(t, startDAGNode(t, nil))
	var leaf httpapi.PutResult
	a.json("POST", "/api/v1/dag/blocks", "application/octet-stream", []byte("hello, co-op"), 201, &leaf)
	if !strings.HasPrefix(leaf.CID, "bafkrei") || leaf.Codec != "raw" || leaf.Size != 12 || !leaf.New || leaf.Pin != "recursive" {
		t.Fatalf("put raw: %+v", leaf)
	}
	status, h, body := a.do("GET", "/api/v1/dag/blocks/"+leaf.CID, "", nil)
	if status != 200 || string(body) != "hello, co-op" || h.Get("Content-Type") != "application/octet-stream" || h.Get("ETag") != `"`+leaf.CID+`"` {
		t.Fatalf("get: %d %v %q", status, h, body)
	}
	status, h, body = a.do("HEAD", "/api/v1/dag/blocks/"+leaf.CID, "", nil)
	if status != 200 || len(body) != 0 || h.Get("Content-Length") != "12" {
		t.Fatalf("head: %d %v", status, h)
	}

	var node httpapi.PutResult
	a.json("POST", "/api/v1/dag/blocks?pin=false&ttl=1h", "application/json",
		[]byte(`{"data": {"title": "minutes", "votes": [3, 1]}, "links": {"attachment": "`+leaf.CID+`"}}`), 201, &node)
	if node.Codec != "dag-cbor" || node.Pin != "" {
		t.Fatalf("put node: %+v", node)
	}
	_, _, js := a.do("GET", "/api/v1/dag/blocks/"+node.CID+"?format=json", "", nil)
	if want := `{"data":{"title":"minutes","votes":[3,1]},"links":{"attachment":{"/":"` + leaf.CID + `"}}}`; string(js) != want {
		t.Fatalf("format=json:\n%s\nwant\n%s", js, want)
	}
	var st httpapi.BlockStat
	a.json("GET", "/api/v1/dag/blocks/"+node.CID+"/stat", "", nil, 200, &st)
	if st.Pinned || len(st.Links) != 1 || st.Links[0] != leaf.CID || st.TTLSeconds < 3590 || st.TTLSeconds > 3600 {
		t.Fatalf("stat: %+v", st)
	}
	if ttl, err := time.ParseDuration(st.TTL); err != nil || int64(ttl/time.Second) != st.TTLSeconds {
		t.Fatalf("stat ttl %q, ttl_seconds %d: %v", st.TTL, st.TTLSeconds, err)
	}
	var p httpapi.PinResult
	a.json("POST", "/api/v1/dag/pins/"+node.CID, "", nil, 200, &p)
	if !p.Recursive || p.Missing != 0 {
		t.Fatalf("pin: %+v", p)
	}
	var pins httpapi.PinList
	a.json("GET", "/api/v1/dag/pins", "", nil, 200, &pins)
	if len(pins.Pins) != 2 {
		t.Fatalf("pins: %+v", pins)
	}
	a.json("DELETE", "/api/v1/dag/pins/"+node.CID, "", nil, 200, &p)
	if code := a.errorCode("DELETE", "/api/v1/dag/pins/"+node.CID, "", nil, 404); code != httpapi.CodeNotPinned {
		t.Fatalf("second unpin: %s", code)
	}
	var gc httpapi.GCResult
	a.json("POST", "/api/v1/dag/gc", "", nil, 200, &gc)
	if gc.RemovedCount != 0 || gc.Kept != 2+ledgerBlocks {
		t.Fatalf("gc keeps the pinned leaf and the node within its TTL: %+v", gc)
	}
}

func TestDAGRejectsBadInputAndStoresNothing(t *testing.T) {
	a := newAPI(t, startDAGNode(t, func(c *Config) { c.DAG.MaxBlockSize = 1024 }))
	unknown := block.Sum(block.Raw, []byte("nobody stored this")).String()
	tagged, err := block.Verified(block.Sum(block.DagCBOR, []byte{0xc1, 0x01}), []byte{0xc1, 0x01}) // tag 1 (a date)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, method, path, ct, body string
		status                       int
		code                         string
	}{
		{"bad cid", "GET", "/api/v1/dag/blocks/not-a-cid", "", "", 400, httpapi.CodeInvalidCID},
		{"unknown block", "GET", "/api/v1/dag/blocks/" + unknown, "", "", 404, httpapi.CodeBlockNotFound},
		{"unknown stat", "GET", "/api/v1/dag/blocks/" + unknown + "/stat", "", "", 404, httpapi.CodeBlockNotFound},
		{"pin unknown", "POST", "/api/v1/dag/pins/" + unknown, "", "", 404, httpapi.CodeBlockNotFound},
		{"bad json", "POST", "/api/v1/dag/blocks", "application/json", `{"data": `, 400, httpapi.CodeBadRequest},
		{"unknown json field", "POST", "/api/v1/dag/blocks", "application/json", `{"data": 1, "link": {}}`, 400, httpapi.CodeBadRequest},
		{"bad link", "POST", "/api/v1/dag/blocks", "application/json", `{"data": 1, "links": {"x": "nope"}}`, 400, httpapi.CodeInvalidCID},
		{"oversize raw", "POST", "/api/v1/dag/blocks", "application/octet-stream", strings.Repeat("x", 1025), 413, httpapi.CodeBlockTooLarge},
		{"oversize node", "POST", "/api/v1/dag/blocks", "application/json", `{"data": "` + strings.Repeat("x", 2000) + `"}`, 413, httpapi.CodeBlockTooLarge},
		{"bad ttl", "POST", "/api/v1/dag/blocks?ttl=soon", "application/octet-stream", "x", 400, httpapi.CodeBadRequest},
		{"bad pin flag", "POST", "/api/v1/dag/blocks?pin=maybe", "application/octet-stream", "x", 400, httpapi.CodeBadRequest},
		{"json of a raw block", "GET", "/api/v1/dag/blocks/" + unknown + "?format=xml", "", "", 400, httpapi.CodeBadRequest},
		{"bad car", "POST", "/api/v1/dag/car", "application/vnd.ipld.car", "definitely not a car", 400, httpapi.CodeInvalidCAR},
		{"car with a non-link tag", "POST", "/api/v1/dag/car", "application/vnd.ipld.car", string(carOf(t, tagged)), 400, httpapi.CodeInvalidNode},
		{"trailing bracket", "POST", "/api/v1/dag/blocks", "application/json", `{"data": 1}]`, 400, httpapi.CodeBadRequest},
		{"lossy integer", "POST", "/api/v1/dag/blocks", "application/json", `{"data": 123456789012345678901234}`, 400, httpapi.CodeInvalidNode},
		{"underflowing float", "POST", "/api/v1/dag/blocks", "application/json", `{"data": 1e-400}`, 400, httpapi.CodeInvalidNode},
		{"car of unknown root", "GET", "/api/v1/dag/car/" + unknown, "", "", 404, httpapi.CodeBlockNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code := a.errorCode(tt.method, tt.path, tt.ct, []byte(tt.body), tt.status); code != tt.code {
				t.Fatalf("code %s, want %s", code, tt.code)
			}
		})
	}
	var gc httpapi.GCResult
	a.json("POST", "/api/v1/dag/gc", "", nil, 200, &gc)
	var pins httpapi.PinList
	a.json("GET", "/api/v1/dag/pins", "", nil, 200, &pins)
	if gc.Kept != ledgerBlocks || len(pins.Pins) != 0 {
		t.Fatalf("bad input stored something: %d blocks, %d pins", gc.Kept, len(pins.Pins))
	}
}

// carOf is a CARv1 of blocks whose root is the first.
func carOf(t *testing.T, blocks ...block.Block) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := block.NewCARWriter(&buf, blocks[0].CID())
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		if err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// sampleBlocks is a root linking two nodes that share a raw leaf.
func sampleBlocks(t *testing.T) (block.Block, []block.Block) {
	t.Helper()
	leaf, _ := block.NewRaw(bytes.Repeat([]byte("leaf "), 200))
	mk := func(v any) block.Block {
		b, err := block.Encode(v)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	a := mk(map[string]any{"name": "a", "leaf": block.LinkTo(leaf.CID())})
	b := mk(map[string]any{"name": "b", "leaf": block.LinkTo(leaf.CID())})
	root := mk(map[string]any{"kids": []any{block.LinkTo(a.CID()), block.LinkTo(b.CID())}})
	return root, []block.Block{root, a, leaf, b}
}

func TestCARExportIsReadByGoCARAndGoCARImports(t *testing.T) {
	a := newAPI(t, startDAGNode(t, nil))
	root, blocks := sampleBlocks(t)

	// Import a CARv2 written by go-car.
	f, err := os.Create(filepath.Join(t.TempDir(), "in.car"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := storage.NewWritable(f, []cid.Cid{root.CID()})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range blocks {
		if err := w.Put(t.Context(), b.CID().KeyString(), b.Data()); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finalize(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	in, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	var imp httpapi.ImportResult
	a.json("POST", "/api/v1/dag/car", "application/vnd.ipld.car", in, 201, &imp)
	if imp.Blocks != 4 || imp.New != 4 || !imp.Pinned || len(imp.Roots) != 1 || imp.Roots[0] != root.CID().String() {
		t.Fatalf("import: %+v", imp)
	}

	// Export it and read the CAR with go-car.
	status, h, out := a.do("GET", "/api/v1/dag/car/"+root.CID().String(), "", nil)
	if status != 200 || !strings.HasPrefix(h.Get("Content-Type"), "application/vnd.ipld.car") {
		t.Fatalf("export: %d %v %s", status, h, out)
	}
	br, err := carv2.NewBlockReader(bytes.NewReader(out))
	if err != nil {
		t.Fatal(err)
	}
	if len(br.Roots) != 1 || !br.Roots[0].Equals(root.CID()) {
		t.Fatalf("roots %v", br.Roots)
	}
	for i := 0; ; i++ {
		b, err := br.Next()
		if errors.Is(err, io.EOF) {
			if i != len(blocks) {
				t.Fatalf("exported %d blocks, want %d", i, len(blocks))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if !b.Cid().Equals(blocks[i].CID()) || !bytes.Equal(b.RawData(), blocks[i].Data()) {
			t.Fatalf("block %d: %s, want %s (depth first, parents first)", i, b.Cid(), blocks[i].CID())
		}
	}
}

func TestCARImportVerifiesEveryBlockAndPinsNothingOnError(t *testing.T) {
	a := newAPI(t, startDAGNode(t, nil))
	root, blocks := sampleBlocks(t)
	car := carOf(t, blocks...)
	bad := bytes.Clone(car)
	bad[len(bad)-1] ^= 0xff
	if code := a.errorCode("POST", "/api/v1/dag/car", "application/vnd.ipld.car", bad, 400); code != httpapi.CodeHashMismatch {
		t.Fatalf("tampered car: %s", code)
	}
	if code := a.errorCode("POST", "/api/v1/dag/car", "application/vnd.ipld.car", car[:len(car)-len(blocks[3].Data())-40], 400); code != httpapi.CodeInvalidCAR {
		t.Fatalf("truncated car: %s", code)
	}
	// A CAR that lacks part of its root's DAG stores what it has but pins
	// nothing, and says what is missing.
	partial := carOf(t, blocks[0], blocks[1])
	status, _, body := a.do("POST", "/api/v1/dag/car", "application/vnd.ipld.car", partial)
	var e httpapi.ErrorBody
	if err := json.Unmarshal(body, &e); err != nil || status != 409 || e.Code != httpapi.CodeIncompleteDAG {
		t.Fatalf("import of an incomplete DAG: %d %s", status, body)
	}
	if e.Details["missing_count"] != 2.0 || e.Details["blocks"] != 2.0 {
		t.Fatalf("details: %v", e.Details)
	}
	var pins httpapi.PinList
	a.json("GET", "/api/v1/dag/pins", "", nil, 200, &pins)
	if len(pins.Pins) != 0 {
		t.Fatalf("a failed import pinned %v", pins.Pins)
	}
	// Imported blocks are kept a day unpinned, so a long import is never
	// collected from under itself.
	var st httpapi.BlockStat
	a.json("GET", "/api/v1/dag/blocks/"+blocks[1].CID().String()+"/stat", "", nil, 200, &st)
	if st.TTLSeconds < 23*3600 {
		t.Fatalf("imported block kept only %ds", st.TTLSeconds)
	}
	// An incomplete DAG cannot be exported; HEAD says so without a body.
	if code := a.errorCode("GET", "/api/v1/dag/car/"+root.CID().String(), "", nil, 409); code != httpapi.CodeIncompleteDAG {
		t.Fatalf("export of an incomplete DAG: %s", code)
	}
	if status, _, _ := a.do("HEAD", "/api/v1/dag/car/"+root.CID().String(), "", nil); status != 409 {
		t.Fatalf("HEAD of an incomplete DAG: %d", status)
	}
	// The rest arrives: the import completes and pins.
	var imp httpapi.ImportResult
	a.json("POST", "/api/v1/dag/car?ttl=1h", "application/vnd.ipld.car", carOf(t, blocks[0], blocks[2], blocks[3]), 201, &imp)
	if !imp.Pinned || imp.New != 2 {
		t.Fatalf("import: %+v", imp)
	}
	status, h, body := a.do("HEAD", "/api/v1/dag/car/"+root.CID().String(), "", nil)
	if status != 200 || len(body) != 0 || !strings.HasPrefix(h.Get("Content-Type"), "application/vnd.ipld.car") {
		t.Fatalf("HEAD of a whole DAG: %d %q %v", status, body, h)
	}
}

func TestDAGGarbageCollectsExpiredUnpinnedBlocks(t *testing.T) {
	a := newAPI(t, startDAGNode(t, nil))
	var p httpapi.PutResult
	a.json("POST", "/api/v1/dag/blocks?pin=false&ttl=1ms", "application/octet-stream", []byte("ephemeral"), 201, &p)
	deadline := time.Now().Add(5 * time.Second)
	for {
		var gc httpapi.GCResult
		a.json("POST", "/api/v1/dag/gc", "", nil, 200, &gc)
		if gc.RemovedCount == 1 && gc.Removed[0] == p.CID {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("expired block never collected: %+v", gc)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if code := a.errorCode("GET", "/api/v1/dag/blocks/"+p.CID, "", nil, 404); code != httpapi.CodeBlockNotFound {
		t.Fatal(code)
	}
}

func TestRefsAreListedOverHTTP(t *testing.T) {
	n := startDAGNode(t, nil)
	a := newAPI(t, n)
	head, _ := block.NewRaw([]byte("head"))
	var updates []messages.RefUpdate
	for _, name := range []string{"test/head/a", "test/head/b", "test/head/c", "jobs/x"} {
		updates = append(updates, messages.RefUpdate{Name: name, New: head.CID()})
	}
	if _, err := n.Tree.Request(t.Context(), "dag", &messages.PutBlocks{Blocks: []block.Block{head}, Refs: updates}); err != nil {
		t.Fatal(err)
	}
	var page httpapi.RefList
	a.json("GET", "/api/v1/dag/refs?prefix=test/&limit=2", "", nil, 200, &page)
	if len(page.Refs) != 2 || page.Refs[0].Name != "test/head/a" || page.Refs[1].CID != head.CID().String() || page.Next != "test/head/b" {
		t.Fatalf("first page: %+v", page)
	}
	var last httpapi.RefList
	a.json("GET", "/api/v1/dag/refs?prefix=test/&limit=2&after="+page.Next, "", nil, 200, &last)
	if len(last.Refs) != 1 || last.Refs[0].Name != "test/head/c" || last.Next != "" {
		t.Fatalf("second page: %+v", last)
	}
	if code := a.errorCode("GET", "/api/v1/dag/refs?limit=0", "", nil, 400); code != httpapi.CodeBadRequest {
		t.Fatal(code)
	}
	// The ref keeps its block through garbage collection.
	var gc httpapi.GCResult
	a.json("POST", "/api/v1/dag/gc", "", nil, 200, &gc)
	if gc.RemovedCount != 0 {
		t.Fatalf("gc removed a block under a ref: %+v", gc)
	}
}
