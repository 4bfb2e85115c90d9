package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
)

// The governance actor's name in the tree: it publishes and runs contracts.
const governanceActor = "governance"

// contractBodyLimit bounds a publish or eval body: the compiler takes at
// most 1 MiB of source, which JSON escaping may make up to six times
// larger; a snapshot of thousands of members fits too.
const contractBodyLimit = 8 << 20

// defaultContractFile names a source sent as raw text without ?filename=,
// in compile errors.
const defaultContractFile = "contract.ccl"

// PublishRequest is the JSON body of POST /api/v1/contracts (the source
// may also be sent as is, as text/plain).
type PublishRequest struct {
	Filename string `json:"filename,omitempty"` // in error positions only
	Source   string `json:"source"`
}

// Contract is a published contract: the CIDs of its manifest (the
// contract's identity), module and source, and what the module exports
// and imports.
type Contract struct {
	Manifest        string          `json:"manifest"`
	WASM            string          `json:"wasm"`
	Source          string          `json:"source"`
	CompilerVersion string          `json:"compiler_version"`
	Entries         []ContractEntry `json:"entries"`
	Imports         []string        `json:"imports"`
}

// ContractEntry is an entry point: its parameter and result types as CCL
// spells them.
type ContractEntry struct {
	Name   string   `json:"name"`
	Params []string `json:"params"`
	Result string   `json:"result"`
}

// EvalRequest is the body of POST /api/v1/contracts/{cid}/eval.
type EvalRequest struct {
	Entry string `json:"entry"`
	// Args are the entry point's arguments, in order: a JSON number (or
	// a decimal string) for Integer, Timestamp and Duration, true or false,
	// a DID string, or a string.
	Args []any `json:"args,omitempty"`
	// Snapshot is the snapshot object of docs/ccl.md; none is the empty
	// snapshot.
	Snapshot map[string]any `json:"snapshot,omitempty"`
}

// EvalResult answers an evaluation: the result (a number, a boolean or a
// string), its CCL type and the fuel the call used.
type EvalResult struct {
	Result   any    `json:"result"`
	Type     string `json:"type"`
	FuelUsed uint64 `json:"fuel_used"`
}

// SourceError is one positioned compile error, in the details of a 400
// compile_error: {"errors": [...]}.
type SourceError struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Col     int    `json:"col"`
	Message string `json:"message"`
}

func (s *Server) contractRoutes() {
	a := s.public
	a.handle(Route{Method: "POST", Path: "/api/v1/contracts", Tag: "contracts",
		Summary: "Publish a CCL contract: compile it and store its source, module and manifest, pinned",
		Description: "The body is the source as text (any content type but JSON; ?filename= names it in errors) " +
			"or JSON {filename, source}. Answers once the three blocks are durable; publishing the same source " +
			"again gives the same CIDs. A source that does not compile is a 400 compile_error whose " +
			"details.errors lists every error with its file, line and column.",
		Params: []Param{{Name: "filename", In: "query", Description: "the file name in compile errors, for a raw source (default " + defaultContractFile + ")"}},
		Body:   PublishRequest{}, AlsoRaw: true, BodyLimit: contractBodyLimit,
		Response: Contract{}, Status: http.StatusCreated, Errors: []int{400, 413, 500, 503, 504}, Handle: s.postContract})
	a.handle(Route{Method: "GET", Path: "/api/v1/contracts/{cid}", Tag: "contracts",
		Summary:  "A published contract's manifest: its blocks, compiler version, entry points and imports",
		Response: Contract{}, Errors: []int{400, 404, 500, 503, 504}, Handle: s.getContract})
	a.handle(Route{Method: "POST", Path: "/api/v1/contracts/{cid}/eval", Tag: "contracts",
		Summary: "Evaluate an entry point of a contract against a snapshot, fuel-metered",
		Description: "The node recompiles the stored source and refuses the contract (409 contract_mismatch) unless it " +
			"gives the stored module. A call that traps is a 422 whose code is the trap (require_failed, overflow, " +
			"divide_by_zero, index_out_of_bounds, missing_param, memory_limit, fuel_exhausted), with details " +
			"{kind, message, fuel_used}.",
		Body: EvalRequest{}, BodyLimit: contractBodyLimit,
		Response: EvalResult{}, Errors: []int{400, 404, 409, 413, 415, 422, 500, 503, 504}, Handle: s.postEval})
}

func contract(c *messages.ContractInfo) Contract {
	out := Contract{Manifest: cidString(c.Manifest), WASM: cidString(c.WASM), Source: cidString(c.Source),
		CompilerVersion: c.CompilerVersion, Entries: make([]ContractEntry, 0, len(c.Entries)), Imports: c.Imports}
	if out.Imports == nil {
		out.Imports = []string{}
	}
	for _, e := range c.Entries {
		params := e.Params
		if params == nil {
			params = []string{}
		}
		out.Entries = append(out.Entries, ContractEntry{Name: e.Name, Params: params, Result: e.Result})
	}
	return out
}

