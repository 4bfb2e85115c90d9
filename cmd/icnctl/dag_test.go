package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode"

	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/httpapi"
)

// Canned blocks: a binary raw block, a text raw block, and a dag-cbor node
// linking to both.
var (
	binaryData = []byte("\x00\x01minutes\x1b[2J\xff\xfe\n\x00end") // no trailing newline
	textData   = []byte("Minutes of the general assembly\nAll in favour.\n")
	nodeJSON   = `{"data": {"title": "minutes", "votes": [3, 1]}, "links": {"binary": "` + cidOf(binaryData) + `", "text": "` + cidOf(textData) + `"}}`
)

func cidOf(data []byte) string { return block.Sum(block.Raw, data).String() }

func nodeBlock(t *testing.T) block.Block {
	t.Helper()
	var n block.Node
	if err := json.Unmarshal([]byte(nodeJSON), &n); err != nil {
		t.Fatal(err)
	}
	b, err := block.FromJSON(n)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// dagNode is a fake node whose public listener also serves the DAG API
// from the canned blocks, answering with the httpapi types. lengths records
// the Content-Length of each upload (-1: sent chunked, size unknown).
type dagNode struct {
	*node
	blocks map[string][]byte

	mu      sync.Mutex
	lengths []int64
}

func newDAGNode(t *testing.T) *dagNode {
	t.Helper()
	n := &dagNode{node: newNode(t, false), blocks: map[string][]byte{}}
	for _, b := range [][]byte{binaryData, textData} {
		n.blocks[cidOf(b)] = b
	}
	nb := nodeBlock(t)
	n.blocks[nb.CID().String()] = nb.Data()
	mux := n.api.mux
	mux.HandleFunc("POST /api/v1/dag/blocks", func(w http.ResponseWriter, r *http.Request) {
		n.record(r)
		body, _ := io.ReadAll(r.Body)
		var b block.Block
		var err error
		if r.Header.Get("Content-Type") == ctJSON {
			var bn block.Node
			if err = json.Unmarshal(body, &bn); err == nil {
				b, err = block.FromJSON(bn)
			}
		} else {
			b, err = block.NewRaw(body)
		}
		if err != nil {
			writeErrorBody(w, http.StatusBadRequest, httpapi.CodeInvalidNode, err.Error(), "")
			return
		}
		res := httpapi.PutResult{CID: b.CID().String(), Codec: block.CodecName(b.Codec()), Size: b.Size(), New: true}
		if r.URL.Query().Get("pin") != "false" {
			res.Pin = "recursive"
		}
		reply(http.StatusCreated, res)(w, r)
	})
	mux.HandleFunc("GET /api/v1/dag/blocks/{cid}", func(w http.ResponseWriter, r *http.Request) {
		data, ok := n.blocks[r.PathValue("cid")]
		if !ok {
			writeErrorBody(w, http.StatusNotFound, httpapi.CodeBlockNotFound, "dag: block not found", "")
			return
		}
		if r.URL.Query().Get("format") == "json" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, dagJSON())
			return
		}
		w.Header().Set("Content-Type", ctRaw)
		w.Write(data)
	})
	return n
}

// dagJSON is the node's DAG-JSON, as the real node writes it.
func dagJSON() string {
	return `{"data":{"title":"minutes","votes":[3,1]},"links":{"binary":{"/":"` + cidOf(binaryData) + `"},"text":{"/":"` + cidOf(textData) + `"}}}`
}

func (n *dagNode) record(r *http.Request) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.lengths = append(n.lengths, r.ContentLength)
}

func (n *dagNode) uploads() []int64 {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]int64(nil), n.lengths...)
}

