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
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/httpapi"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// Exit codes (see the package documentation).
const (
	exitOK       = 0
	exitError    = 1
	exitUnwell   = 2
	exitUsage    = 64
	outputText   = "text"
	outputJSON   = "json"
	recentEvents = 10
)

// app is one run of icnctl: what the environment gives it, the global flags,
// and the clients it opened. Nothing of it outlives the run.
type app struct {
	getenv     func(string) string
	now        func() time.Time
	isTerminal func(io.Writer) bool
	stdin      io.Reader // what "-" reads (dag put -, dag import -)
	version    string

	// The live view's pacing; tests shorten it.
	coalesce   time.Duration // gather a burst of events into one redraw
	backoffMin time.Duration // first wait before reconnecting the event stream
	backoffMax time.Duration
	// How often an upload's progress line is redrawn on a terminal.
	progressEvery time.Duration

	api, admin     string
	dataDir        string
	apiTokenFile   string
	adminTokenFile string
	output         string
	timeout        time.Duration

	started bool // flags and arguments were accepted: later errors are not usage errors
	clients []*client
}

func newApp(getenv func(string) string, version string) *app {
	return &app{
		getenv: getenv, now: time.Now, isTerminal: isTerminal, stdin: os.Stdin, version: version,
		coalesce: 150 * time.Millisecond, backoffMin: 250 * time.Millisecond, backoffMax: 5 * time.Second,
		progressEvery: 250 * time.Millisecond,
	}
}

// isTerminal says whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// usageError is a mistake in the command line: exit 64.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

func usageErrorf(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

// unwellError: the command printed its answer, and the answer is "degraded"
// or "not ready": exit 2, with nothing more to say.
type unwellError struct{ state string }

func (e *unwellError) Error() string { return "node is " + e.state }

// close releases the clients' idle connections.
func (a *app) close() {
	for _, c := range a.clients {
		c.close()
	}
}

func (a *app) json() bool { return a.output == outputJSON }

// setting returns a global flag's value if it was given, else the
// variable's.
func (a *app) setting(cmd *cobra.Command, flag, value, env string) setting {
	if f := cmd.Root().PersistentFlags().Lookup(flag); f != nil && f.Changed {
		return setting{value: value, source: "--" + flag}
	}
	if env != "" {
		if v := a.getenv(env); v != "" {
			return setting{value: v, source: env}
		}
	}
	return setting{}
}

// client resolves a listener and opens a client for it.
func (a *app) client(cmd *cobra.Command, l listener) (*client, error) {
	dataDir := a.setting(cmd, "data-dir", a.dataDir, envDataDir).value
	if dataDir == "" {
		dataDir = defaultDataDir
	}
	addr, tokenFlag, tokenFile := a.api, "api-token-file", a.apiTokenFile
	if l.name == adminListener().name {
		addr, tokenFlag, tokenFile = a.admin, "admin-token-file", a.adminTokenFile
	}
	t, err := resolveTarget(l, a.setting(cmd, strings.TrimPrefix(l.addrFlag, "--"), addr, l.addrEnv),
		dataDir, a.setting(cmd, tokenFlag, tokenFile, "").value)
	if err != nil {
		return nil, err
	}
	c := newClient(t, a.timeout, a.version)
	a.clients = append(a.clients, c)
	return c, nil
}

// rootCmd builds the command tree.
func (a *app) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "icnctl",
		Short: "Operate an ICN node (icnd): status, health, the supervision tree, fault injection, blocks, mana, jobs, peers",
		Long: `icnctl talks to a running icnd over its public API and its admin API.

It finds the node through the data directory icnd writes: api.addr and
admin.addr hold the bound addresses while icnd runs, api.token and
admin.token its bearer tokens (created on the first start). On the node's
machine "icnctl status" needs no flag; elsewhere pass --api and --admin
(host:port or http://host:port) and the token files.

Exit codes: 0 success; 1 error; 2 the node is degraded or not ready
(status, health, ready), or an account's chain does not verify (mana
verify); 64 usage error.`,
		SilenceErrors: true,
		SilenceUsage:  true,
		Version:       a.version,
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			a.started = true
			if a.output != outputText && a.output != outputJSON {
				return usageErrorf("-o %q: want text or json", a.output)
			}
			if a.timeout <= 0 {
				return usageErrorf("--timeout %s: want a positive duration", a.timeout)
			}
			return nil
		},
	}
	root.SetVersionTemplate("icnctl {{.Version}}\n")
	pf := root.PersistentFlags()
	pf.StringVar(&a.api, "api", "", "public API address, host:port or http://host:port ("+envAPI+"; default <data-dir>/api.addr, else "+defaultAPIAddr+")")
	pf.StringVar(&a.admin, "admin", "", "admin API address ("+envAdmin+"; default <data-dir>/admin.addr, else "+defaultAdminAddr+")")
	pf.StringVar(&a.dataDir, "data-dir", defaultDataDir, "icnd's data directory, where the address and token files are ("+envDataDir+")")
	pf.StringVar(&a.apiTokenFile, "api-token-file", "", "file holding the API bearer token (default <data-dir>/"+httpapi.APITokenFile+")")
	pf.StringVar(&a.adminTokenFile, "admin-token-file", "", "file holding the admin bearer token (default <data-dir>/"+httpapi.AdminTokenFile+")")
	pf.StringVarP(&a.output, "output", "o", outputText, "output format: text, or json (the node's JSON, indented)")
	pf.DurationVar(&a.timeout, "timeout", 10*time.Second, "time limit of each request (of a stream or transfer: of connecting and of the wait for the answer)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return &usageError{err} })

	root.AddCommand(a.statusCmd(), a.nodeCmd(), a.healthCmd(), a.readyCmd(), a.subsystemsCmd(),
		a.metricsCmd(), a.openAPICmd(), a.versionCmd(), a.actorsCmd(), a.adminURLCmd(), a.dagCmd(), a.manaCmd(), a.reputationCmd(), a.jobCmd(),
		a.peersCmd(), a.faultsCmd(), a.cclCmd())
	return root
}

