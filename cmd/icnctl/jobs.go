package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/httpapi"
)

// The jobs API (services/httpapi/jobs.go).
const (
	jobsPath      = "/api/v1/jobs"
	maxListedJobs = 1000 // the node's maximum page of jobs
)

func (a *app) jobCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "job",
		Short: "WASM jobs: submit, follow, list, cancel, fetch the output",
		Long: `job drives the node's job manager through the public API (/api/v1/jobs),
with the api token.

A job is a WASI command: stdin is its input, stdout its output, stderr its
log. The node escrows the job's max_mana from its own account when it is
submitted, runs it on an executor, checks the signed receipt, and releases
the escrow when it ends. States: submitted, escrowed, announced, bidding,
assigned, running, then completed, failed (with a reason) or cancelled.

The job id is the CID of the job's spec: submitting the same module with the
same input and settings again answers the same job.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.jobSubmitCmd(), a.jobGetCmd(), a.jobListCmd(), a.jobCancelCmd(), a.jobOutputCmd(), a.jobWatchCmd())
	return cmd
}

// jobPath is /api/v1/jobs/ID plus rest, the id escaped.
func jobPath(id, rest string) string { return jobsPath + "/" + url.PathEscape(id) + rest }

func (a *app) jobSubmitCmd() *cobra.Command {
	var (
		input, inputCID string
		args            []string
		env             []string
		limits          httpapi.JobLimits
		maxMana         uint64
		bidWindowMS     uint64
		verify          int
		minReputation   uint64
		wait            bool
		poll            time.Duration
	)
	cmd := &cobra.Command{
		Use:   "submit MODULE [--input FILE|-] [--wait]",
		Short: "Submit a WASM job and print its id (with --wait, follow it to the end)",
		Long: `submit sends a job: MODULE is a .wasm file (sent along and stored in the
node's DAG) or the CID of a module already there. --input FILE gives its
stdin ("-" reads icnctl's own stdin), at most 1 MiB; --input-cid names a
block that holds it instead.

It prints the job id alone on one line, so that id=$(icnctl job submit
m.wasm) works. With --wait it then prints each state the job goes through,
one per line, until it ends (as icnctl job watch does): exit 0 when it
completed (icnctl job output ID gives its output), 1 when it failed or was
cancelled (the reason is printed). With -o json it prints the node's answer
(with --wait, the final job, once its escrow is settled).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, argv []string) error {
			req := httpapi.JobRequest{Args: args, Limits: limits, MaxMana: maxMana, InputCID: inputCID,
				BidWindowMS: bidWindowMS, Verify: verify, MinReputation: minReputation}
			if input != "" && inputCID != "" {
				return usageErrorf("--input and --input-cid: give one")
			}
			if verify < 0 || verify > 2 {
				return usageErrorf("--verify %d: want 1 (one executor) or 2 (two that must agree)", verify)
			}
			if minReputation > 100 {
				return usageErrorf("--min-reputation %d: reputation is 0 to 100", minReputation)
			}
			if poll <= 0 {
				return usageErrorf("--poll %s: want a positive duration", poll)
			}
			for _, kv := range env {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || k == "" {
					return usageErrorf("--env %q: want KEY=VALUE", kv)
				}
				if req.Env == nil {
					req.Env = map[string]string{}
				}
				req.Env[k] = v
			}
			if err := a.jobModule(argv[0], &req); err != nil {
				return err
			}
			if input != "" {
				b, err := a.readInput(input)
				if err != nil {
					return err
				}
				req.Input = b
			}
			c, err := a.client(cmd, apiListener())
			if err != nil {
				return err
			}
			ans, err := c.call(cmd.Context(), http.MethodPost, jobsPath, req, true, http.StatusAccepted)
			if err != nil {
				return explainJob(err)
			}
			var j httpapi.Job
			if err := decodeAnswer(http.MethodPost, jobsPath, ans.Body, &j); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !wait {
				if a.json() {
					return writeJSON(out, ans.Body)
				}
				fmt.Fprintln(out, clean(j.JobID))
				return nil
			}
			if a.json() {
				// The final job as JSON: polled, since it is the
				// settled job that is wanted, not the transitions.
				return a.waitJob(cmd.Context(), c, out, j, poll)
			}
			fmt.Fprintln(out, clean(j.JobID))
			err = a.followJob(cmd.Context(), c, out, j.JobID)
			if errors.Is(err, errNoJobEvents) {
				return a.waitJob(cmd.Context(), c, out, j, poll) // a node without the stream
			}
			return err
		},
	}
	f := cmd.Flags()
	f.StringVar(&input, "input", "", `the job's stdin: a file, or "-" for icnctl's stdin (at most 1 MiB)`)
	f.StringVar(&inputCID, "input-cid", "", "the CID of a block in the DAG holding the job's stdin")
	f.StringArrayVar(&args, "arg", nil, "an argument of the command (repeat for more)")
	f.StringArrayVar(&env, "env", nil, "an environment variable KEY=VALUE (repeat for more)")
	f.Uint32Var(&limits.MemoryMB, "memory-mb", 0, "memory limit in MiB (default: the node's)")
	f.Uint64Var(&limits.TimeoutMS, "timeout-ms", 0, "time limit in milliseconds (default: the node's)")
	f.IntVar(&limits.MaxOutputBytes, "max-output-bytes", 0, "output limit in bytes (default: the node's)")
	f.Uint64Var(&limits.Fuel, "fuel", 0, "fuel limit (default: the node's)")
	f.Uint64Var(&maxMana, "max-mana", 0, "the most the job may cost, escrowed while it runs (default: 100)")
	f.Uint64Var(&bidWindowMS, "bid-window-ms", 0, "how long executors have to bid, in milliseconds (default: 50; it closes early once enough bid)")
	f.IntVar(&verify, "verify", 0, "2: run the job on two executors whose receipts must agree, each paid at most half of --max-mana (default: 1)")
	f.Uint64Var(&minReputation, "min-reputation", 0, "refuse executors whose reputation on the node is below this (0 to 100; unknown executors have 50)")
	f.BoolVar(&wait, "wait", false, "follow the job until it ends, printing each state")
	f.DurationVar(&poll, "poll", 200*time.Millisecond, "with --wait -o json (or a node without the event stream), how often to ask the node")
	return cmd
}