// runIO runs icnctl with stdin, and stdout and stderr the caller keeps (to
// tell them apart in isTerminal).
func runIO(t *testing.T, a *app, stdin io.Reader, stdout, stderr io.Writer, args ...string) int {
	t.Helper()
	if stdin != nil {
		a.stdin = stdin
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	return run(ctx, a, args, stdout, stderr)
}

func TestDAGPut(t *testing.T) {
	dir := t.TempDir()
	binFile, nodeFile, emptyFile := filepath.Join(dir, "minutes.bin"), filepath.Join(dir, "node.json"), filepath.Join(dir, "empty")
	writeFile(t, binFile, string(binaryData))
	writeFile(t, nodeFile, nodeJSON)
	writeFile(t, emptyFile, "")
	nb := nodeBlock(t)
	tests := []struct {
		name   string
		args   []string
		stdin  string
		uri    string
		ct     string
		body   string
		length int64 // the upload's Content-Length: the file's size, or -1 for stdin (chunked)
		stdout string
	}{
		{"a file", []string{"dag", "put", binFile}, "", dagBlocksPath, ctRaw, string(binaryData), int64(len(binaryData)), cidOf(binaryData) + "\n"},
		{"stdin", []string{"dag", "put", "-"}, string(textData), dagBlocksPath, ctRaw, string(textData), -1, cidOf(textData) + "\n"},
		{"a JSON node, unpinned, with a TTL", []string{"dag", "put", "--json", "--pin=false", "--ttl", "24h", nodeFile}, "",
			dagBlocksPath + "?pin=false&ttl=24h0m0s", ctJSON, nodeJSON, int64(len(nodeJSON)), nb.CID().String() + "\n"},
		{"a JSON node from stdin", []string{"dag", "put", "--json", "-"}, nodeJSON, dagBlocksPath, ctJSON, nodeJSON, -1, nb.CID().String() + "\n"},
		{"an empty file", []string{"dag", "put", emptyFile}, "", dagBlocksPath, ctRaw, "", 0, cidOf(nil) + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newDAGNode(t)
			var out, errOut bytes.Buffer
			code := runIO(t, testApp(nil), strings.NewReader(tt.stdin), &out, &errOut, n.flags(tt.args...)...)
			if code != exitOK || out.String() != tt.stdout || errOut.String() != "" {
				t.Fatalf("exit %d\nstdout %q\n  want %q\nstderr %q", code, out.String(), tt.stdout, errOut.String())
			}
			reqs := n.api.requests()
			if len(reqs) != 1 || reqs[0].method != "POST" || reqs[0].uri != tt.uri || reqs[0].contentType != tt.ct ||
				reqs[0].body != tt.body || reqs[0].auth != "Bearer "+apiToken {
				t.Fatalf("requests: %+v", reqs)
			}
			if got := n.uploads(); len(got) != 1 || got[0] != tt.length {
				t.Fatalf("Content-Length %v, want %d", got, tt.length)
			}
		})
	}

	// -o json prints the node's whole answer.
	n := newDAGNode(t)
	r := runCmd(t, n.flags("-o", "json", "dag", "put", binFile)...)
	want := httpapi.PutResult{CID: cidOf(binaryData), Codec: "raw", Size: len(binaryData), New: true, Pin: "recursive"}
	if r.code != exitOK || normalize(t, []byte(r.stdout)) != normalize(t, mustJSON(t, want)) || !strings.HasPrefix(r.stdout, "{\n  \"") {
		t.Fatalf("exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
}

func TestDAGPutTooLarge(t *testing.T) {
	big := filepath.Join(t.TempDir(), "big.bin")
	writeFile(t, big, strings.Repeat("x", 5<<20))
	hint := "\n  %s is larger than one block may be on this node (its dag.max_block_size).\n" +
		"  Store large data as several blocks linked by a dag-cbor node, or as a CAR archive (icnctl dag import).\n"
	tests := []struct {
		name   string
		code   string
		msg    string
		args   []string
		stderr string
	}{
		{"over dag.max_block_size", httpapi.CodeBlockTooLarge,
			"dag: block too large: bafkreixyz is 5242880 bytes, the limit is 4194304 (dag.max_block_size)", []string{big},
			"icnctl: dag: block too large: bafkreixyz is 5242880 bytes, the limit is 4194304 (dag.max_block_size) (block_too_large)" +
				fmt.Sprintf(hint, big+" (5.0 MiB)")},
		{"over the body limit, from stdin", httpapi.CodeTooLarge, "request body larger than 5242880 bytes", []string{"-"},
			"icnctl: request body larger than 5242880 bytes (payload_too_large)" + fmt.Sprintf(hint, "stdin")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t, false)
			n.api.mux.HandleFunc("POST /api/v1/dag/blocks", failure(http.StatusRequestEntityTooLarge, tt.code, tt.msg, ""))
			var out, errOut bytes.Buffer
			code := runIO(t, testApp(nil), strings.NewReader("stdin bytes"), &out, &errOut, n.flags(append([]string{"dag", "put"}, tt.args...)...)...)
			if code != exitError || out.String() != "" || errOut.String() != tt.stderr {
				t.Fatalf("exit %d, stdout %q\nstderr %q\n  want %q", code, out.String(), errOut.String(), tt.stderr)
			}
		})
	}
}

