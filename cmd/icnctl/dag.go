package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
	"github.com/spf13/cobra"

	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/httpapi"
)

// The DAG API (services/httpapi/dag.go) and its content types.
const (
	dagBlocksPath = "/api/v1/dag/blocks"
	dagPinsPath   = "/api/v1/dag/pins"
	dagGCPath     = "/api/v1/dag/gc"
	dagFetchPath  = "/api/v1/dag/fetch"
	dagRefsPath   = "/api/v1/dag/refs"
	dagCARPath    = "/api/v1/dag/car"

	ctRaw  = "application/octet-stream"
	ctJSON = "application/json"
	ctCAR  = "application/vnd.ipld.car"

	shownRemoved = 20 // removed CIDs dag gc lists in text
	shownMissing = 5  // missing CIDs an incomplete export lists
)

func (a *app) dagCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "dag",
		Short: "The content-addressed block store: put, get, stat, pin, unpin, pins, gc, export, import",
		Long: `dag drives the node's block store through the public API (/api/v1/dag),
with the api token.

A block is either raw bytes (codec raw) or a structured node (dag-cbor) that
links to other blocks by CID; a CID is the hash of the block, so a block never
changes. A block is kept while a pin reaches it (a recursive pin keeps
everything under its root); an unpinned block is kept until its retention
passes (its TTL, else the node's dag.gc_grace), after which garbage collection
(every dag.gc_interval, or "icnctl dag gc") removes it.

CIDs are checked before anything is sent: a mistyped one is a usage error
(exit 64). put, get, export and import stream: --timeout bounds connecting
and the wait for the node's answer, not the transfer.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.dagPutCmd(), a.dagGetCmd(), a.dagStatCmd(), a.dagPinCmd(), a.dagUnpinCmd(),
		a.dagPinsCmd(), a.dagRefsCmd(), a.dagGCCmd(), a.dagFetchCmd(), a.dagExportCmd(), a.dagImportCmd())
	return cmd
}

// parseCID checks a CID argument before anything is sent.
func parseCID(s string) (cid.Cid, error) {
	c, err := block.Parse(s)
	if err == nil {
		err = block.Supported(c)
	}
	if err != nil {
		return cid.Undef, usageErrorf("%v (want a CID as icnctl dag put prints it, such as bafkrei...)", err)
	}
	return c, nil
}

func (a *app) dagPutCmd() *cobra.Command {
	var (
		asJSON bool
		pin    bool
		ttl    time.Duration
	)
	cmd := &cobra.Command{
		Use:   "put FILE|-",
		Short: "Store a block read from FILE (or stdin) and print its CID",
		Long: `put stores the bytes of FILE ("-" reads stdin) as one raw block and prints its
CID alone on one line, so that cid=$(icnctl dag put FILE) works; with -o json
it prints the node's answer (cid, codec, size, new, pin).

With --json the input is a JSON node, {"data": <any JSON>, "links": {"name":
"<cid>"}}, stored as a dag-cbor block whose links the store follows (pins, GC,
export).

The block is pinned recursively unless --pin=false; an unpinned block is kept
at least --ttl (default: the node's dag.gc_grace). The input is streamed, not
read into memory; the node refuses a block over its dag.max_block_size
(413 block_too_large).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("ttl") && ttl <= 0 {
				return usageErrorf("--ttl %s: want a positive duration such as 90s or 24h", ttl)
			}
			c, err := a.client(cmd, apiListener())
			if err != nil {
				return err
			}
			in, err := a.openInput(args[0])
			if err != nil {
				return err
			}
			defer in.Close()
			q := url.Values{}
			if !pin {
				q.Set("pin", "false")
			}
			if ttl > 0 {
				q.Set("ttl", ttl.String())
			}
			ct := ctRaw
			if asJSON {
				ct = ctJSON
			}
			ans, err := c.send(cmd.Context(), http.MethodPost, withQuery(dagBlocksPath, q), ct, in, in.size, http.StatusCreated)
			if err != nil {
				return explainTooLarge(err, in)
			}
			if a.json() {
				return writeJSON(cmd.OutOrStdout(), ans.Body)
			}
			var p httpapi.PutResult
			if err := decodeAnswer(http.MethodPost, dagBlocksPath, ans.Body, &p); err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), clean(p.CID))
			return err
		},
	}
	f := cmd.Flags()
	f.BoolVar(&asJSON, "json", false, `the input is a JSON node {"data": ..., "links": {"name": "<cid>"}}, stored as dag-cbor`)
	f.BoolVar(&pin, "pin", true, "pin the block recursively (--pin=false leaves it to its retention)")
	f.DurationVar(&ttl, "ttl", 0, "keep an unpinned block at least this long, e.g. 24h (default: the node's dag.gc_grace)")
	return cmd
}

