package httpapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
)

// The dag actor's name in the tree.
const dagActor = "dag"

// Content types of blocks and archives.
const (
	ctRaw     = "application/octet-stream"
	ctDagCBOR = "application/vnd.ipld.dag-cbor"
	ctCAR     = "application/vnd.ipld.car"
)

// maxImportBytes bounds a CAR import.
const maxImportBytes = 4 << 30

// PutResult answers a block put.
type PutResult struct {
	CID   string `json:"cid"`
	Codec string `json:"codec"`
	Size  int    `json:"size"`
	New   bool   `json:"new"`
	Pin   string `json:"pin,omitempty"`
}

// BlockStat is GET /api/v1/dag/blocks/{cid}/stat.
type BlockStat struct {
	CID      string   `json:"cid"`
	Codec    string   `json:"codec"`
	Size     int      `json:"size"`
	Links    []string `json:"links"`
	Pinned   bool     `json:"pinned"`
	Pin      string   `json:"pin,omitempty"` // recursive | direct
	StoredAt string   `json:"stored_at"`
	// ExpiresAt is when the block becomes collectable if nothing pinned
	// reaches it; TTL is what is left of that as a Go duration ("0s" once
	// passed), TTLSeconds the same in whole seconds.
	ExpiresAt  string `json:"expires_at"`
	TTL        string `json:"ttl"`
	TTLSeconds int64  `json:"ttl_seconds"`
}

// PinResult describes a pin.
type PinResult struct {
	CID       string `json:"cid"`
	Recursive bool   `json:"recursive"`
	PinnedAt  string `json:"pinned_at"`
	// Missing counts blocks under a recursive pin that this node lacks.
	Missing int `json:"missing,omitempty"`
}

// PinList is GET /api/v1/dag/pins.
type PinList struct {
	Pins []PinResult `json:"pins"`
}

// RefList is GET /api/v1/dag/refs: refs are named roots the node's
// subsystems keep (ledger account heads, job records), read-only here.
type RefList struct {
	Refs []RefInfo `json:"refs"`
	// Next, when set, is the after= of the next page.
	Next string `json:"next,omitempty"`
}

// RefInfo is one ref.
type RefInfo struct {
	Name      string `json:"name"`
	CID       string `json:"cid"`
	UpdatedAt string `json:"updated_at"`
}

// GCResult is POST /api/v1/dag/gc.
type GCResult struct {
	Removed      []string `json:"removed"` // at most 10,000 listed
	RemovedCount int      `json:"removed_count"`
	RemovedBytes int64    `json:"removed_bytes"`
	Kept         int      `json:"kept"`
	TookMS       float64  `json:"took_ms"`
}

// FetchResult is POST /api/v1/dag/fetch/{root}.
type FetchResult struct {
	Root    string  `json:"root"`
	Blocks  int     `json:"blocks"`  // in the DAG
	Fetched int     `json:"fetched"` // of them from other nodes
	Bytes   int64   `json:"bytes"`   // fetched
	Pinned  bool    `json:"pinned"`
	TookMS  float64 `json:"took_ms"`
}

// fetchWait bounds a DAG fetch over HTTP; the fetch itself goes on (and
// what arrived stays) when the client gives up.
const fetchWait = 10 * time.Minute

// ImportResult is POST /api/v1/dag/car.
type ImportResult struct {
	Roots  []string `json:"roots"`
	Blocks int      `json:"blocks"`
	New    int      `json:"new"`
	Bytes  int64    `json:"bytes"`
	Pinned bool     `json:"pinned"`
}