func TestDAGGet(t *testing.T) {
	nb := nodeBlock(t)
	indented := "{\n  \"data\": {\n    \"title\": \"minutes\",\n    \"votes\": [\n      3,\n      1\n    ]\n  },\n  \"links\": {\n" +
		"    \"binary\": {\n      \"/\": \"" + cidOf(binaryData) + "\"\n    },\n    \"text\": {\n      \"/\": \"" + cidOf(textData) + "\"\n    }\n  }\n}\n"
	refused := "icnctl: block " + cidOf(binaryData) + " is binary: refusing to write it to a terminal; redirect it (icnctl dag get " +
		cidOf(binaryData) + " > block.bin) or pass --force\nRun 'icnctl dag get --help' for usage.\n"
	tests := []struct {
		name     string
		args     []string
		terminal bool
		code     int
		stdout   string
		stderr   string
		uri      string
	}{
		{"binary, byte for byte", []string{"dag", "get", cidOf(binaryData)}, false, exitOK, string(binaryData), "", "/api/v1/dag/blocks/" + cidOf(binaryData)},
		{"-o json does not apply", []string{"-o", "json", "dag", "get", cidOf(binaryData)}, false, exitOK, string(binaryData), "", "/api/v1/dag/blocks/" + cidOf(binaryData)},
		{"binary to a terminal", []string{"dag", "get", cidOf(binaryData)}, true, exitUsage, "", refused, "/api/v1/dag/blocks/" + cidOf(binaryData)},
		{"binary to a terminal, forced", []string{"dag", "get", cidOf(binaryData), "--force"}, true, exitOK, string(binaryData), "", "/api/v1/dag/blocks/" + cidOf(binaryData)},
		{"text to a terminal", []string{"dag", "get", cidOf(textData)}, true, exitOK, string(textData), "", "/api/v1/dag/blocks/" + cidOf(textData)},
		{"DAG-JSON, indented", []string{"dag", "get", "--json", nb.CID().String()}, true, exitOK, indented, "", "/api/v1/dag/blocks/" + nb.CID().String() + "?format=json"},
		{"DAG-JSON as sent", []string{"-o", "json", "dag", "get", "--json", nb.CID().String()}, false, exitOK, dagJSON(), "", "/api/v1/dag/blocks/" + nb.CID().String() + "?format=json"},
		{"unknown block", []string{"dag", "get", cidOf([]byte("nobody"))}, false, exitError, "", "icnctl: dag: block not found (block_not_found)\n", "/api/v1/dag/blocks/" + cidOf([]byte("nobody"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newDAGNode(t)
			a := testApp(nil)
			a.isTerminal = func(io.Writer) bool { return tt.terminal }
			r := runApp(t, a, n.flags(tt.args...)...)
			r.expect(t, tt.code, tt.stdout, tt.stderr)
			if reqs := n.api.requests(); len(reqs) != 1 || reqs[0].method != "GET" || reqs[0].uri != tt.uri {
				t.Fatalf("requests: %+v", reqs)
			}
		})
	}
}

func TestDAGStat(t *testing.T) {
	nb := nodeBlock(t)
	stat := func(pin string, ttl int64, links ...string) httpapi.BlockStat {
		return httpapi.BlockStat{CID: nb.CID().String(), Codec: "dag-cbor", Size: nb.Size(), Links: append([]string{}, links...),
			Pinned: pin != "", Pin: pin, StoredAt: "2026-11-27T12:00:00.123456789Z", ExpiresAt: "2026-11-27T13:00:00.5Z", TTLSeconds: ttl}
	}
	head := fmt.Sprintf("CID      %s\nCodec    dag-cbor\nSize     %d bytes\n", nb.CID(), nb.Size())
	tests := []struct {
		name string
		st   httpapi.BlockStat
		want string
	}{
		{"unpinned, with links", stat("", 3598, cidOf(binaryData), cidOf(textData)), head +
			"Pin      -\nStored   2026-11-27T12:00:00Z\nExpires  2026-11-27T13:00:00Z (59m58s left)\n" +
			"Links    " + cidOf(binaryData) + "\n         " + cidOf(textData) + "\n"},
		{"pinned, retention passed", stat("recursive", 0), head +
			"Pin      recursive\nStored   2026-11-27T12:00:00Z\nExpires  2026-11-27T13:00:00Z (passed; kept while pinned)\nLinks    -\n"},
		{"unpinned, retention passed", stat("", 0), head +
			"Pin      -\nStored   2026-11-27T12:00:00Z\nExpires  2026-11-27T13:00:00Z (passed; the next GC removes it unless a pin reaches it)\nLinks    -\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t, false)
			n.api.mux.HandleFunc("GET /api/v1/dag/blocks/{cid}/stat", reply(http.StatusOK, tt.st))
			r := runCmd(t, n.flags("dag", "stat", nb.CID().String())...)
			if r.code != exitOK || r.stdout != tt.want || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q, got:\n%s\nwant:\n%s", r.code, r.stderr, r.stdout, tt.want)
			}
			r = runCmd(t, n.flags("-o", "json", "dag", "stat", nb.CID().String())...)
			if r.code != exitOK || normalize(t, []byte(r.stdout)) != normalize(t, mustJSON(t, tt.st)) {
				t.Fatalf("-o json: exit %d: %s%s", r.code, r.stdout, r.stderr)
			}
			if got := n.api.count("/api/v1/dag/blocks/" + nb.CID().String() + "/stat"); got != 2 {
				t.Fatalf("%d stat requests", got)
			}
		})
	}
}