func (s *Server) postContract(w http.ResponseWriter, r *http.Request) error {
	msg := &messages.PublishContract{Filename: r.URL.Query().Get("filename")}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
		var req PublishRequest
		if err := decodeJSON(r, &req); err != nil {
			return err
		}
		if req.Filename != "" {
			msg.Filename = req.Filename
		}
		msg.Source = []byte(req.Source)
	} else {
		src, err := io.ReadAll(r.Body)
		if err != nil {
			return err
		}
		msg.Source = src
	}
	if msg.Filename == "" {
		msg.Filename = defaultContractFile
	}
	reply, err := actorCall[*messages.ContractInfo](s, r, governanceActor, msg)
	if err != nil {
		return err
	}
	s.log.InfoContext(r.Context(), "contract published", "manifest", reply.Manifest)
	w.Header().Set("Location", "/api/v1/contracts/"+reply.Manifest.String())
	writeJSON(w, http.StatusCreated, contract(reply))
	return nil
}

func (s *Server) getContract(w http.ResponseWriter, r *http.Request) error {
	c, err := block.Parse(r.PathValue("cid"))
	if err != nil {
		return err
	}
	reply, err := actorCall[*messages.ContractInfo](s, r, governanceActor, &messages.GetContract{CID: c})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, contract(reply))
	return nil
}

func (s *Server) postEval(w http.ResponseWriter, r *http.Request) error {
	c, err := block.Parse(r.PathValue("cid"))
	if err != nil {
		return err
	}
	var req EvalRequest
	if err := decodeExactJSON(r, &req); err != nil {
		return err
	}
	if req.Entry == "" {
		return BadRequest("entry: the entry point to call is required")
	}
	msg := &messages.EvalContract{CID: c, Entry: req.Entry, Args: make([]string, len(req.Args))}
	for i, v := range req.Args {
		switch v := v.(type) {
		case json.Number:
			msg.Args[i] = v.String()
		case bool:
			msg.Args[i] = strconv.FormatBool(v)
		case string:
			msg.Args[i] = v
		default:
			return BadRequest("args[%d]: want a number, a boolean or a string", i)
		}
	}
	if req.Snapshot != nil {
		// Numbers stayed json.Number, so they are written back exactly.
		if msg.Snapshot, err = json.Marshal(req.Snapshot); err != nil {
			return BadRequest("snapshot: %v", err)
		}
	}
	reply, err := actorCall[*messages.EvalResult](s, r, governanceActor, msg)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, EvalResult{Result: resultValue(reply), Type: reply.Type, FuelUsed: reply.FuelUsed})
	return nil
}

// resultValue is a result as JSON: a number, a boolean or a string.
func resultValue(r *messages.EvalResult) any {
	switch r.Type {
	case "Integer", "Timestamp", "Duration":
		return r.Int
	case "Bool":
		return r.Bool
	}
	return r.Str
}

// decodeExactJSON is decodeJSON keeping numbers as json.Number: an
// Integer argument or a snapshot balance may not fit a float64.
func decodeExactJSON(r *http.Request, v any) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return BadRequest("empty request body: want a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var se *json.SyntaxError
		var te *json.UnmarshalTypeError
		switch {
		case errors.As(err, &se):
			return BadRequest("malformed JSON at byte %d: %v", se.Offset, err)
		case errors.As(err, &te):
			return BadRequest("field %q: want %s, got JSON %s", te.Field, te.Type, te.Value)
		default:
			return BadRequest("bad JSON body: %v", err)
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return BadRequest("trailing data after the JSON body")
	}
	return nil
}

// contractError is the answer to a compile error or a trap, with the
// details clients need (nil for any other error).
func contractError(err error) *Error {
	if ce, ok := errors.AsType[*messages.CompileError](err); ok {
		list := make([]SourceError, 0, len(ce.Errors))
		for _, e := range ce.Errors {
			list = append(list, SourceError{File: e.File, Line: e.Line, Col: e.Col, Message: e.Message})
		}
		return &Error{Status: http.StatusBadRequest, Code: CodeCompileError, Message: err.Error(),
			Details: map[string]any{"errors": list}, Err: err}
	}
	if tr, ok := errors.AsType[*messages.ContractTrap](err); ok {
		return &Error{Status: http.StatusUnprocessableEntity, Code: trapCode(tr.Kind), Message: err.Error(),
			Details: map[string]any{"kind": tr.Kind, "message": tr.Message, "fuel_used": tr.FuelUsed}, Err: err}
	}
	return nil
}

// trapCode is a trap's error code: its kind, for the kinds of CCL v1; a
// kind this server does not know is contract_trap, with the kind in the
// details.
func trapCode(kind string) string {
	switch kind {
	case CodeRequireFailed, CodeOverflow, CodeDivideByZero, CodeIndexOutOfBounds,
		CodeMissingParam, CodeMemoryLimit, CodeFuelExhausted:
		return kind
	}
	return CodeContractTrap
}