func (a *app) dagGetCmd() *cobra.Command {
	var asJSON, force, fetch bool
	cmd := &cobra.Command{
		Use:   "get CID",
		Short: "Write a block's bytes to stdout, exactly (redirect them to a file)",
		Long: `get writes the block itself to stdout, byte for byte, with nothing added
(no newline): icnctl dag get CID > file. -o json does not apply to it.

On a terminal, a block that is not printable text is refused unless --force:
binary bytes could reprogram the terminal.

With --json it asks for the DAG-JSON form of a dag-cbor node (links as
{"/": "<cid>"}, bytes as {"/": {"bytes": "<base64>"}}), indented; with -o json
too, the DAG-JSON exactly as the node sends it (canonical, compact, no
newline). A raw block has no JSON form (400 invalid_node).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseCID(args[0])
			if err != nil {
				return err
			}
			c, err := a.client(cmd, apiListener())
			if err != nil {
				return err
			}
			ctx, out := cmd.Context(), cmd.OutOrStdout()
			q := url.Values{}
			if asJSON {
				q.Set("format", "json")
			}
			if fetch {
				q.Set("fetch", "true")
			}
			path := dagBlocksPath + "/" + id.String()
			if len(q) > 0 {
				path += "?" + q.Encode()
			}
			res, err := c.open(ctx, path, "")
			if err != nil {
				return err
			}
			defer res.Body.Close()
			if !asJSON && (force || !a.isTerminal(out)) {
				return download(ctx, c, "get", id, out, res.Body)
			}
			// A JSON node or a terminal: the answer is needed whole. A block
			// is at most block.MaxSize; its DAG-JSON (base64 for bytes) may
			// be larger.
			limit := int64(block.MaxSize)
			if asJSON {
				limit = maxBody
			}
			raw, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
			if err != nil {
				return transferError(ctx, c, "get", id, int64(len(raw)), err)
			}
			if int64(len(raw)) > limit {
				return fmt.Errorf("GET %s: the answer is larger than %d bytes", path, limit)
			}
			switch {
			case asJSON && a.json():
				_, err = out.Write(raw)
			case asJSON:
				err = writeJSON(out, raw)
			case !printable(raw):
				return usageErrorf("block %s is binary: refusing to write it to a terminal; redirect it (icnctl dag get %s > block.bin) or pass --force", id, id)
			default:
				_, err = out.Write(raw)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "the DAG-JSON form of a dag-cbor node (?format=json), indented")
	cmd.Flags().BoolVar(&force, "force", false, "write a binary block to a terminal anyway")
	cmd.Flags().BoolVar(&fetch, "fetch", false, "when the node lacks the block, fetch it from other nodes first (checked, then kept unpinned)")
	return cmd
}

// printable says whether b is text a terminal shows as it is: valid UTF-8
// without control characters other than tab and line ends.
func printable(b []byte) bool {
	if !utf8.Valid(b) {
		return false
	}
	for _, r := range string(b) {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return false
		}
	}
	return true
}

func (a *app) dagStatCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "stat CID",
		Short: "What the node knows of a block: codec, size, pin, retention, links",
		Long: `stat shows a block's codec and size, its own pin (recursive or direct), when it
was stored, when its retention ends (after that, garbage collection removes it
unless a pin reaches it) and the CIDs it links to.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseCID(args[0])
			if err != nil {
				return err
			}
			var st httpapi.BlockStat
			return a.show(cmd, apiListener(), dagBlocksPath+"/"+id.String()+"/stat", true, &st,
				func(w io.Writer) { renderBlockStat(w, st) })
		},
	}
}