func TestDAGPins(t *testing.T) {
	root, leaf := nodeBlock(t).CID().String(), cidOf(textData)
	list := httpapi.PinList{Pins: []httpapi.PinResult{
		{CID: root, Recursive: true, PinnedAt: "2026-11-27T12:00:00.25Z"},
		{CID: leaf, Recursive: false, PinnedAt: "2026-11-27T12:30:00Z"},
	}}
	n := newNode(t, false)
	n.api.mux.HandleFunc("GET /api/v1/dag/pins", reply(http.StatusOK, list))
	n.api.mux.HandleFunc("POST /api/v1/dag/pins/{cid}", func(w http.ResponseWriter, r *http.Request) {
		recursive := r.URL.Query().Get("recursive") != "false"
		missing := 0
		if recursive {
			missing = 3
		}
		reply(http.StatusOK, httpapi.PinResult{CID: r.PathValue("cid"), Recursive: recursive, PinnedAt: "2026-11-27T12:00:00Z", Missing: missing})(w, r)
	})
	n.api.mux.HandleFunc("DELETE /api/v1/dag/pins/{cid}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("cid") == leaf {
			writeErrorBody(w, http.StatusNotFound, httpapi.CodeNotPinned, "dag: not pinned", "")
			return
		}
		reply(http.StatusOK, list.Pins[0])(w, r)
	})
	tests := []struct {
		args   []string
		code   int
		stdout string
		stderr string
		req    string // method and URI
	}{
		{[]string{"pins"}, exitOK, "CID" + strings.Repeat(" ", len(root)-1) + "PIN        PINNED AT\n" +
			root + "  recursive  2026-11-27T12:00:00Z\n" + leaf + strings.Repeat(" ", len(root)-len(leaf)) + "  direct     2026-11-27T12:30:00Z\n", "",
			"GET /api/v1/dag/pins"},
		{[]string{"pin", root}, exitOK, "pinned " + root + " (recursive)\nthis node lacks 3 blocks under it; they are kept once they arrive (icnctl dag import)\n", "",
			"POST /api/v1/dag/pins/" + root},
		{[]string{"pin", "--recursive=false", leaf}, exitOK, "pinned " + leaf + " (direct)\n", "",
			"POST /api/v1/dag/pins/" + leaf + "?recursive=false"},
		{[]string{"unpin", root}, exitOK, "unpinned " + root + " (recursive, pinned since 2026-11-27T12:00:00Z); it is kept until its retention passes, or while another pin reaches it\n", "",
			"DELETE /api/v1/dag/pins/" + root},
		{[]string{"unpin", leaf}, exitError, "", "icnctl: dag: not pinned (not_pinned)\n", "DELETE /api/v1/dag/pins/" + leaf},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			before := len(n.api.requests())
			r := runCmd(t, n.flags(append([]string{"dag"}, tt.args...)...)...)
			r.expect(t, tt.code, tt.stdout, tt.stderr)
			reqs := n.api.requests()[before:]
			if len(reqs) != 1 || reqs[0].method+" "+reqs[0].uri != tt.req || reqs[0].auth != "Bearer "+apiToken {
				t.Fatalf("requests: %+v", reqs)
			}
		})
	}
	r := runCmd(t, n.flags("-o", "json", "dag", "pins")...)
	if r.code != exitOK || normalize(t, []byte(r.stdout)) != normalize(t, mustJSON(t, list)) {
		t.Fatalf("-o json: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	empty := newNode(t, false)
	empty.api.mux.HandleFunc("GET /api/v1/dag/pins", reply(http.StatusOK, httpapi.PinList{Pins: []httpapi.PinResult{}}))
	if r := runCmd(t, empty.flags("dag", "pins")...); r.code != exitOK || r.stdout != "no pins\n" {
		t.Fatalf("no pins: exit %d %q", r.code, r.stdout)
	}
}

func TestDAGGC(t *testing.T) {
	var removed []string
	for i := range 25 {
		removed = append(removed, cidOf(fmt.Appendf(nil, "garbage %d", i)))
	}
	gc := httpapi.GCResult{Removed: removed, RemovedCount: 25, RemovedBytes: 1288490, Kept: 7, TookMS: 3.25}
	n := newNode(t, false)
	n.api.mux.HandleFunc("POST /api/v1/dag/gc", reply(http.StatusOK, gc))
	want := "removed 25 blocks (1.2 MiB), kept 7, in 3.25ms\n  " + strings.Join(removed[:20], "\n  ") + "\n  and 5 more\n"
	r := runCmd(t, n.flags("dag", "gc")...)
	if r.code != exitOK || r.stdout != want || r.stderr != "" {
		t.Fatalf("exit %d, stderr %q, got:\n%s\nwant:\n%s", r.code, r.stderr, r.stdout, want)
	}
	if reqs := n.api.requests(); len(reqs) != 1 || reqs[0].method != "POST" || reqs[0].uri != dagGCPath {
		t.Fatalf("requests: %+v", reqs)
	}
	r = runCmd(t, n.flags("-o", "json", "dag", "gc")...)
	if r.code != exitOK || normalize(t, []byte(r.stdout)) != normalize(t, mustJSON(t, gc)) {
		t.Fatalf("-o json: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}

	// The node lists at most 10,000 of the removed blocks: the count says how many more.
	nothing := newNode(t, false)
	nothing.api.mux.HandleFunc("POST /api/v1/dag/gc", reply(http.StatusOK, httpapi.GCResult{Removed: removed[:1], RemovedCount: 12001, RemovedBytes: 100, Kept: 0}))
	if r := runCmd(t, nothing.flags("dag", "gc")...); r.code != exitOK || r.stdout != "removed 12001 blocks (100 B), kept 0, in 0s\n  "+removed[0]+"\n  and 12000 more\n" {
		t.Fatalf("exit %d %q", r.code, r.stdout)
	}
}

// notifyWriter is a stdout that says when it has received n bytes.
type notifyWriter struct {
	syncBuffer
	n, got int // got: written so far (by one writer)
	once   sync.Once
	seen   chan struct{}
}

func (w *notifyWriter) Write(p []byte) (int, error) {
	n, err := w.syncBuffer.Write(p)
	if w.got += n; w.got >= w.n {
		w.once.Do(func() { close(w.seen) })
	}
	return n, err
}

// archive is a fake CAR: a few MiB that are not all alike.
func archive() []byte {
	var b bytes.Buffer
	for i := 0; b.Len() < 4<<20; i++ {
		fmt.Fprintf(&b, "block %08d \x00\xff\x1b", i)
	}
	return b.Bytes()
}

func TestDAGExportStreams(t *testing.T) {
	root := nodeBlock(t).CID().String()
	car := archive()
	const chunk = 64 << 10
	n := newNode(t, false)
	out := &notifyWriter{n: chunk, seen: make(chan struct{})}
	n.api.mux.HandleFunc("GET /api/v1/dag/car/{root}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("root") != root || r.Header.Get("Accept") != ctCAR {
			writeErrorBody(w, http.StatusBadRequest, httpapi.CodeBadRequest, "wrong request", "")
			return
		}
		w.Header().Set("Content-Type", ctCAR+"; version=1")
		rc := http.NewResponseController(w)
		for i := 0; i < len(car); i += chunk {
			w.Write(car[i:min(i+chunk, len(car))])
			_ = rc.Flush()
			if i == 0 {
				// The rest only once the first chunk reached stdout: an
				// icnctl that buffered the archive would never see it.
				select {
				case <-out.seen:
				case <-r.Context().Done():
					return
				case <-time.After(10 * time.Second):
					return
				}
				// Slower than --timeout: the stream must not be cut by it.
				time.Sleep(300 * time.Millisecond)
			}
		}
	})
	var errOut bytes.Buffer
	a := testApp(nil)
	a.isTerminal = func(w io.Writer) bool { return w != io.Writer(out) } // stderr is a terminal, stdout is not
	code := runIO(t, a, nil, out, &errOut, n.flags("--timeout", "100ms", "dag", "export", root)...)
	if code != exitOK || errOut.String() != "" {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if got := out.String(); got != string(car) {
		t.Fatalf("stdout is %d bytes, not the %d of the archive (or differs)", len(got), len(car))
	}
}

func TestDAGExportRefusesATerminal(t *testing.T) {
	root := nodeBlock(t).CID().String()
	n := newNode(t, false)
	n.api.mux.HandleFunc("GET /api/v1/dag/car/{root}", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "CAR bytes") })
	a := testApp(nil)
	a.isTerminal = func(io.Writer) bool { return true }
	r := runApp(t, a, n.flags("dag", "export", root)...)
	want := "icnctl: refusing to write a CAR archive (binary) to a terminal; redirect it: icnctl dag export " + root +
		" > dag.car (or pass --force)\nRun 'icnctl dag export --help' for usage.\n"
	if r.code != exitUsage || r.stdout != "" || r.stderr != want {
		t.Fatalf("exit %d, stdout %q\nstderr %q\n  want %q", r.code, r.stdout, r.stderr, want)
	}
	if reqs := n.api.requests(); len(reqs) != 0 {
		t.Fatalf("asked the node: %+v", reqs)
	}
	if r := runApp(t, a, n.flags("dag", "export", "--force", root)...); r.code != exitOK || r.stdout != "CAR bytes" {
		t.Fatalf("--force: exit %d %q %s", r.code, r.stdout, r.stderr)
	}
}