func (s *Server) dagRoutes() {
	a := s.public
	a.handle(Route{Method: "POST", Path: "/api/v1/dag/blocks", Tag: "dag",
		Summary: "Store a block: a raw body becomes a raw block; a JSON body {data, links} a dag-cbor node",
		Description: "Blocks are pinned (recursively) unless ?pin=false; unpinned blocks are kept at least ?ttl= (a Go duration), " +
			"else the node's grace period. The body may not exceed the node's maximum block size (413).",
		Params: []Param{{Name: "pin", In: "query", Type: "boolean", Description: "pin the block (default true)"},
			{Name: "ttl", In: "query", Description: "keep an unpinned block at least this long, e.g. 1h"}},
		Body: block.Node{}, AlsoRaw: true, BodyLimit: int64(s.cfg.MaxBlockSize) + 1<<20,
		Response: PutResult{}, Status: http.StatusCreated, Errors: []int{400, 413, 503}, Handle: s.postBlock})
	a.handle(Route{Method: "GET", Path: "/api/v1/dag/blocks/{cid}", Tag: "dag",
		Summary:     "A block's bytes (HEAD for its headers); ?format=json renders a dag-cbor node as DAG-JSON",
		Description: "Every block is checked against its CID when read from disk; a corrupt block is an error (500 corrupt_block), never returned.",
		Params: []Param{{Name: "format", In: "query", Description: "json: DAG-JSON of a dag-cbor node"},
			{Name: "fetch", In: "query", Type: "boolean", Description: "when this node lacks the block, fetch it from other nodes (checked against its CID, then kept unpinned)"}},
		Produces: ctRaw, Errors: []int{400, 404, 500, 503}, Handle: s.getBlock})
	a.handle(Route{Method: "GET", Path: "/api/v1/dag/blocks/{cid}/stat", Tag: "dag",
		Summary: "What the node knows of a block: codec, size, links, pin, retention", Response: BlockStat{},
		Errors: []int{400, 404, 503}, Handle: s.getBlockStat})
	a.handle(Route{Method: "POST", Path: "/api/v1/dag/pins/{cid}", Tag: "dag",
		Summary:  "Pin a block, recursively by default (everything it links to is kept)",
		Params:   []Param{{Name: "recursive", In: "query", Type: "boolean", Description: "default true"}},
		Response: PinResult{}, Errors: []int{400, 404, 503}, Handle: s.postPin})
	a.handle(Route{Method: "DELETE", Path: "/api/v1/dag/pins/{cid}", Tag: "dag",
		Summary: "Remove a pin", Response: PinResult{}, Errors: []int{400, 404, 503}, Handle: s.deletePin})
	a.handle(Route{Method: "GET", Path: "/api/v1/dag/pins", Tag: "dag",
		Summary: "Every pin", Response: PinList{}, Errors: []int{503}, Handle: s.getPins})
	a.handle(Route{Method: "GET", Path: "/api/v1/dag/refs", Tag: "dag",
		Summary: "Refs: the named roots the node's subsystems keep (e.g. ledger/head/<did>), in name order; GC keeps everything under them",
		Params: []Param{{Name: "prefix", In: "query", Description: "only names starting with this"},
			{Name: "after", In: "query", Description: "the name to list after (the previous page's next)"},
			{Name: "limit", In: "query", Type: "integer", Description: "at most this many (default and maximum 10000)"}},
		Response: RefList{}, Errors: []int{400, 503}, Handle: s.getRefs})
	a.handle(Route{Method: "POST", Path: "/api/v1/dag/fetch/{root}", Tag: "dag",
		Summary:     "Fetch every block under root that this node lacks from other nodes, then pin root (unless ?pin=false)",
		Description: "Blocks are asked of DHT providers and connected peers, a few at a time, each checked against its CID; the answer comes when the whole DAG is here. A block no node has is 404 block_not_found (what arrived stays, unpinned).",
		Params:      []Param{{Name: "pin", In: "query", Type: "boolean", Description: "pin root recursively once complete (default true)"}},
		Response:    FetchResult{}, Errors: []int{400, 404, 503, 504}, Handle: s.postFetch})
	a.handle(Route{Method: "POST", Path: "/api/v1/dag/gc", Tag: "dag",
		Summary:  "Collect garbage now: remove every block no pin reaches whose retention has passed",
		Response: GCResult{}, Errors: []int{503}, Handle: s.postGC})
	a.handle(Route{Method: "GET", Path: "/api/v1/dag/car/{root}", Tag: "dag",
		Summary:     "Export the whole DAG under root as a CARv1 stream (depth first, parents first)",
		Description: "409 incomplete_dag, with the missing CIDs, if this node lacks blocks of the DAG.",
		Produces:    ctCAR, Errors: []int{400, 404, 409, 503}, Handle: s.getCAR})
	a.handle(Route{Method: "POST", Path: "/api/v1/dag/car", Tag: "dag",
		Summary: "Import a CAR (v1 or v2); every block is verified against its CID; roots are pinned unless ?pin=false",
		Description: "Blocks are stored in batches as they arrive and kept at least ?ttl= (default 24h) unpinned; " +
			"a broken archive stops the import with 400 and pins nothing; with ?pin=true (the default) a root whose DAG " +
			"this node does not hold whole is 409 incomplete_dag and nothing is pinned.",
		Params: []Param{{Name: "pin", In: "query", Type: "boolean", Description: "pin the roots recursively (default true)"},
			{Name: "ttl", In: "query", Description: "keep the imported blocks at least this long unpinned (default 24h)"}},
		AlsoRaw: true, RawOnly: true, BodyLimit: maxImportBytes,
		Response: ImportResult{}, Status: http.StatusCreated, Errors: []int{400, 409, 413, 503}, Handle: s.postCAR})
}