// jobModule sets the request's module: a file's bytes, or a CID when no
// file has that name.
func (a *app) jobModule(arg string, req *httpapi.JobRequest) error {
	b, err := os.ReadFile(arg)
	switch {
	case err == nil:
		if len(b) == 0 {
			return usageErrorf("MODULE %s is empty", arg)
		}
		req.ModuleWASM = b
		return nil
	case errors.Is(err, os.ErrNotExist):
		c, perr := parseCID(arg)
		if perr != nil {
			return usageErrorf("MODULE %q is neither a file nor a CID", arg)
		}
		req.Module = c.String()
		return nil
	default:
		return fmt.Errorf("MODULE: %w", err)
	}
}

// readInput reads --input: a file, or "-" for stdin, at most 1 MiB.
func (a *app) readInput(name string) ([]byte, error) {
	var r io.Reader
	if name == "-" {
		r, name = a.stdin, "stdin"
	} else {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("--input: %w", err)
		}
		defer f.Close()
		r = f
	}
	b, err := io.ReadAll(io.LimitReader(r, messages.MaxJobInput+1))
	if err != nil {
		return nil, fmt.Errorf("--input %s: %w", name, err)
	}
	if len(b) > messages.MaxJobInput {
		return nil, fmt.Errorf("--input %s is larger than %d bytes: give it as a block (icnctl dag put, then --input-cid)", name, messages.MaxJobInput)
	}
	return b, nil
}