func (a *app) dagPinCmd() *cobra.Command {
	var recursive bool
	cmd := &cobra.Command{
		Use:   "pin CID",
		Short: "Pin a block, recursively by default, so garbage collection keeps it",
		Long: `pin keeps a block for as long as the pin exists. A recursive pin (the default)
keeps everything the block links to, transitively; --recursive=false pins the
block alone. The node says how many blocks under a recursive pin it lacks:
they are kept once they arrive (icnctl dag import).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseCID(args[0])
			if err != nil {
				return err
			}
			q := url.Values{}
			if !recursive {
				q.Set("recursive", "false")
			}
			return a.pinCall(cmd, http.MethodPost, withQuery(dagPinsPath+"/"+id.String(), q), renderPinned)
		},
	}
	cmd.Flags().BoolVar(&recursive, "recursive", true, "keep everything the block links to as well")
	return cmd
}

func (a *app) dagUnpinCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "unpin CID",
		Short: "Remove a block's pin; the block is then kept only until its retention passes",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := parseCID(args[0])
			if err != nil {
				return err
			}
			return a.pinCall(cmd, http.MethodDelete, dagPinsPath+"/"+id.String(), renderUnpinned)
		},
	}
}

// pinCall pins or unpins and shows the node's PinResult.
func (a *app) pinCall(cmd *cobra.Command, method, path string, render func(io.Writer, httpapi.PinResult)) error {
	var p httpapi.PinResult
	return a.ask(cmd, apiListener(), method, path, true, &p, func(w io.Writer) { render(w, p) })
}

func (a *app) dagRefsCmd() *cobra.Command {
	var after string
	var limit int
	cmd := &cobra.Command{
		Use:   "refs [PREFIX]",
		Short: "Refs: the named roots the node's subsystems keep (ledger account heads...), in name order",
		Long: `refs lists the node's refs: names such as ledger/head/<did> that the node's
subsystems point at the latest block of a chain they keep. Everything under a
ref is kept by garbage collection, like a recursive pin. Refs move only with
the subsystem's own writes; this command reads them.

A page holds at most --limit refs; when more follow, the last line says how
to ask for the next page (--after NAME).`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if limit < 0 || limit > 10000 {
				return usageErrorf("--limit %d: want 1 to 10000 (0: the node's maximum)", limit)
			}
			q := url.Values{}
			if len(args) == 1 {
				q.Set("prefix", args[0])
			}
			if after != "" {
				q.Set("after", after)
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			var l httpapi.RefList
			return a.show(cmd, apiListener(), withQuery(dagRefsPath, q), true, &l, func(w io.Writer) { renderRefs(w, l) })
		},
	}
	cmd.Flags().StringVar(&after, "after", "", "list the refs after this name (the next page)")
	cmd.Flags().IntVar(&limit, "limit", 0, "at most this many refs (default: the node's maximum, 10000)")
	return cmd
}

func (a *app) dagPinsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "pins",
		Short: "Every pin: CID, recursive or direct, when it was made",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var l httpapi.PinList
			return a.show(cmd, apiListener(), dagPinsPath, true, &l, func(w io.Writer) { renderPins(w, l) })
		},
	}
}

func (a *app) dagGCCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "gc",
		Short: "Collect garbage now: remove the unpinned blocks whose retention has passed",
		Long: `gc removes every block that no pin reaches and whose retention (its TTL, else
dag.gc_grace after it was stored) has passed, and says how many blocks and
bytes it removed and how many it kept. The node also collects every
dag.gc_interval. In text the first ` + fmt.Sprint(shownRemoved) + ` removed CIDs are listed; -o json
gives the node's whole answer.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var r httpapi.GCResult
			return a.ask(cmd, apiListener(), http.MethodPost, dagGCPath, true, &r, func(w io.Writer) { renderGC(w, r) })
		},
	}
}

func (a *app) dagFetchCmd() *cobra.Command {
	var pin bool
	cmd := &cobra.Command{
		Use:   "fetch ROOT",
		Short: "Fetch the whole DAG under ROOT from other nodes, then pin it",
		Long: `fetch asks the node for every block under ROOT it lacks: it asks the
nodes that announced ROOT (DHT providers) and its connected peers, a few
blocks at a time, checks each against its CID, and keeps it. Once the whole
DAG is here it pins ROOT recursively (--pin=false leaves it to its
retention). A block no node has fails the fetch (404 block_not_found); what
arrived stays, unpinned. Large DAGs take time: raise --timeout.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root, err := parseCID(args[0])
			if err != nil {
				return err
			}
			path := dagFetchPath + "/" + root.String()
			if !pin {
				path += "?pin=false"
			}
			var r httpapi.FetchResult
			return a.ask(cmd, apiListener(), http.MethodPost, path, true, &r, func(w io.Writer) { renderFetch(w, r) })
		},
	}
	cmd.Flags().BoolVar(&pin, "pin", true, "pin ROOT recursively once the whole DAG is here")
	return cmd
}

func (a *app) dagExportCmd() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:   "export ROOT",
		Short: "Write the whole DAG under ROOT to stdout as a CAR archive: icnctl dag export ROOT > dag.car",
		Long: `export streams the DAG under ROOT (ROOT and every block it links to,
transitively) to stdout as a CARv1 archive, which "icnctl dag import" (on any
node) or any CAR tool reads. The archive is binary: it is not written to a
terminal unless --force.

If this node lacks blocks of the DAG, the node refuses (409 incomplete_dag)
and icnctl lists the first missing CIDs. If the transfer breaks, icnctl exits
1 and what was written is incomplete.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			root, err := parseCID(args[0])
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !force && a.isTerminal(out) {
				return usageErrorf("refusing to write a CAR archive (binary) to a terminal; redirect it: icnctl dag export %s > dag.car (or pass --force)", root)
			}
			c, err := a.client(cmd, apiListener())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			res, err := c.open(ctx, dagCARPath+"/"+root.String(), ctCAR)
			if err != nil {
				return explainIncomplete(err, "Import them (icnctl dag import FILE.car from a node that has them), then export again.")
			}
			defer res.Body.Close()
			return download(ctx, c, "export", root, out, res.Body)
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "write the archive to a terminal anyway")
	return cmd
}

