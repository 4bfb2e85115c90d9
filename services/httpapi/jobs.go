package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
)

// The job manager's name in the tree.
const jobsActor = "jobs"

// jobBodyLimit bounds a job submission: a module of up to
// block.MaxModuleSize and an input of up to messages.MaxJobInput, both
// base64 (4/3), with 1 MiB for the rest (about 88 MiB in all). The
// input's own bound is checked after decoding, so that it answers 413
// with the input's limit; a module over its bound that still fits in the
// body is an invalid_module.
const jobBodyLimit = (block.MaxModuleSize+2)/3*4 + (messages.MaxJobInput+2)/3*4 + 1<<20

// wasmMagic opens every WebAssembly binary.
var wasmMagic = []byte{0, 'a', 's', 'm'}

// JobLimits bound one run; zero fields take the node's defaults.
type JobLimits struct {
	MemoryMB       uint32 `json:"memory_mb,omitempty"`
	TimeoutMS      uint64 `json:"timeout_ms,omitempty"`
	MaxOutputBytes int    `json:"max_output_bytes,omitempty"`
	Fuel           uint64 `json:"fuel,omitempty"`
}

// JobRequest is the body of POST /api/v1/jobs. Exactly one of module and
// module_wasm; at most one of input and input_cid.
type JobRequest struct {
	Module      string            `json:"module,omitempty"`      // CID of a WASM module in the DAG
	ModuleWASM  []byte            `json:"module_wasm,omitempty"` // base64: stored in the DAG first (chunked when larger than a block)
	Input       []byte            `json:"input,omitempty"`       // base64, at most 1 MiB decoded
	InputCID    string            `json:"input_cid,omitempty"`   // a raw block whose bytes are stdin
	Args        []string          `json:"args,omitempty"`
	Env         map[string]string `json:"env,omitempty"`
	Limits      JobLimits         `json:"limits,omitzero"`
	MaxMana     uint64            `json:"max_mana,omitempty"` // escrowed from the node's account (default 100)
	BidWindowMS uint64            `json:"bid_window_ms,omitempty"`
	// Verify: 1 (default) or 2, two executors whose receipts must agree;
	// each is paid at most half of max_mana.
	Verify int `json:"verify,omitempty"`
	// MinReputation refuses executors whose reputation on this node is
	// below it (0 to 100; an executor without a record has 50).
	MinReputation uint64 `json:"min_reputation,omitempty"`
}

// JobSpec is a job's spec as stored (defaults filled in).
type JobSpec struct {
	Module        string            `json:"module"`
	Input         []byte            `json:"input,omitempty"`
	InputCID      string            `json:"input_cid,omitempty"`
	Args          []string          `json:"args,omitempty"`
	Env           map[string]string `json:"env,omitempty"`
	Limits        JobLimits         `json:"limits"`
	MaxMana       uint64            `json:"max_mana"`
	BidWindowMS   uint64            `json:"bid_window_ms"`
	Verify        int               `json:"verify"`
	MinReputation uint64            `json:"min_reputation,omitempty"`
}

// JobTransition is one state a job entered.
type JobTransition struct {
	State string `json:"state"`
	Time  string `json:"time"`
}

// JobEvent is the data of one "event: state" of GET /api/v1/jobs/{id}/events:
// a state the job entered. Reason is set on a failed or cancelled job's last
// event.
type JobEvent struct {
	State  string `json:"state"`
	Time   string `json:"time"`
	Reason string `json:"reason,omitempty"`
}

// JobReceipt is the executor's signed account of a run.
type JobReceipt struct {
	CID      string `json:"cid"`
	Executor string `json:"executor"`
	Module   string `json:"module"`
	Input    string `json:"input"`
	Output   string `json:"output"`
	ExitCode uint32 `json:"exit_code"`
	FuelUsed uint64 `json:"fuel_used"`
	// CostTableVersion is the fuel cost table fuel_used is measured in
	// (0: a receipt signed before receipts named it).
	CostTableVersion uint32 `json:"cost_table_version"`
	WallMS           uint64 `json:"wall_ms"`
	// CPUMicros is the CPU time of the run on the executor, in
	// microseconds (0: not measured, as on an executor that is not
	// Linux, or a receipt signed before receipts carried it). It varies
	// from run to run: verification does not compare it.
	CPUMicros       uint64 `json:"cpu_us"`
	PeakMemoryBytes uint64 `json:"peak_memory_bytes"`
	Stderr          []byte `json:"stderr,omitempty"` // base64: the log's tail
	Time            string `json:"time"`
}