func (a *app) statusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Node identity, overall health, and every subsystem's state and own status",
		Long: `status shows who the node is (DID, peer ID, version, profile, uptime), its
health with one line per subsystem (state, breaker, serving, error), and each
subsystem's own status.

Exit status: 0 when the node is ok, 2 when it is degraded (some subsystem is
not serving), 1 when the node cannot be asked.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(cmd, apiListener())
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			var (
				node   httpapi.NodeInfo
				health httpapi.Health
				subs   httpapi.SubsystemsReply
				raw    [3][]byte
				errs   [3]error
				wg     sync.WaitGroup
			)
			// Three independent questions: ask them at once, so a slow
			// subsystem delays the answer by its own time only.
			wg.Go(func() { raw[0], errs[0] = c.getJSON(ctx, "/api/v1/node", true, &node) })
			wg.Go(func() { raw[1], errs[1] = c.getJSON(ctx, "/health", false, &health) })
			wg.Go(func() { raw[2], errs[2] = c.getJSON(ctx, "/api/v1/subsystems", true, &subs) })
			wg.Wait()
			if err := firstError(errs[:]); err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if a.json() {
				err = writeValue(out, map[string]json.RawMessage{"node": raw[0], "health": raw[1], "subsystems": raw[2]})
			} else {
				renderStatus(out, node, health, subs, a.now())
			}
			if err != nil {
				return err
			}
			return healthExit(health)
		},
	}
}

// firstError picks the error to report among concurrent calls: a missing
// token or an unreachable node explains the others.
func firstError(errs []error) error {
	for _, e := range errs {
		var te *TokenError
		var ce *ConnError
		if errors.As(e, &te) || errors.As(e, &ce) {
			return e
		}
	}
	return errors.Join(errs...)
}

func healthExit(h httpapi.Health) error {
	if h.Status != "ok" {
		return &unwellError{state: h.Status}
	}
	return nil
}

func (a *app) nodeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "node",
		Short: "Who the node is: DID, peer ID, addresses, version, profile, uptime",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var n httpapi.NodeInfo
			return a.show(cmd, apiListener(), "/api/v1/node", true, &n, func(w io.Writer) { renderNode(w, n, a.now()) })
		},
	}
}

func (a *app) healthCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "health",
		Short: "Overall health and one line per subsystem (no token needed)",
		Long: `health asks GET /health: whether every subsystem is serving, and each one's
state, breaker and error.

Exit status: 0 when the node is ok, 2 when it is degraded, 1 on error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var h httpapi.Health
			if err := a.show(cmd, apiListener(), "/health", false, &h, func(w io.Writer) {
				renderHealth(w, h, subsystemOrder(h, nil))
			}); err != nil {
				return err
			}
			return healthExit(h)
		},
	}
}