// dagCall sends msg to the dag actor and checks the reply's type.
func dagCall[R any](s *Server, r *http.Request, msg any) (R, error) {
	return actorCall[R](s, r, dagActor, msg)
}

// pathCID reads a CID from the path; one this node can never store (not
// CIDv1, raw or dag-cbor, sha2-256) is a bad request, not a missing block.
func pathCID(r *http.Request, name string) (cid.Cid, error) {
	c, err := block.Parse(r.PathValue(name))
	if err != nil {
		return cid.Undef, err
	}
	return c, block.Supported(c)
}

// ttlParam reads ?ttl=, a positive Go duration; def when absent.
func ttlParam(r *http.Request, def time.Duration) (time.Duration, error) {
	v := r.URL.Query().Get("ttl")
	if v == "" {
		return def, nil
	}
	ttl, err := time.ParseDuration(v)
	if err != nil || ttl <= 0 {
		return 0, BadRequest("?ttl=%q: want a positive duration such as 90s or 24h", v)
	}
	return ttl, nil
}

// withJSONSlot runs a JSON conversion of a node once a slot is free.
func (s *Server) withJSONSlot(r *http.Request, convert func() error) error {
	select {
	case s.jsonSlots <- struct{}{}:
	case <-r.Context().Done():
		return r.Context().Err()
	}
	defer func() { <-s.jsonSlots }()
	return convert()
}

func boolParam(r *http.Request, name string, def bool) (bool, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, BadRequest("?%s=%q: want true or false", name, v)
	}
	return b, nil
}

func (s *Server) postBlock(w http.ResponseWriter, r *http.Request) error {
	pin, err := boolParam(r, "pin", true)
	if err != nil {
		return err
	}
	ttl, err := ttlParam(r, 0)
	if err != nil {
		return err
	}
	var b block.Block
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
		var n block.Node
		if err := decodeJSON(r, &n); err != nil {
			return err
		}
		if err := s.withJSONSlot(r, func() (err error) { b, err = block.FromJSON(n); return err }); err != nil {
			return err
		}
	} else {
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		if b, err = block.NewRaw(data); err != nil {
			return err
		}
	}
	put := &messages.PutBlocks{Blocks: []block.Block{b}, TTL: ttl}
	res := PutResult{CID: b.CID().String(), Codec: block.CodecName(b.Codec()), Size: b.Size()}
	if pin {
		put.Pin = &messages.PinBlock{CID: b.CID(), Recursive: true}
		res.Pin = "recursive"
	}
	reply, err := dagCall[*messages.PutBlocksReply](s, r, put)
	if err != nil {
		return err
	}
	res.New = reply.New > 0
	w.Header().Set("Location", "/api/v1/dag/blocks/"+res.CID)
	writeJSON(w, http.StatusCreated, res)
	return nil
}

func (s *Server) getBlock(w http.ResponseWriter, r *http.Request) error {
	c, err := pathCID(r, "cid")
	if err != nil {
		return err
	}
	format := r.URL.Query().Get("format")
	if format != "" && format != "json" {
		return BadRequest("?format=%q: the only format is json", format)
	}
	fetch, err := boolParam(r, "fetch", false)
	if err != nil {
		return err
	}
	reply, err := dagCall[*messages.GetBlockReply](s, r, &messages.GetBlock{CID: c, Fetch: fetch})
	if err != nil {
		return err
	}
	b := reply.Block
	body, ct := b.Data(), ctRaw
	if b.Codec() == block.DagCBOR {
		ct = ctDagCBOR
	}
	if format == "json" {
		if err := s.withJSONSlot(r, func() (err error) { body, err = block.ToJSON(b); return err }); err != nil {
			return err
		}
		ct = "application/json"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("ETag", `"`+b.CID().String()+`"`)
	h.Set("Cache-Control", "public, max-age=31536000, immutable") // content addressed
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(body)
	}
	return nil
}