// waitJob polls a job, printing each state it enters (from its history,
// so that states passed between two polls are printed too), until it is
// final and settled.
func (a *app) waitJob(ctx context.Context, c *client, out io.Writer, j httpapi.Job, poll time.Duration) error {
	path := jobPath(j.JobID, "")
	printed := 0
	for {
		if !a.json() {
			for _, h := range j.History[min(printed, len(j.History)):] {
				fmt.Fprintf(out, "%s  %s\n", stamp(h.Time), clean(h.State))
			}
			printed = max(printed, len(j.History))
		}
		if messages.JobFinal(j.State) && j.Settled {
			break
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		raw, err := c.getJSON(ctx, path, true, &j)
		if err != nil {
			return explainJob(err)
		}
		if a.json() && messages.JobFinal(j.State) && j.Settled {
			if err := writeJSON(out, raw); err != nil {
				return err
			}
		}
	}
	return jobOutcome(j.JobID, j.State, j.Reason)
}

// errNoJobEvents: the node has no job event stream (it predates it); the
// caller polls instead.
var errNoJobEvents = errors.New("the node has no job event stream")

// Reconnecting a job's event stream: it may end without a final state (the
// node's time limit on one stream, a restart of the node, a proxy), and is
// opened again, its history replayed and skipped.
const (
	jobStreamRetries = 5
	jobStreamBackoff = 200 * time.Millisecond
)

// followJob follows a job's event stream, printing one line per state it
// enters, until it reaches a final state: nil when it completed, an error
// naming the reason when it failed or was cancelled.
func (a *app) followJob(ctx context.Context, c *client, out io.Writer, id string) error {
	path := jobPath(id, "/events")
	printed, tries := 0, 0
	var last httpapi.JobEvent
	for {
		res, err := c.openStream(ctx, path)
		if err != nil {
			var ae *APIError
			if errors.As(err, &ae) && ae.Status == http.StatusNotFound && ae.Body.Code != httpapi.CodeUnknownJob && printed == 0 {
				return errNoJobEvents
			}
			return explainJob(err)
		}
		seen := 0
		var bad error
		err = readSSE(res.Body, func(ev sseEvent) bool {
			if ev.Name != "state" {
				return true // timeout, error: the stream ends next
			}
			var je httpapi.JobEvent
			if err := json.Unmarshal([]byte(ev.Data), &je); err != nil || je.State == "" {
				bad = fmt.Errorf("job event stream: malformed state event %.80q", ev.Data)
				return false
			}
			seen++
			if seen > printed {
				fmt.Fprintf(out, "%s  %s\n", stamp(je.Time), clean(je.State))
				printed, tries = seen, 0
			}
			last = je
			return !messages.JobFinal(je.State)
		})
		res.Body.Close()
		switch {
		case bad != nil:
			return bad
		case messages.JobFinal(last.State):
			return jobOutcome(id, last.State, last.Reason)
		case ctx.Err() != nil:
			return ctx.Err()
		}
		if tries++; tries > jobStreamRetries {
			if err == nil || errors.Is(err, io.EOF) {
				err = errors.New("the stream ended before the job did")
			}
			return fmt.Errorf("following job %s: %w", clean(id), err)
		}
		if !sleep(ctx, jobStreamBackoff) {
			return ctx.Err()
		}
	}
}

// jobOutcome is the exit of a command that followed a job to state.
func jobOutcome(id, state, reason string) error {
	switch state {
	case messages.JobCompleted:
		return nil
	case messages.JobFailed:
		return fmt.Errorf("job %s failed: %s", clean(id), clean(reason))
	default:
		return fmt.Errorf("job %s was %s", clean(id), clean(state))
	}
}

func (a *app) jobWatchCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "watch ID",
		Short: "Follow a job: one line per state until it ends (exit 0 completed, 1 failed or cancelled)",
		Long: `watch follows the job's event stream (/api/v1/jobs/ID/events): it prints the
states the job has been through, then each new one as it is entered, and
exits when the job ends: 0 when it completed, 1 when it failed (the reason is
printed) or was cancelled. A stream that drops is opened again.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := nonEmpty("ID", args[0]); err != nil {
				return err
			}
			c, err := a.client(cmd, apiListener())
			if err != nil {
				return err
			}
			return a.followJob(cmd.Context(), c, cmd.OutOrStdout(), args[0])
		},
	}
}

func (a *app) jobGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "get ID",
		Short: "A job: its state, history, executor, receipt, reason and the bids it got",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := nonEmpty("ID", args[0]); err != nil {
				return err
			}
			var j httpapi.Job
			return explainJob(a.show(cmd, apiListener(), jobPath(args[0], ""), true, &j, func(w io.Writer) {
				renderJob(w, j)
				renderBids(w, j.Bids)
			}))
		},
	}
}

// renderBids lists the bids the node received for a job, after the job
// (nothing when it has none).
func renderBids(w io.Writer, bids []httpapi.JobBid) {
	if len(bids) == 0 {
		return
	}
	fmt.Fprintln(w, "Bids")
	tw := newTable(w)
	for _, b := range bids {
		fmt.Fprintf(tw, "  %s\t%s\tprice %s\n", stamp(b.Time), clean(b.Executor), priceLabel(b.Price, b.FuelPrice))
	}
	tw.Flush()
}

func (a *app) jobListCmd() *cobra.Command {
	var (
		state, after string
		limit        int
	)
	cmd := &cobra.Command{
		Use:   "list [--state STATE] [--limit N]",
		Short: "The jobs submitted to this node, by id",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if limit < 0 || limit > maxListedJobs {
				return usageErrorf("--limit %d: want 1 to %d (0: the node's maximum)", limit, maxListedJobs)
			}
			q := url.Values{}
			if state != "" {
				q.Set("state", state)
			}
			if limit > 0 {
				q.Set("limit", strconv.Itoa(limit))
			}
			if after != "" {
				q.Set("after", after)
			}
			var l httpapi.JobList
			return a.show(cmd, apiListener(), withQuery(jobsPath, q), true, &l, func(w io.Writer) { renderJobs(w, l) })
		},
	}
	f := cmd.Flags()
	f.StringVar(&state, "state", "", "only jobs in this state (submitted, ..., running, completed, failed, cancelled)")
	f.IntVar(&limit, "limit", 0, fmt.Sprintf("at most this many jobs (default: the node's maximum, %d)", maxListedJobs))
	f.StringVar(&after, "after", "", "only jobs whose id sorts after this (the next page)")
	return cmd
}

func (a *app) jobCancelCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cancel ID",
		Short: "Cancel a job that has not ended; its escrow is released",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := nonEmpty("ID", args[0]); err != nil {
				return err
			}
			var j httpapi.Job
			return explainJob(a.ask(cmd, apiListener(), http.MethodPost, jobPath(args[0], "/cancel"), true, &j, func(w io.Writer) {
				fmt.Fprintf(w, "cancelled %s\n", clean(j.JobID))
			}))
		},
	}
}

func (a *app) jobOutputCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "output ID",
		Short: "Write a job's output (its stdout) to stdout, exactly",
		Long: `output writes what the job wrote to its stdout, byte for byte, with nothing
added: icnctl job output ID > file. -o json does not apply to it. A job
without a receipt (not run yet, cancelled, or failed before it ended) has no
output (no_output).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := nonEmpty("ID", args[0]); err != nil {
				return err
			}
			c, err := a.client(cmd, apiListener())
			if err != nil {
				return err
			}
			res, err := c.open(cmd.Context(), jobPath(args[0], "/output"), "")
			if err != nil {
				return explainJob(err)
			}
			defer res.Body.Close()
			if _, err := io.Copy(cmd.OutOrStdout(), res.Body); err != nil {
				return fmt.Errorf("output of %s: %w", clean(args[0]), err)
			}
			return nil
		},
	}
}

// explainJob adds advice to the job manager's refusals that have a next
// step.
func explainJob(err error) error {
	return withAdvice(err, func(ae *APIError) (lines []string) {
		switch ae.Body.Code {
		case httpapi.CodeInsufficientMana:
			lines = append(lines, "The job's max_mana is escrowed from the node's account: lower --max-mana, or wait for mana to regenerate (icnctl mana balance).")
		case httpapi.CodeUnknownJob:
			lines = append(lines, "icnctl job list lists the jobs this node knows.")
		case httpapi.CodeNoOutput:
			lines = append(lines, "icnctl job get ID says where the job is.")
		case httpapi.CodeUnavailable:
			if ae.Body.Details["state"] == "loading" {
				lines = append(lines, "The job manager is loading its jobs after a start or restart; try again shortly.")
			}
		}
		return lines
	})
}