func (a *app) readyCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ready",
		Short: "Whether the node is ready to serve, and if not why (no token needed)",
		Long: `ready asks GET /ready, the readiness probe of load balancers and orchestrators.

Exit status: 0 when ready, 2 when not ready (the reasons are printed), 1 on error.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(cmd, apiListener())
			if err != nil {
				return err
			}
			ans, err := c.call(cmd.Context(), http.MethodGet, "/ready", nil, false, http.StatusOK, http.StatusServiceUnavailable)
			if err != nil {
				return err
			}
			var r httpapi.Readiness
			if err := decodeAnswer(http.MethodGet, "/ready", ans.Body, &r); err != nil {
				return err
			}
			if r.Reasons == nil && ans.Status != http.StatusOK {
				// Not a readiness answer: an error in the common shape.
				return newAPIError(http.MethodGet, "/ready", ans.Status, ans.Header, ans.Body)
			}
			if ans.Status == http.StatusServiceUnavailable && r.Ready {
				r.Ready = false // the status is the answer; the body cannot overrule it
			}
			if a.json() {
				err = writeJSON(cmd.OutOrStdout(), ans.Body)
			} else {
				renderReady(cmd.OutOrStdout(), r)
			}
			if err != nil {
				return err
			}
			if !r.Ready {
				return &unwellError{state: "not ready"}
			}
			return nil
		},
	}
}

func (a *app) subsystemsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "subsystems [NAME]",
		Short: "Each subsystem's own status, or one subsystem's",
		Long: `subsystems asks every subsystem for its status through its mailbox
(GET /api/v1/subsystems); with NAME, only that one (GET /api/v1/subsystems/NAME),
which fails with "unavailable" and a retry delay while its breaker is open.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				var st messages.SubsystemStatus
				return a.show(cmd, apiListener(), "/api/v1/subsystems/"+url.PathEscape(args[0]), true, &st,
					func(w io.Writer) { renderSubsystem(w, st, a.now()) })
			}
			var subs httpapi.SubsystemsReply
			return a.show(cmd, apiListener(), "/api/v1/subsystems", true, &subs,
				func(w io.Writer) { renderSubsystems(w, subs, a.now()) })
		},
	}
}

func (a *app) metricsCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "metrics",
		Short: "The node's Prometheus metrics, as the text exposition format (no token needed)",
		Long: `metrics prints GET /metrics as the node sends it, in Prometheus' text
exposition format, whatever -o says.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(cmd, apiListener())
			if err != nil {
				return err
			}
			ans, err := c.call(cmd.Context(), http.MethodGet, "/metrics", nil, false)
			if err != nil {
				return err
			}
			_, err = cmd.OutOrStdout().Write(ans.Body)
			return err
		},
	}
}

func (a *app) openAPICmd() *cobra.Command {
	return &cobra.Command{
		Use:       "openapi [api|admin]",
		Short:     "The OpenAPI document of the public API (default) or of the admin API",
		ValidArgs: []string{"api", "admin"},
		Args: func(_ *cobra.Command, args []string) error {
			if len(args) > 1 || len(args) == 1 && args[0] != "api" && args[0] != "admin" {
				return usageErrorf("openapi takes one optional argument, api or admin, got %q", strings.Join(args, " "))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			l, path := apiListener(), "/api/v1/openapi.json"
			if len(args) == 1 && args[0] == "admin" {
				l, path = adminListener(), "/admin/openapi.json"
			}
			c, err := a.client(cmd, l)
			if err != nil {
				return err
			}
			ans, err := c.call(cmd.Context(), http.MethodGet, path, nil, true)
			if err != nil {
				return err
			}
			return writeJSON(cmd.OutOrStdout(), ans.Body)
		},
	}
}

func (a *app) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "icnctl's own version (the node's is in icnctl node)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if a.json() {
				return writeValue(cmd.OutOrStdout(), map[string]string{"version": a.version})
			}
			_, err := fmt.Fprintf(cmd.OutOrStdout(), "icnctl %s\n", a.version)
			return err
		},
	}
}

func (a *app) actorsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "actors [PATH]",
		Short: "The supervision tree, or the subtree at PATH (an actor path like /icn/dag, or a unique name)",
		Long: `actors prints the live supervision tree, one line per actor: its kind (and
strategy for supervisors), status, breaker state (and how often it tripped),
restarts, failures, mailbox length, messages processed and the last failure.

Subcommands: "actors kill" injects a fault, "actors watch" is a live view.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := "/admin/actors"
			if len(args) == 1 {
				path += "?path=" + url.QueryEscape(args[0])
			}
			var n supervisors.Node
			return a.show(cmd, adminListener(), path, true, &n, func(w io.Writer) { renderTree(w, n) })
		},
	}
	cmd.AddCommand(a.killCmd(), a.watchCmd())
	return cmd
}

// killModes lists the modes supervisors.ParseKillMode accepts.
func killModes() []string {
	var names []string
	for m := supervisors.KillPanic; m <= supervisors.KillPoison; m++ {
		names = append(names, m.String())
	}
	return names
}