func (s *Server) getBlockStat(w http.ResponseWriter, r *http.Request) error {
	c, err := pathCID(r, "cid")
	if err != nil {
		return err
	}
	st, err := dagCall[*messages.BlockStat](s, r, &messages.StatBlock{CID: c})
	if err != nil {
		return err
	}
	out := BlockStat{CID: st.CID.String(), Codec: block.CodecName(st.Codec), Size: st.Size, Links: []string{},
		Pinned: st.Pin != "", Pin: st.Pin, StoredAt: st.StoredAt.UTC().Format(time.RFC3339Nano),
		ExpiresAt: st.ExpiresAt.UTC().Format(time.RFC3339Nano)}
	left := max(time.Until(st.ExpiresAt), 0).Truncate(time.Second)
	out.TTL, out.TTLSeconds = left.String(), int64(left/time.Second)
	for _, l := range st.Links {
		out.Links = append(out.Links, l.String())
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func pinResult(p messages.PinInfo, missing int) PinResult {
	return PinResult{CID: p.CID.String(), Recursive: p.Recursive, PinnedAt: p.PinnedAt.UTC().Format(time.RFC3339Nano), Missing: missing}
}

func (s *Server) postPin(w http.ResponseWriter, r *http.Request) error {
	c, err := pathCID(r, "cid")
	if err != nil {
		return err
	}
	recursive, err := boolParam(r, "recursive", true)
	if err != nil {
		return err
	}
	reply, err := dagCall[*messages.PinBlockReply](s, r, &messages.PinBlock{CID: c, Recursive: recursive})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pinResult(reply.Pin, reply.Missing))
	return nil
}

func (s *Server) deletePin(w http.ResponseWriter, r *http.Request) error {
	c, err := pathCID(r, "cid")
	if err != nil {
		return err
	}
	reply, err := dagCall[*messages.UnpinBlockReply](s, r, &messages.UnpinBlock{CID: c})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pinResult(reply.Pin, 0))
	return nil
}

func (s *Server) getPins(w http.ResponseWriter, r *http.Request) error {
	reply, err := dagCall[*messages.ListPinsReply](s, r, &messages.ListPins{})
	if err != nil {
		return err
	}
	out := PinList{Pins: make([]PinResult, 0, len(reply.Pins))}
	for _, p := range reply.Pins {
		out.Pins = append(out.Pins, pinResult(p, 0))
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) getRefs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	limit := 0
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > messages.MaxListedRefs {
			return BadRequest("?limit=%q: want 1 to %d", v, messages.MaxListedRefs)
		}
		limit = n
	}
	reply, err := dagCall[*messages.ListRefsReply](s, r, &messages.ListRefs{Prefix: q.Get("prefix"), After: q.Get("after"), Limit: limit})
	if err != nil {
		return err
	}
	out := RefList{Refs: make([]RefInfo, 0, len(reply.Refs))}
	for _, ref := range reply.Refs {
		out.Refs = append(out.Refs, RefInfo{Name: ref.Name, CID: ref.CID.String(), UpdatedAt: ref.UpdatedAt.UTC().Format(time.RFC3339Nano)})
	}
	if reply.More && len(reply.Refs) > 0 {
		out.Next = reply.Refs[len(reply.Refs)-1].Name
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func (s *Server) postFetch(w http.ResponseWriter, r *http.Request) error {
	root, err := pathCID(r, "root")
	if err != nil {
		return err
	}
	pin, err := boolParam(r, "pin", true)
	if err != nil {
		return err
	}
	reply, err := actorCallWithin[*messages.FetchDAGReply](s, r, max(s.cfg.CallTimeout, fetchWait), dagActor, &messages.FetchDAG{Root: root, Pin: pin})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, FetchResult{Root: root.String(), Blocks: reply.Blocks, Fetched: reply.Fetched, Bytes: reply.Bytes,
		Pinned: pin, TookMS: float64(reply.Took.Microseconds()) / 1000})
	return nil
}