// JobWitness is one more executor of a verify-2 job.
type JobWitness struct {
	Role      string      `json:"role"` // witness or tiebreaker
	Executor  string      `json:"executor"`
	Price     uint64      `json:"price,omitempty"`
	FuelPrice uint64      `json:"fuel_price,omitempty"`
	Cost      uint64      `json:"cost,omitempty"`
	Receipt   *JobReceipt `json:"receipt,omitempty"`
}

// Job is GET /api/v1/jobs/{id}.
type Job struct {
	JobID string  `json:"job_id"`
	Spec  JobSpec `json:"spec"`
	// State: submitted, escrowed, announced, bidding, assigned, running,
	// completed, failed or cancelled (the last three are final).
	State    string          `json:"state"`
	History  []JobTransition `json:"history"`
	Executor string          `json:"executor,omitempty"` // DID
	Price    uint64          `json:"price,omitempty"`
	// FuelPrice: the executor's price per 10^9 units of fuel used.
	FuelPrice uint64 `json:"fuel_price,omitempty"`
	// Cost: what the run cost once there is a receipt: price plus
	// fuel_price for each 10^9 units of the receipt's fuel_used, rounded
	// up. An executor on another node is paid this.
	Cost    uint64      `json:"cost,omitempty"`
	Receipt *JobReceipt `json:"receipt,omitempty"`
	// Reason: a failed job's reason (timeout, fuel, memory, ..., then detail).
	Reason string `json:"reason,omitempty"`
	// Witnesses: a verify-2 job's other executors (the witness, and the
	// tiebreaker asked when the two disagreed) and their receipts.
	Witnesses []JobWitness `json:"witnesses,omitempty"`
	// Outvoted: executors whose receipts the others outvoted; they are
	// not paid and lose reputation on this node.
	Outvoted []string `json:"outvoted,omitempty"`
	// Settled: the escrow of a final job has been released (or paid).
	Settled bool `json:"settled"`
	// Bids: the bids this node received for the job (its own among
	// them), the latest of each bidder. Kept in memory only: after a
	// restart of the node they are those received since.
	Bids []JobBid `json:"bids,omitempty"`
}

// JobBid is one bid for a job.
type JobBid struct {
	Executor  string `json:"executor"` // the bidder's DID
	Price     uint64 `json:"price"`
	FuelPrice uint64 `json:"fuel_price,omitempty"` // per 10^9 units of fuel used
	Time      string `json:"time"`
}

// JobList is GET /api/v1/jobs, by job id.
type JobList struct {
	Jobs []Job `json:"jobs"`
	// Next, when set, is the after= of the next page.
	Next string `json:"next,omitempty"`
}

func (s *Server) jobsRoutes() {
	a := s.public
	a.handle(Route{Method: "POST", Path: "/api/v1/jobs", Tag: "jobs",
		Summary: "Submit a WASM job: it is escrowed (max_mana from the node's account), assigned and run",
		Description: "Answers 202 once the job is recorded and its mana escrowed; follow it at Location. " +
			"The job id is the CID of the spec, so submitting the same spec again answers the same job. " +
			"A refused job (insufficient mana) records nothing. A module_wasm larger than the node's maximum block size is " +
			"stored as a chunked module (raw chunks under a dag-cbor root, whose CID is then the job's module), up to 64 MiB; " +
			"a larger body is a 413.",
		Body: JobRequest{}, BodyLimit: jobBodyLimit,
		Response: Job{}, Status: http.StatusAccepted, Errors: []int{400, 404, 409, 413, 415, 500, 503, 504}, Handle: s.postJob})
	a.handle(Route{Method: "GET", Path: "/api/v1/jobs", Tag: "jobs",
		Summary: "The jobs submitted to this node, by id; next is the after= of the next page",
		Params: []Param{{Name: "state", In: "query", Type: "string", Description: "only jobs in this state"},
			{Name: "limit", In: "query", Type: "integer", Description: fmt.Sprintf("at most this many (default and maximum %d)", messages.MaxListedJobs)},
			{Name: "after", In: "query", Type: "string", Description: "only jobs whose id sorts after this (the previous page's next)"}},
		Response: JobList{}, Errors: []int{400, 404, 503, 504}, Handle: s.getJobs})
	a.handle(Route{Method: "GET", Path: "/api/v1/jobs/{id}", Tag: "jobs",
		Summary:  "A job: its spec, state, history of transitions, executor, receipt and reason",
		Response: Job{}, Errors: []int{404, 503, 504}, Handle: s.getJob})
	a.handle(Route{Method: "GET", Path: "/api/v1/jobs/{id}/output", Tag: "jobs",
		Summary:  "A job's output (its stdout), once it has a receipt",
		Produces: ctRaw, Errors: []int{404, 409, 500, 503, 504}, Handle: s.getJobOutput})
	a.handle(Route{Method: "GET", Path: "/api/v1/jobs/{id}/events", Tag: "jobs",
		Summary: "A job's transitions as Server-Sent Events (event: state, data: a JobEvent), ending after a final state",
		Description: "The history so far comes first, then each new state as the job enters it; the stream ends after " +
			"completed, failed or cancelled (whose event carries the reason). A stream open longer than an hour ends " +
			"with an \"event: timeout\"; open it again to go on (the history is replayed). A comment line is sent every 15 s while idle.",
		Produces: "text/event-stream", Errors: []int{404, 503, 504}, Handle: s.getJobEvents})
	a.handle(Route{Method: "POST", Path: "/api/v1/jobs/{id}/cancel", Tag: "jobs",
		Summary:     "Cancel a job that is not finished; its escrow is released",
		Description: "Answers once the cancel is recorded. A job that is already completed, failed or cancelled is a 409.",
		Response:    Job{}, Errors: []int{404, 409, 503, 504}, Handle: s.postJobCancel})
}