func TestDAGExportIncomplete(t *testing.T) {
	root := nodeBlock(t).CID().String()
	var missing []string
	for i := range 7 {
		missing = append(missing, cidOf(fmt.Appendf(nil, "missing %d", i)))
	}
	msg := "this node lacks %d blocks of the DAG under " + root
	tests := []struct {
		name    string
		details map[string]any
		stderr  string
	}{
		{"many", map[string]any{"missing": missing, "missing_count": 120},
			"icnctl: " + fmt.Sprintf(msg, 120) + " (incomplete_dag)\n  120 blocks missing, the first 5:\n    " + strings.Join(missing[:5], "\n    ") +
				"\n  Import them (icnctl dag import FILE.car from a node that has them), then export again.\n"},
		{"few", map[string]any{"missing": missing[:2], "missing_count": 2},
			"icnctl: " + fmt.Sprintf(msg, 2) + " (incomplete_dag)\n  2 blocks missing:\n    " + strings.Join(missing[:2], "\n    ") +
				"\n  Import them (icnctl dag import FILE.car from a node that has them), then export again.\n"},
		{"hostile details", map[string]any{"missing": []any{"\x1b[2Jbafy", 7}, "missing_count": "many"},
			"icnctl: " + fmt.Sprintf(msg, 1) + " (incomplete_dag)\n  1 block missing:\n    ?[2Jbafy" +
				"\n  Import them (icnctl dag import FILE.car from a node that has them), then export again.\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t, false)
			count, _ := tt.details["missing_count"].(int)
			n.api.mux.HandleFunc("GET /api/v1/dag/car/{root}", reply(http.StatusConflict, httpapi.ErrorBody{
				Error: fmt.Sprintf(msg, max(count, 1)), Code: httpapi.CodeIncompleteDAG, Details: tt.details}))
			r := runCmd(t, n.flags("dag", "export", root)...)
			if r.code != exitError || r.stdout != "" || r.stderr != tt.stderr {
				t.Fatalf("exit %d, stdout %q\nstderr %q\n  want %q", r.code, r.stdout, r.stderr, tt.stderr)
			}
		})
	}
}