func (a *app) killCmd() *cobra.Command {
	var mode string
	modes := strings.Join(killModes(), ", ")
	cmd := &cobra.Command{
		Use:   "kill PATH",
		Short: "Fault injection: kill an actor (" + modes + "); its supervisor decides what happens next",
		Long: `kill asks the node to kill the actor at PATH (or with that unique name):

  panic   the actor panics inside its own receive, like any bug would
  stop    the actor stops at once; queued messages go to dead letters
  poison  the actor stops after handling what is already queued

Its supervisor then restarts it, or opens its breaker when it fails too often.
Follow what happens with "icnctl actors watch".`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := supervisors.ParseKillMode(mode)
			if err != nil {
				return usageErrorf("--mode %q: want one of %s", mode, modes)
			}
			if strings.TrimSpace(args[0]) == "" {
				return usageErrorf("PATH is empty: want an actor path such as /icn/dag")
			}
			c, err := a.client(cmd, adminListener())
			if err != nil {
				return err
			}
			const path = "/admin/actors/kill"
			ans, err := c.call(cmd.Context(), http.MethodPost, path, httpapi.KillRequest{Path: args[0], Mode: m.String()}, true, http.StatusAccepted)
			if err != nil {
				return err
			}
			if a.json() {
				return writeJSON(cmd.OutOrStdout(), ans.Body)
			}
			var k httpapi.KillAccepted
			if err := decodeAnswer(http.MethodPost, path, ans.Body, &k); err != nil {
				return err
			}
			renderKill(cmd.OutOrStdout(), k)
			return nil
		},
	}
	cmd.Flags().StringVar(&mode, "mode", supervisors.KillPanic.String(), "how to kill: "+modes)
	return cmd
}

func (a *app) watchCmd() *cobra.Command {
	var once bool
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Live view: the supervision tree, redrawn as supervision events arrive",
		Long: `watch follows the node's supervision events (GET /admin/events).

On a terminal it draws the tree and redraws it after events (a burst of events
causes one redraw), with the last ` + fmt.Sprint(recentEvents) + ` events under it. Otherwise it prints
the tree once, then one line per event; with -o json it prints only the events,
one JSON object per line, as the node sends them.

It reconnects when the stream drops, and ends on Ctrl-C (SIGINT) or SIGTERM.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(cmd, adminListener())
			if err != nil {
				return err
			}
			mode := watchLines
			switch {
			case a.json():
				mode = watchJSON
			case a.isTerminal(cmd.OutOrStdout()):
				mode = watchFrames
			}
			w := &watcher{c: c, out: cmd.OutOrStdout(), errOut: cmd.ErrOrStderr(), mode: mode, once: once,
				now: a.now, coalesce: a.coalesce, backoffMin: a.backoffMin, backoffMax: a.backoffMax}
			return w.run(cmd.Context())
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "show the tree, then exit after the first event (or burst, on a terminal)")
	return cmd
}

func (a *app) adminURLCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "admin-url",
		Short: "The admin page's URL with the admin token in its fragment, to open in a browser",
		Long: `admin-url prints http://<admin>/admin/#token=<admin token>. Browsers never send
a URL's fragment to the server; the page reads the token from it, keeps it in
the tab's session storage and removes it from the address bar.

The URL is a credential: do not paste it where others can read it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := a.client(cmd, adminListener())
			if err != nil {
				return err
			}
			tok, err := readToken(c.t)
			if err != nil {
				return err
			}
			u := c.t.base + "/admin/#token=" + fragmentEscape(tok)
			if a.json() {
				return writeValue(cmd.OutOrStdout(), map[string]string{"url": u})
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), u)
			return err
		},
	}
}

// show GETs path, then prints it as JSON or with render.
func (a *app) show(cmd *cobra.Command, l listener, path string, auth bool, out any, render func(io.Writer)) error {
	return a.ask(cmd, l, http.MethodGet, path, auth, out, render)
}

// ask sends method to path without a body and decodes the 200 answer into
// out, then prints it as JSON or with render.
func (a *app) ask(cmd *cobra.Command, l listener, method, path string, auth bool, out any, render func(io.Writer)) error {
	c, err := a.client(cmd, l)
	if err != nil {
		return err
	}
	ans, err := c.call(cmd.Context(), method, path, nil, auth)
	if err != nil {
		return err
	}
	if err := decodeAnswer(method, path, ans.Body, out); err != nil {
		return err
	}
	if a.json() {
		return writeJSON(cmd.OutOrStdout(), ans.Body)
	}
	render(cmd.OutOrStdout())
	return nil
}

// isInterrupted says whether err comes from a command cut short by a signal.
func isInterrupted(err error) bool {
	return errors.Is(err, context.Canceled)
}