func (s *Server) postGC(w http.ResponseWriter, r *http.Request) error {
	reply, err := dagCall[*messages.CollectGarbageReply](s, r, &messages.CollectGarbage{})
	if err != nil {
		return err
	}
	out := GCResult{Removed: make([]string, 0, len(reply.Removed)), RemovedCount: reply.RemovedCount,
		RemovedBytes: reply.RemovedBytes, Kept: reply.Kept, TookMS: float64(reply.Took.Microseconds()) / 1000}
	for _, c := range reply.Removed {
		out.Removed = append(out.Removed, c.String())
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// wholeDAG answers 409 incomplete_dag unless this node holds every block
// under root.
func (s *Server) wholeDAG(r *http.Request, root cid.Cid, imported ImportResult) error {
	var missing []cid.Cid
	walk, err := dagCall[*messages.WalkDAGReply](s, r, &messages.WalkDAG{Root: root})
	switch {
	case errors.Is(err, messages.ErrBlockNotFound):
		missing = []cid.Cid{root}
	case err != nil:
		return err
	default:
		missing = walk.Missing
	}
	if len(missing) == 0 {
		return nil
	}
	e := incompleteDAG(root, missing)
	e.Message += fmt.Sprintf(": nothing pinned (the %d blocks imported expire unpinned)", imported.Blocks)
	e.Details["blocks"], e.Details["new"] = imported.Blocks, imported.New
	return e
}

// incompleteDAG is the 409 for a DAG this node does not hold whole; it
// lists the first 100 missing CIDs.
func incompleteDAG(root cid.Cid, missing []cid.Cid) *Error {
	listed := make([]string, 0, min(len(missing), 100))
	for _, c := range missing[:min(len(missing), 100)] {
		listed = append(listed, c.String())
	}
	return &Error{Status: http.StatusConflict, Code: CodeIncompleteDAG, Err: messages.ErrIncompleteDAG,
		Message: fmt.Sprintf("this node lacks %d blocks of the DAG under %s", len(missing), root),
		Details: map[string]any{"root": root.String(), "missing": listed, "missing_count": len(missing)}}
}

func (s *Server) getCAR(w http.ResponseWriter, r *http.Request) error {
	root, err := pathCID(r, "root")
	if err != nil {
		return err
	}
	walk, err := dagCall[*messages.WalkDAGReply](s, r, &messages.WalkDAG{Root: root})
	if err != nil {
		return err
	}
	if len(walk.Missing) > 0 {
		return incompleteDAG(root, walk.Missing)
	}
	w.Header().Set("Content-Type", ctCAR+"; version=1")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="%s.car"`, root))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodHead {
		return nil // the DAG is complete: that is all a HEAD asks
	}
	cw, err := block.NewCARWriter(w, root)
	if err != nil {
		return err
	}
	for _, c := range walk.CIDs {
		reply, err := dagCall[*messages.GetBlockReply](s, r, &messages.GetBlock{CID: c})
		if err != nil {
			// The status is sent: cut the stream so the client sees a
			// truncated archive, not a short valid-looking one.
			s.log.ErrorContext(r.Context(), "car export failed mid-stream", "root", root.String(), "cid", c.String(), "err", err)
			panic(http.ErrAbortHandler)
		}
		if err := cw.Write(reply.Block); err != nil {
			return err // the client went away
		}
	}
	return cw.Flush()
}

// importBatch bounds one PutBlocks of an import.
const (
	importBatchBlocks = 1000
	importBatchBytes  = 8 << 20
)

// importTTL is how long imported blocks are kept before anything pins
// them: long enough for the largest import to finish and pin its roots,
// so the collector never takes the first blocks of an import in progress.
const importTTL = 24 * time.Hour

func (s *Server) postCAR(w http.ResponseWriter, r *http.Request) error {
	pin, err := boolParam(r, "pin", true)
	if err != nil {
		return err
	}
	ttl, err := ttlParam(r, importTTL)
	if err != nil {
		return err
	}
	cr, err := block.NewCARReader(r.Body, s.cfg.MaxBlockSize)
	if err != nil {
		return err
	}
	res := ImportResult{Roots: []string{}}
	var pending []block.Block
	var pendingBytes int
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		reply, err := dagCall[*messages.PutBlocksReply](s, r, &messages.PutBlocks{Blocks: pending, TTL: ttl})
		if err != nil {
			return err
		}
		res.New += reply.New
		pending, pendingBytes = nil, 0
		return nil
	}
	for {
		b, err := cr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("after %d blocks: %w", res.Blocks, err)
		}
		pending = append(pending, b)
		pendingBytes += b.Size()
		res.Blocks++
		res.Bytes += int64(b.Size())
		if len(pending) >= importBatchBlocks || pendingBytes >= importBatchBytes {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	for _, root := range cr.Roots {
		res.Roots = append(res.Roots, root.String())
	}
	if pin {
		// Every root's DAG must be whole before any is pinned: a pin must
		// not claim to keep what this node does not hold.
		for _, root := range cr.Roots {
			if err := s.wholeDAG(r, root, res); err != nil {
				return err
			}
		}
		for _, root := range cr.Roots {
			if _, err := dagCall[*messages.PinBlockReply](s, r, &messages.PinBlock{CID: root, Recursive: true}); err != nil {
				return fmt.Errorf("pin root %s: %w", root, err)
			}
		}
	}
	res.Pinned = pin && len(cr.Roots) > 0
	s.log.InfoContext(r.Context(), "car imported", "blocks", res.Blocks, "new", res.New, "bytes", res.Bytes, "roots", len(res.Roots))
	writeJSON(w, http.StatusCreated, res)
	return nil
}