func jobsCall[R any](s *Server, r *http.Request, msg any) (R, error) {
	return actorCall[R](s, r, jobsActor, msg)
}

func jobJSON(st messages.JobStatus) Job {
	sp := st.Spec
	out := Job{JobID: st.ID, State: st.State, History: make([]JobTransition, 0, len(st.History)), Executor: st.Executor,
		Price: st.Price, FuelPrice: st.FuelPrice, Cost: st.Cost, Reason: st.Reason, Settled: st.Settled, Outvoted: st.Outvoted,
		Spec: JobSpec{Module: cidString(sp.Module), Input: sp.Input, InputCID: cidString(sp.InputCID), Args: sp.Args, Env: sp.Env,
			Limits:  JobLimits{MemoryMB: sp.Limits.MemoryMB, TimeoutMS: sp.Limits.TimeoutMS, MaxOutputBytes: sp.Limits.MaxOutputBytes, Fuel: sp.Limits.Fuel},
			MaxMana: sp.MaxMana, BidWindowMS: sp.BidWindowMS, Verify: sp.Verify, MinReputation: sp.MinReputation}}
	for _, h := range st.History {
		out.History = append(out.History, JobTransition{State: h.State, Time: stamp(h.Time)})
	}
	out.Receipt = receiptJSON(st.Receipt)
	for _, w := range st.Witnesses {
		out.Witnesses = append(out.Witnesses, JobWitness{Role: w.Role, Executor: w.Executor, Price: w.Price, FuelPrice: w.FuelPrice, Cost: w.Cost, Receipt: receiptJSON(w.Receipt)})
	}
	for _, b := range st.Bids {
		out.Bids = append(out.Bids, JobBid{Executor: b.Executor, Price: b.Price, FuelPrice: b.FuelPrice, Time: stamp(b.Time)})
	}
	return out
}

func receiptJSON(r *messages.JobReceipt) *JobReceipt {
	if r == nil {
		return nil
	}
	return &JobReceipt{CID: cidString(r.CID), Executor: r.Executor, Module: cidString(r.Module), Input: cidString(r.Input),
		Output: cidString(r.Output), ExitCode: r.ExitCode, FuelUsed: r.FuelUsed,
		CostTableVersion: r.CostTableVersion, WallMS: r.WallMS, CPUMicros: r.CPUMicros,
		PeakMemoryBytes: r.PeakMemoryBytes, Stderr: r.Stderr, Time: stamp(r.Time)}
}

// invalidModule is a 400 for a module that cannot be a job's.
func invalidModule(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Code: CodeInvalidModule, Message: fmt.Sprintf(format, args...)}
}