func TestDAGExportInterrupted(t *testing.T) {
	root := nodeBlock(t).CID().String()
	n := newNode(t, false)
	n.api.mux.HandleFunc("GET /api/v1/dag/car/{root}", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("the first blocks"))
		_ = http.NewResponseController(w).Flush()
		select { // then nothing, until the client or the test goes away
		case <-r.Context().Done():
		case <-n.api.done:
		}
	})
	out := &notifyWriter{n: 1, seen: make(chan struct{})}
	var errOut syncBuffer
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	exit := make(chan int, 1)
	go func() { exit <- run(ctx, testApp(nil), n.flags("dag", "export", root), out, &errOut) }()
	<-out.seen
	cancel() // as SIGINT does
	select {
	case code := <-exit:
		if code != exitError || errOut.String() != "icnctl: interrupted\n" || out.String() != "the first blocks" {
			t.Fatalf("exit %d, stdout %q, stderr %q", code, out.String(), errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("export did not end on cancellation")
	}
}

func TestDAGExportCutShort(t *testing.T) {
	root := nodeBlock(t).CID().String()
	n := newNode(t, false)
	n.api.mux.HandleFunc("GET /api/v1/dag/car/{root}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", ctCAR)
		w.Write([]byte("the first blocks"))
		_ = http.NewResponseController(w).Flush()
		panic(http.ErrAbortHandler) // as the node does when a block cannot be read mid-stream
	})
	r := runCmd(t, n.flags("dag", "export", root)...)
	if r.code != exitError || r.stdout != "the first blocks" ||
		!strings.HasPrefix(r.stderr, "icnctl: export "+root+": the transfer from "+n.api.hostPort()+" broke after 16 bytes: ") ||
		!strings.HasSuffix(r.stderr, "; what was written is incomplete\n") {
		t.Fatalf("exit %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}

	// A failing stdout is not the node's fault.
	var errOut bytes.Buffer
	code := runIO(t, testApp(nil), nil, failingWriter{}, &errOut, n.flags("dag", "export", root)...)
	if want := "icnctl: export " + root + ": writing the output failed after 0 bytes: no space left on device\n"; code != exitError || errOut.String() != want {
		t.Fatalf("exit %d, stderr %q\n  want %q", code, errOut.String(), want)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("no space left on device") }

// carFile writes a CAR of the canned blocks and returns its path and bytes.
func carFile(t *testing.T) (string, []byte) {
	t.Helper()
	nb := nodeBlock(t)
	var buf bytes.Buffer
	w, err := block.NewCARWriter(&buf, nb.CID())
	if err != nil {
		t.Fatal(err)
	}
	raw1, _ := block.NewRaw(binaryData)
	raw2, _ := block.NewRaw(textData)
	filler, _ := block.NewRaw(bytes.Repeat([]byte("co-op "), 100_000)) // a big block: several reads
	for _, b := range []block.Block{nb, raw1, raw2, filler} {
		if err := w.Write(b); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "dag.car")
	writeFile(t, path, buf.String())
	return path, buf.Bytes()
}

// importCAR is a fake import: it reads the archive as the node does.
func (n *dagNode) importCAR(w http.ResponseWriter, r *http.Request) {
	n.record(r)
	cr, err := block.NewCARReader(r.Body, block.MaxSize)
	if err != nil {
		writeErrorBody(w, http.StatusBadRequest, httpapi.CodeInvalidCAR, err.Error(), "")
		return
	}
	res := httpapi.ImportResult{Roots: []string{}}
	for {
		b, err := cr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			writeErrorBody(w, http.StatusBadRequest, httpapi.CodeInvalidCAR, err.Error(), "")
			return
		}
		res.Blocks++
		res.New++
		res.Bytes += int64(b.Size())
	}
	for _, c := range cr.Roots {
		res.Roots = append(res.Roots, c.String())
	}
	res.Pinned = r.URL.Query().Get("pin") != "false"
	reply(http.StatusCreated, res)(w, r)
}

func TestDAGImport(t *testing.T) {
	path, car := carFile(t)
	root := nodeBlock(t).CID().String()
	size := humanBytes(int64(len(car)))
	stored := int64(600_000 + len(binaryData) + len(textData) + nodeBlock(t).Size())
	result := "Roots   " + root + "\nBlocks  4 (4 new)\nBytes   " + humanBytes(stored) + "\nPinned  %s\n"
	tests := []struct {
		name     string
		args     []string
		stdin    io.Reader
		terminal bool // stderr is a terminal
		uri      string
		length   int64
		stdout   string
		progress string // the end of stderr
	}{
		{"a file", []string{path}, nil, false, dagCARPath, int64(len(car)), fmt.Sprintf(result, "yes"), ""},
		{"a file, progress on a terminal", []string{path}, nil, true, dagCARPath, int64(len(car)), fmt.Sprintf(result, "yes"),
			"\rsent " + size + " of " + size + " (100%)\x1b[K\n"},
		{"stdin, unpinned, progress on a terminal", []string{"--pin=false", "-"}, bytes.NewReader(car), true, dagCARPath + "?pin=false", -1,
			fmt.Sprintf(result, "no"), "\rsent " + size + "\x1b[K\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newDAGNode(t)
			n.api.mux.HandleFunc("POST /api/v1/dag/car", n.importCAR)
			var out, errOut bytes.Buffer
			a := testApp(nil)
			a.progressEvery = time.Millisecond
			a.isTerminal = func(w io.Writer) bool { return tt.terminal && w == io.Writer(&errOut) }
			code := runIO(t, a, tt.stdin, &out, &errOut, n.flags(append([]string{"dag", "import"}, tt.args...)...)...)
			if code != exitOK || out.String() != tt.stdout || !strings.HasSuffix(errOut.String(), tt.progress) || tt.progress == "" && errOut.Len() > 0 {
				t.Fatalf("exit %d\nstdout %q\n  want %q\nstderr %q\n  want %q", code, out.String(), tt.stdout, errOut.String(), tt.progress)
			}
			reqs := n.api.requests()
			if len(reqs) != 1 || reqs[0].method != "POST" || reqs[0].uri != tt.uri || reqs[0].contentType != ctCAR || reqs[0].body != string(car) {
				t.Fatalf("requests: %d, %q %q %q, body equal %v", len(reqs), reqs[0].method, reqs[0].uri, reqs[0].contentType, reqs[0].body == string(car))
			}
			if got := n.uploads(); len(got) != 1 || got[0] != tt.length {
				t.Fatalf("Content-Length %v, want %d", got, tt.length)
			}
		})
	}

	n := newDAGNode(t)
	n.api.mux.HandleFunc("POST /api/v1/dag/car", n.importCAR)
	r := runCmd(t, n.flags("-o", "json", "dag", "import", path)...)
	want := httpapi.ImportResult{Roots: []string{root}, Blocks: 4, New: 4, Bytes: stored, Pinned: true}
	if r.code != exitOK || normalize(t, []byte(r.stdout)) != normalize(t, mustJSON(t, want)) {
		t.Fatalf("-o json: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
	bad := filepath.Join(t.TempDir(), "bad.car")
	writeFile(t, bad, "definitely not a car")
	if r := runCmd(t, n.flags("dag", "import", bad)...); r.code != exitError || !strings.HasPrefix(r.stderr, "icnctl: block: invalid CAR") ||
		!strings.HasSuffix(r.stderr, "(invalid_car)\n") {
		t.Fatalf("bad car: exit %d %q", r.code, r.stderr)
	}
}

func TestDAGBadInput(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope.bin")
	tests := []struct {
		args []string
		code int
		want string // in stderr
	}{
		{[]string{"get", "bafyXYZ"}, exitUsage, `icnctl: block: invalid CID: "bafyXYZ": invalid cid: `},
		{[]string{"stat", "nope"}, exitUsage, `icnctl: block: invalid CID: "nope": invalid cid: selected encoding not supported (want a CID as icnctl dag put prints it, such as bafkrei...)`},
		{[]string{"pin", cidOf(textData)[:20]}, exitUsage, `block: invalid CID: "` + cidOf(textData)[:20] + `"`},
		{[]string{"unpin", ""}, exitUsage, `block: invalid CID: ""`},
		{[]string{"export", "bafy0"}, exitUsage, `block: invalid CID: "bafy0"`},
		{[]string{"get"}, exitUsage, "accepts 1 arg(s), received 0"},
		{[]string{"put"}, exitUsage, "accepts 1 arg(s), received 0"},
		{[]string{"put", "--ttl", "0s", "-"}, exitUsage, "--ttl 0s: want a positive duration such as 90s or 24h"},
		{[]string{"put", "--ttl", "-1h", "-"}, exitUsage, "--ttl -1h0m0s: want a positive duration"},
		{[]string{"import", "--ttl", "0s", "-"}, exitUsage, "--ttl 0s: want a positive duration such as 90s or 24h"},
		{[]string{"pins", "extra"}, exitUsage, `unknown command "extra" for "icnctl dag pins"`},
		{[]string{"bogus"}, exitUsage, `unknown command "bogus" for "icnctl dag"`},
		{[]string{"put", missing}, exitError, "icnctl: open " + missing + ": no such file or directory\n"},
		{[]string{"import", filepath.Dir(missing)}, exitError, "icnctl: " + filepath.Dir(missing) + " is a directory\n"},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			n := newNode(t, false)
			r := runCmd(t, n.flags(append([]string{"dag"}, tt.args...)...)...)
			if r.code != tt.code || !strings.Contains(r.stderr, tt.want) || r.stdout != "" {
				t.Fatalf("exit %d (want %d), stdout %q, stderr %q", r.code, tt.code, r.stdout, r.stderr)
			}
			if tt.code == exitUsage && !strings.Contains(r.stderr, "--help' for usage") {
				t.Fatalf("no usage hint: %q", r.stderr)
			}
			if reqs := n.api.requests(); len(reqs) != 0 {
				t.Fatalf("asked the node: %+v", reqs)
			}
		})
	}
	if r := runCmd(t, "dag"); r.code != exitOK || !strings.Contains(r.stdout, "export") || !strings.Contains(r.stdout, "dag.gc_grace") {
		t.Fatalf("dag alone: exit %d\n%s", r.code, r.stdout)
	}
}

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB", 1 << 42: "4.0 TiB", 1 << 52: "4096.0 TiB"} {
		if got := humanBytes(n); got != want {
			t.Errorf("humanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestDAGRenderingIsInert(t *testing.T) {
	evil := "bafy\x1b[2J\x1b]0;pwned\x07\r\u009b31m"
	var b strings.Builder
	renderBlockStat(&b, httpapi.BlockStat{CID: evil, Codec: evil, Links: []string{evil}, Pin: evil, StoredAt: evil, ExpiresAt: evil})
	renderPins(&b, httpapi.PinList{Pins: []httpapi.PinResult{{CID: evil, PinnedAt: evil}}})
	renderPinned(&b, httpapi.PinResult{CID: evil, Missing: 2})
	renderUnpinned(&b, httpapi.PinResult{CID: evil, PinnedAt: evil})
	renderGC(&b, httpapi.GCResult{Removed: []string{evil}, RemovedCount: 1})
	renderImport(&b, httpapi.ImportResult{Roots: []string{evil}})
	if strings.ContainsFunc(b.String(), func(r rune) bool { return unicode.IsControl(r) && r != '\n' }) {
		t.Fatalf("a control character got through: %q", b.String())
	}
}

func TestPrintable(t *testing.T) {
	for s, want := range map[string]bool{
		"": true, "minutes\r\n\tagreed: yes\n": true, "coopérative ✓": true,
		"\x1b[2J": false, "\x00": false, "\xff": false, "\u009b31m": false, "bell\x07": false,
	} {
		if got := printable([]byte(s)); got != want {
			t.Errorf("printable(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestDAGRefs(t *testing.T) {
	head := cidOf(textData)
	n := newNode(t, false)
	var uri string
	n.api.mux.HandleFunc("GET /api/v1/dag/refs", func(w http.ResponseWriter, r *http.Request) {
		uri = r.URL.RequestURI()
		reply(http.StatusOK, httpapi.RefList{Refs: []httpapi.RefInfo{
			{Name: "ledger/head/a", CID: head, UpdatedAt: "2026-11-27T12:00:00Z"},
		}, Next: "ledger/head/a"})(w, r)
	})
	r := runCmd(t, n.flags("dag", "refs", "ledger/", "--limit", "1", "--after", "ledger/head/0")...)
	want := "NAME           CID" + strings.Repeat(" ", len(head)-3) + "  UPDATED AT\nledger/head/a  " + head + "  2026-11-27T12:00:00Z\n" +
		"more: icnctl dag refs --after ledger/head/a\n"
	if r.code != exitOK || r.stdout != want || r.stderr != "" {
		t.Fatalf("exit %d\nstdout %q\nwant   %q\nstderr %q", r.code, r.stdout, want, r.stderr)
	}
	if uri != "/api/v1/dag/refs?after=ledger%2Fhead%2F0&limit=1&prefix=ledger%2F" {
		t.Fatalf("request %s", uri)
	}
	if r := runCmd(t, n.flags("dag", "refs", "--limit", "20000")...); r.code != exitUsage {
		t.Fatalf("--limit 20000: exit %d", r.code)
	}
}

func TestDAGFetch(t *testing.T) {
	root := cidOf([]byte("a root"))
	n := newNode(t, false)
	res := httpapi.FetchResult{Root: root, Blocks: 200, Fetched: 199, Bytes: 2 << 20, Pinned: true, TookMS: 120.5}
	n.api.mux.HandleFunc("POST /api/v1/dag/fetch/{root}", reply(http.StatusOK, res))
	r := runCmd(t, n.flags("dag", "fetch", root)...)
	if want := root + ": 200 blocks, 199 fetched (2.0 MiB) in 120.5ms; pinned\n"; r.code != exitOK || r.stdout != want {
		t.Fatalf("exit %d, stderr %q, got %q, want %q", r.code, r.stderr, r.stdout, want)
	}
	runCmd(t, n.flags("dag", "fetch", "--pin=false", root)...)
	reqs := n.api.requests()
	if len(reqs) != 2 || reqs[0].uri != dagFetchPath+"/"+root || reqs[1].uri != dagFetchPath+"/"+root+"?pin=false" {
		t.Fatalf("requests: %+v", reqs)
	}
	if r := runCmd(t, n.flags("dag", "fetch", "not-a-cid")...); r.code != exitUsage {
		t.Fatalf("a bad CID: exit %d", r.code)
	}

	// get --fetch asks the node to fetch what it lacks.
	g := newNode(t, false)
	g.api.mux.HandleFunc("GET /api/v1/dag/blocks/{cid}", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("bytes")) })
	if r := runCmd(t, g.flags("dag", "get", "--fetch", root)...); r.code != exitOK || r.stdout != "bytes" {
		t.Fatalf("get --fetch: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if reqs := g.api.requests(); len(reqs) != 1 || reqs[0].uri != dagBlocksPath+"/"+root+"?fetch=true" {
		t.Fatalf("get --fetch requests: %+v", reqs)
	}
}
