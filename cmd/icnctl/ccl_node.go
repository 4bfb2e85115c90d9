package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/intercooperative-network/icn-go/services/httpapi"
)

// The CCL commands that talk to a node: publish and eval, over the
// contracts API (services/httpapi/contracts.go) with the api token.

// contractsPath is the contracts API.
const contractsPath = "/api/v1/contracts"

// renderContract prints a published contract: its manifest CID alone on
// the first line (what eval takes), then its blocks and entry points.
func renderContract(w io.Writer, c httpapi.Contract) {
	fmt.Fprintln(w, c.Manifest)
	fmt.Fprintf(w, "  wasm %s\n  source %s\n  compiler %s\n", c.WASM, c.Source, clean(c.CompilerVersion))
	for _, e := range c.Entries {
		fmt.Fprintf(w, "  %s(%s) -> %s\n", clean(e.Name), clean(strings.Join(e.Params, ", ")), clean(e.Result))
	}
	imports := "none"
	if len(c.Imports) > 0 {
		imports = strings.Join(c.Imports, ", ")
	}
	fmt.Fprintf(w, "  imports: %s\n", clean(imports))
}

// compileErrors prints the positioned errors of a 400 compile_error, one
// a line as "icnctl ccl check" does, and makes the error; any other error
// is returned as it is.
func compileErrors(w io.Writer, file string, err error) error {
	ae, ok := errors.AsType[*APIError](err)
	if !ok || ae.Body.Code != httpapi.CodeCompileError {
		return err
	}
	var list []httpapi.SourceError
	if b, merr := json.Marshal(ae.Body.Details["errors"]); merr != nil || json.Unmarshal(b, &list) != nil || len(list) == 0 {
		return err
	}
	for _, e := range list {
		fmt.Fprintln(w, clean(fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Col, e.Message)))
	}
	if len(list) == 1 {
		return fmt.Errorf("%s: 1 compile error", file)
	}
	return fmt.Errorf("%s: %d compile errors", file, len(list))
}

func (a *app) cclPublishCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "publish FILE",
		Short: "Publish a CCL contract to the node: compiled there and stored as source, module and manifest",
		Long: `publish sends FILE to the node (POST /api/v1/contracts), which compiles it
and stores the source, the module and a manifest linking them, pinned. It
prints the manifest's CID (the contract, what "icnctl ccl eval" takes) on
the first line, then the module's and source's CIDs, the compiler version,
the entry points and the host functions the module imports. Publishing the
same source again gives the same CIDs.

Compile errors are printed one a line as file:line:col: message (exit 1),
as "icnctl ccl check" prints them.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			file := args[0]
			src, err := os.ReadFile(file)
			if err != nil {
				return err
			}
			c, err := a.client(cmd, apiListener())
			if err != nil {
				return err
			}
			ans, err := c.call(cmd.Context(), http.MethodPost, contractsPath,
				httpapi.PublishRequest{Filename: file, Source: string(src)}, true, http.StatusCreated)
			if err != nil {
				return compileErrors(cmd.ErrOrStderr(), file, err)
			}
			var out httpapi.Contract
			if err := decodeAnswer(http.MethodPost, contractsPath, ans.Body, &out); err != nil {
				return err
			}
			if a.json() {
				return writeJSON(cmd.OutOrStdout(), ans.Body)
			}
			renderContract(cmd.OutOrStdout(), out)
			return nil
		},
	}
}

// evalRequest is the body eval sends: every argument as text, which the
// node reads by the parameter's type, and the snapshot file as it is.
type evalRequest struct {
	Entry    string          `json:"entry"`
	Args     []string        `json:"args"`
	Snapshot json.RawMessage `json:"snapshot,omitempty"`
}

// evalAnswer keeps the result's JSON as sent: an Integer may not fit a
// float64.
type evalAnswer struct {
	Result   json.RawMessage `json:"result"`
	Type     string          `json:"type"`
	FuelUsed uint64          `json:"fuel_used"`
}

// resultText formats a result as "icnctl ccl run" does: a String quoted,
// anything else as its literal.
func resultText(r evalAnswer) string {
	var s string
	if err := json.Unmarshal(r.Result, &s); err != nil {
		return string(r.Result) // a number or a boolean
	}
	if r.Type == "String" {
		return strconv.Quote(s)
	}
	return s
}

func (a *app) cclEvalCmd() *cobra.Command {
	var (
		entry, snapPath string
		cliArgs         []string
	)
	cmd := &cobra.Command{
		Use:   "eval CID --entry NAME [--snapshot snapshot.json] [--arg VALUE]...",
		Short: "Evaluate an entry point of a published contract on the node, against a snapshot",
		Long: `eval asks the node (POST /api/v1/contracts/CID/eval) to call --entry of the
contract whose manifest is CID with the --arg values (one per parameter, in
order: a whole number, true or false, a DID, or text) against the
--snapshot (JSON, see docs/ccl.md; default: empty). The node recompiles the
contract's source and refuses it (contract_mismatch) unless it gives the
published module, then runs the call with its fuel. Prints the result and
the fuel used, as "icnctl ccl run" does.

A trap (require_failed, overflow, divide_by_zero, index_out_of_bounds,
missing_param, memory_limit, fuel_exhausted) prints the fuel used and exits
1 with the trap.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			id := strings.TrimSpace(args[0])
			if id == "" {
				return usageErrorf("CID is empty")
			}
			body := evalRequest{Entry: entry, Args: cliArgs}
			if body.Args == nil {
				body.Args = []string{}
			}
			if snapPath != "" {
				b, err := os.ReadFile(snapPath)
				if err != nil {
					return err
				}
				if !json.Valid(b) {
					return usageErrorf("--snapshot %s: not JSON", snapPath)
				}
				body.Snapshot = b
			}
			c, err := a.client(cmd, apiListener())
			if err != nil {
				return err
			}
			path := contractsPath + "/" + url.PathEscape(id) + "/eval"
			w := cmd.OutOrStdout()
			ans, err := c.call(cmd.Context(), http.MethodPost, path, body, true)
			if err != nil {
				ae, ok := errors.AsType[*APIError](err)
				if !ok || ae.Status != http.StatusUnprocessableEntity {
					return err
				}
				// A trap: its kind, message and the fuel used are in the details.
				kind, _ := ae.Body.Details["kind"].(string)
				msg, _ := ae.Body.Details["message"].(string)
				fuel, _ := ae.Body.Details["fuel_used"].(float64)
				if a.json() {
					if werr := writeValue(w, cclRunResult{Entry: entry, Trap: &cclTrap{Kind: kind, Message: msg}, FuelUsed: uint64(fuel)}); werr != nil {
						return werr
					}
				} else {
					fmt.Fprintf(w, "fuel used: %d\n", uint64(fuel))
				}
				if msg != "" {
					kind += ": " + msg
				}
				return fmt.Errorf("trap %s", clean(kind))
			}
			var out evalAnswer
			if err := decodeAnswer(http.MethodPost, path, ans.Body, &out); err != nil {
				return err
			}
			if a.json() {
				return writeValue(w, cclRunResult{Entry: entry, Result: out.Result, Type: out.Type, FuelUsed: out.FuelUsed})
			}
			fmt.Fprintf(w, "result: %s (%s)\nfuel used: %d\n", clean(resultText(out)), clean(out.Type), out.FuelUsed)
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&entry, "entry", "run", "the entry point to call")
	f.StringVar(&snapPath, "snapshot", "", "the snapshot's JSON file (default: an empty snapshot)")
	f.StringArrayVar(&cliArgs, "arg", nil, "an argument of the entry point, in order (repeat the flag)")
	return cmd
}