func (s *Server) postJob(w http.ResponseWriter, r *http.Request) error {
	var req JobRequest
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	if len(req.Input) > messages.MaxJobInput {
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: CodeTooLarge,
			Message: fmt.Sprintf("input of %d bytes (max %d)", len(req.Input), messages.MaxJobInput),
			Details: map[string]any{"limit": messages.MaxJobInput}}
	}
	spec := messages.JobSpec{Input: req.Input, Args: req.Args, Env: req.Env, MaxMana: req.MaxMana, BidWindowMS: req.BidWindowMS, Verify: req.Verify,
		MinReputation: req.MinReputation,
		Limits:        messages.JobLimits{MemoryMB: req.Limits.MemoryMB, TimeoutMS: req.Limits.TimeoutMS, MaxOutputBytes: req.Limits.MaxOutputBytes, Fuel: req.Limits.Fuel}}
	switch {
	case req.Module != "" && len(req.ModuleWASM) > 0:
		return invalidModule(`both "module" and "module_wasm": give one`)
	case req.Module != "":
		c, err := block.Parse(req.Module)
		if err != nil {
			return invalidModule(`"module": %v`, err)
		}
		spec.Module = c
	case len(req.ModuleWASM) > 0:
		if !bytes.HasPrefix(req.ModuleWASM, wasmMagic) {
			return invalidModule(`"module_wasm" is not a WebAssembly binary (no \0asm header)`)
		}
		blocks, err := moduleBlocks(req.ModuleWASM, s.cfg.MaxBlockSize)
		if err != nil {
			return err
		}
		// Unpinned: the job's record links the module once it is
		// recorded (a chunked module's root, and so its chunks), and the
		// dag's grace period covers the moment between.
		if _, err := dagCall[*messages.PutBlocksReply](s, r, &messages.PutBlocks{Blocks: blocks}); err != nil {
			return err
		}
		spec.Module = blocks[len(blocks)-1].CID()
	default:
		return invalidModule(`missing "module" (a CID) or "module_wasm" (base64)`)
	}
	if req.InputCID != "" {
		c, err := block.Parse(req.InputCID)
		if err != nil {
			return BadRequest(`"input_cid": %v`, err)
		}
		spec.InputCID = c
	}
	reply, err := jobsCall[*messages.JobStatus](s, r, &messages.SubmitJob{Spec: spec})
	if errors.Is(err, block.ErrInvalidModule) {
		return invalidModule("%v", err) // a module CID naming a chunked module that is not one
	}
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "job submitted", "job", reply.ID, "state", reply.State)
	w.Header().Set("Location", "/api/v1/jobs/"+url.PathEscape(reply.ID))
	writeJSON(w, http.StatusAccepted, jobJSON(*reply))
	return nil
}

// moduleBlocks are the blocks that store a module given inline, its root
// last: one raw block when it fits in one of the node's blocks, else its
// chunks (of block.ModuleChunkSize, or of a block when blocks are
// smaller) under a chunked module's root.
func moduleBlocks(wasm []byte, maxBlock int) ([]block.Block, error) {
	if len(wasm) > block.MaxModuleSize {
		return nil, invalidModule(`"module_wasm" is %d bytes (max %d)`, len(wasm), block.MaxModuleSize)
	}
	if len(wasm) <= maxBlock {
		b, err := block.NewRaw(wasm)
		if err != nil {
			return nil, err
		}
		return []block.Block{b}, nil
	}
	root, chunks, err := block.SplitModule(wasm, min(block.ModuleChunkSize, maxBlock))
	if err != nil {
		return nil, invalidModule(`"module_wasm": %v`, err)
	}
	return append(chunks, root), nil
}

// jobStates are the states ?state= may name.
var jobStates = []string{messages.JobSubmitted, messages.JobEscrowed, messages.JobAnnounced, messages.JobBidding,
	messages.JobAssigned, messages.JobRunning, messages.JobCompleted, messages.JobFailed, messages.JobCancelled}

func (s *Server) getJobs(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	msg := &messages.ListJobs{State: q.Get("state"), After: q.Get("after")}
	if msg.State != "" && !contains(jobStates, msg.State) {
		return BadRequest("?state=%q: want one of %v", msg.State, jobStates)
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 || n > messages.MaxListedJobs {
			return BadRequest("?limit=%q: want 1 to %d", v, messages.MaxListedJobs)
		}
		msg.Limit = n
	}
	reply, err := jobsCall[*messages.JobList](s, r, msg)
	if err != nil {
		return err
	}
	out := JobList{Jobs: make([]Job, 0, len(reply.Jobs))}
	for _, j := range reply.Jobs {
		out.Jobs = append(out.Jobs, jobJSON(j))
	}
	if reply.More && len(reply.Jobs) > 0 {
		out.Next = reply.Jobs[len(reply.Jobs)-1].ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

func contains(list []string, v string) bool {
	for _, s := range list {
		if s == v {
			return true
		}
	}
	return false
}

func (s *Server) getJob(w http.ResponseWriter, r *http.Request) error {
	reply, err := jobsCall[*messages.JobStatus](s, r, &messages.GetJob{ID: r.PathValue("id")})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, jobJSON(*reply))
	return nil
}

func (s *Server) getJobOutput(w http.ResponseWriter, r *http.Request) error {
	reply, err := jobsCall[*messages.JobStatus](s, r, &messages.GetJob{ID: r.PathValue("id")})
	if err != nil {
		return err
	}
	if reply.Receipt == nil || !reply.Receipt.Output.Defined() {
		return &Error{Status: http.StatusConflict, Code: CodeNoOutput,
			Message: fmt.Sprintf("job %s has no output (it is %s)", reply.ID, reply.State), Details: map[string]any{"state": reply.State}}
	}
	b, err := dagCall[*messages.GetBlockReply](s, r, &messages.GetBlock{CID: reply.Receipt.Output})
	if err != nil {
		return err
	}
	body := b.Block.Data()
	h := w.Header()
	h.Set("Content-Type", ctRaw)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body) // the client may have gone
	return nil
}