func (a *app) dagImportCmd() *cobra.Command {
	var (
		pin bool
		ttl time.Duration
	)
	cmd := &cobra.Command{
		Use:   "import FILE|-",
		Short: "Store every block of a CAR archive (v1 or v2) from FILE or stdin; pin its roots",
		Long: `import streams a CAR archive ("-" reads stdin) to the node, which checks every
block against its CID and stores them in batches as they arrive; a broken
archive stops the import (400) and pins nothing. The archive's roots are
pinned recursively unless --pin=false; a root whose DAG the node then does not
hold whole is refused (409 incomplete_dag, the first missing CIDs listed) and
nothing is pinned. Imported blocks are kept at least --ttl unpinned (default
24h), so a long import is never collected before its roots are pinned.

On a terminal, the progress (bytes sent, of the file's size) is shown on
stderr. Then it prints the roots, the blocks read and how many were new, and
the bytes stored.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client(cmd, apiListener())
			if err != nil {
				return err
			}
			in, err := a.openInput(args[0])
			if err != nil {
				return err
			}
			defer in.Close()
			if cmd.Flags().Changed("ttl") && ttl <= 0 {
				return usageErrorf("--ttl %s: want a positive duration such as 90s or 24h", ttl)
			}
			q := url.Values{}
			if !pin {
				q.Set("pin", "false")
			}
			if ttl > 0 {
				q.Set("ttl", ttl.String())
			}
			var stop func()
			if errOut := cmd.ErrOrStderr(); a.isTerminal(errOut) {
				stop = startProgress(errOut, a.progressEvery, in)
			}
			ans, err := c.send(cmd.Context(), http.MethodPost, withQuery(dagCARPath, q), ctCAR, in, in.size, http.StatusCreated)
			if stop != nil {
				stop()
			}
			if err != nil {
				return explainIncomplete(err, "The blocks that came are kept until --ttl passes. Import an archive with the rest "+
					"(or the whole DAG) to pin it, or --pin=false to store without pinning.")
			}
			if a.json() {
				return writeJSON(cmd.OutOrStdout(), ans.Body)
			}
			var r httpapi.ImportResult
			if err := decodeAnswer(http.MethodPost, dagCARPath, ans.Body, &r); err != nil {
				return err
			}
			renderImport(cmd.OutOrStdout(), r)
			return nil
		},
	}
	cmd.Flags().BoolVar(&pin, "pin", true, "pin the archive's roots recursively")
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "keep the imported blocks at least this long unpinned (default: 24h)")
	return cmd
}

func withQuery(path string, q url.Values) string {
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

// input is what put and import send: a file or stdin, read as it is sent,
// counting the bytes read so far.
type input struct {
	r    io.Reader
	c    io.Closer // nil for stdin: icnctl does not close it
	name string    // for messages: the path, or "stdin"
	size int64     // -1 when unknown (stdin, a pipe)
	sent atomic.Int64
}

// Read implements io.Reader.
func (in *input) Read(p []byte) (int, error) {
	n, err := in.r.Read(p)
	in.sent.Add(int64(n))
	return n, err
}

// Close closes the file, if any; never stdin (the HTTP client closes the
// request body it was given).
// Close releases the file; it was only read, so there is no error to act on.
func (in *input) Close() {
	if in.c != nil {
		_ = in.c.Close()
	}
}

// openInput opens FILE, or stdin for "-". Only a regular file has a known
// size.
func (a *app) openInput(name string) (*input, error) {
	if name == "-" {
		return &input{r: a.stdin, name: "stdin", size: -1}, nil
	}
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fi.IsDir() {
		f.Close()
		return nil, fmt.Errorf("%s is a directory", name)
	}
	in := &input{r: f, c: f, name: name, size: -1}
	if fi.Mode().IsRegular() {
		in.size = fi.Size()
	}
	return in, nil
}

// startProgress redraws "sent N of M" on w (a terminal) every interval
// until the returned stop, which draws the last count and ends the line.
func startProgress(w io.Writer, every time.Duration, in *input) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	draw := func() { fmt.Fprintf(w, "\r%s\x1b[K", progressLine(in.sent.Load(), in.size)) }
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				draw()
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
		draw()
		fmt.Fprintln(w)
	}
}

// progressLine is "sent 1.5 MiB of 4.0 MiB (37%)", or "sent 1.5 MiB" when
// the size is unknown.
func progressLine(sent, total int64) string {
	if total <= 0 {
		return "sent " + humanBytes(sent)
	}
	return fmt.Sprintf("sent %s of %s (%d%%)", humanBytes(sent), humanBytes(total), sent*100/total)
}

// download copies a body to out as it arrives, never holding more than a
// buffer of it.
func download(ctx context.Context, c *client, what string, id cid.Cid, out io.Writer, body io.Reader) error {
	w := &writeTracker{w: out}
	n, err := io.Copy(w, body)
	switch {
	case err == nil:
		return nil
	case w.err != nil:
		return fmt.Errorf("%s %s: writing the output failed after %d bytes: %w", what, id, n, w.err)
	default:
		return transferError(ctx, c, what, id, n, err)
	}
}

// writeTracker remembers a write error, to tell it from a read error.
type writeTracker struct {
	w   io.Writer
	err error
}

func (t *writeTracker) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if err != nil {
		t.err = err
	}
	return n, err
}

// transferError explains a download that broke after its answer began.
func transferError(ctx context.Context, c *client, what string, id cid.Cid, n int64, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%s %s: the transfer from %s broke after %d bytes: %w; what was written is incomplete", what, id, hostPort(c.t.base), n, err)
}

// detailedError is an error with lines that explain it, printed under it.
type detailedError struct {
	err   error
	lines []string
}

func (e *detailedError) Error() string { return e.err.Error() + "\n  " + strings.Join(e.lines, "\n  ") }
func (e *detailedError) Unwrap() error { return e.err }

// withAdvice puts the lines advice gives for a node's refusal (an
// *APIError) under err; any other error, or a refusal advice has nothing
// for, stays as it is.
func withAdvice(err error, advice func(*APIError) []string) error {
	var ae *APIError
	if !errors.As(err, &ae) {
		return err
	}
	lines := advice(ae)
	if len(lines) == 0 {
		return err
	}
	return &detailedError{err: err, lines: lines}
}

// explainTooLarge adds advice to the node's 413 for a block put.
func explainTooLarge(err error, in *input) error {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusRequestEntityTooLarge {
		return err
	}
	what := in.name
	if in.size >= 0 {
		what = fmt.Sprintf("%s (%s)", in.name, humanBytes(in.size))
	}
	return &detailedError{err: err, lines: []string{
		fmt.Sprintf("%s is larger than one block may be on this node (its dag.max_block_size).", what),
		"Store large data as several blocks linked by a dag-cbor node, or as a CAR archive (icnctl dag import).",
	}}
}

// explainIncomplete lists the missing blocks of a 409 incomplete_dag.
func explainIncomplete(err error, advice string) error {
	var ae *APIError
	if !errors.As(err, &ae) || ae.Body.Code != httpapi.CodeIncompleteDAG {
		return err
	}
	var missing []string
	if l, ok := ae.Body.Details["missing"].([]any); ok {
		for _, v := range l {
			if s, ok := v.(string); ok {
				missing = append(missing, clean(s))
			}
		}
	}
	count := len(missing)
	if n, ok := ae.Body.Details["missing_count"].(float64); ok && int(n) > count {
		count = int(n)
	}
	if count == 0 {
		return err
	}
	shown := missing[:min(len(missing), shownMissing)]
	head := fmt.Sprintf("%s missing:", countLabel(uint64(count), "block"))
	if len(shown) < count {
		head = fmt.Sprintf("%s missing, the first %d:", countLabel(uint64(count), "block"), len(shown))
	}
	lines := []string{head}
	for _, s := range shown {
		lines = append(lines, "  "+s)
	}
	lines = append(lines, advice)
	return &detailedError{err: err, lines: lines}
}