func (s *Server) postJobCancel(w http.ResponseWriter, r *http.Request) error {
	reply, err := jobsCall[*messages.JobStatus](s, r, &messages.CancelJob{ID: r.PathValue("id")})
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "job cancelled", "job", reply.ID)
	writeJSON(w, http.StatusOK, jobJSON(*reply))
	return nil
}

// The job event stream polls the job manager rather than subscribing to it,
// so that it needs nothing of the actor: a GetJob is cheap, and 15 ms adds
// little to a job that takes a few milliseconds end to end.
const (
	jobEventsPoll = 15 * time.Millisecond
	// jobEventsMax bounds one stream, so that a stuck job does not hold a
	// connection (and a poller) forever; the client reopens it.
	jobEventsMax = time.Hour
	// jobEventsGrace is how long the manager may stay unreachable (a
	// restart of the jobs supervisor reloading its jobs) before the stream
	// gives up with an "event: error".
	jobEventsGrace = 10 * time.Second
)

func (s *Server) getJobEvents(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	// The first look answers an unknown job with an ordinary 404, before
	// the stream starts.
	st, err := jobsCall[*messages.JobStatus](s, r, &messages.GetJob{ID: id})
	if err != nil {
		return err
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprintf(w, ": icn job %s\n\n", st.ID); err != nil {
		return err
	}
	poll := time.NewTicker(jobEventsPoll)
	defer poll.Stop()
	beat := time.NewTicker(heartbeat)
	defer beat.Stop()
	end := time.NewTimer(jobEventsMax)
	defer end.Stop()
	sent := 0
	var failingSince time.Time
	for {
		if st != nil {
			for ; sent < len(st.History); sent++ {
				h := st.History[sent]
				ev := JobEvent{State: h.State, Time: stamp(h.Time)}
				if messages.JobFinal(h.State) {
					ev.Reason = st.Reason
				}
				if err := writeSSE(w, "state", ev); err != nil {
					return err
				}
			}
			if err := rc.Flush(); err != nil {
				return err
			}
			if sent > 0 && messages.JobFinal(st.History[sent-1].State) {
				return nil
			}
		}
		select {
		case <-r.Context().Done():
			return nil // the client went away
		case <-s.streams.Done():
			return nil // shutting down
		case <-end.C:
			if err := writeSSE(w, "timeout", map[string]string{"error": "the stream's time is up: open it again to go on"}); err != nil {
				return err
			}
			return rc.Flush()
		case <-beat.C:
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return err
			}
			if err := rc.Flush(); err != nil {
				return err
			}
			st = nil
			continue
		case <-poll.C:
		}
		st, err = jobsCall[*messages.JobStatus](s, r, &messages.GetJob{ID: id})
		if err != nil {
			if r.Context().Err() != nil {
				return nil
			}
			now := time.Now()
			if failingSince.IsZero() {
				failingSince = now
			}
			if now.Sub(failingSince) < jobEventsGrace {
				st = nil
				continue
			}
			s.log.WarnContext(r.Context(), "job event stream ends: the job manager does not answer", "job", id, "err", err)
			if err := writeSSE(w, "error", map[string]string{"error": err.Error()}); err != nil {
				return err
			}
			return rc.Flush()
		}
		failingSince = time.Time{}
	}
}

// writeSSE writes one event whose data is v as JSON (one line: JSON
// escapes newlines).
func writeSSE(w http.ResponseWriter, name string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "event: %s\ndata: %s\n\n", name, b)
	return err
}
