package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/httpapi"
	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
)

// meshNode is one daemon of a mesh federation, with its client and identity.
type meshNode struct {
	d    *daemon
	c    api
	info httpapi.NodeInfo
	dir  string
}

// startMesh runs three icnd on 127.0.0.1: the first with workers 0 (it
// executes no job, so its jobs must run on the other two), the others
// bootstrapping from it. Every node runs with ledger regeneration off, so
// that mana is conserved exactly, and env added to its environment. It
// returns once the first node is connected to both others.
func startMesh(t testing.TB, env ...string) []*meshNode {
	t.Helper()
	began := time.Now()
	bins := build(t)
	t.Logf("binaries ready in %s", time.Since(began).Round(time.Millisecond))
	began = time.Now()
	noRegen := append([]string{"ICN_LEDGER_REGEN_PER_HOUR=0"}, env...)
	nodes := make([]*meshNode, 3)
	start := func(i int, extra ...string) *meshNode {
		dir := filepath.Join(t.TempDir(), fmt.Sprintf("n%d", i+1))
		d := startDaemonEnv(t, bins.icnd, dir, noRegen, extra...)
		n := &meshNode{d: d, c: newAPI(t, d.waitReady(t, dir, 30*time.Second), dir), dir: dir}
		n.c.must(200, "GET", "/api/v1/node", nil, &n.info)
		return n
	}
	nodes[0] = start(0, "--workers", "0")
	var bootstrap string
	for _, a := range nodes[0].info.Addrs {
		if strings.HasPrefix(a, "/ip4/127.0.0.1/tcp/") {
			bootstrap = a + "/p2p/" + nodes[0].info.PeerID
		}
	}
	if bootstrap == "" {
		t.Fatalf("node 1 has no TCP address on 127.0.0.1: %v", nodes[0].info.Addrs)
	}
	for i := 1; i < 3; i++ {
		nodes[i] = start(i, "--bootstrap", bootstrap)
	}
	for _, n := range nodes[1:] {
		nodes[0].c.waitConnected(n.info.PeerID, 15*time.Second)
	}
	t.Logf("three daemons up and connected in %s", time.Since(began).Round(time.Millisecond))
	return nodes
}

// submitJob posts a job with the WAT corpus module name on a node.
func submitJob(c api, name string, req httpapi.JobRequest) httpapi.Job {
	c.t.Helper()
	req.ModuleWASM = wasmtest.WAT(c.t, name)
	var j httpapi.Job
	c.must(202, "POST", "/api/v1/jobs", req, &j)
	if j.JobID == "" {
		c.t.Fatalf("submitted job without an id: %+v", j)
	}
	return j
}

// waitJob polls a job until pred holds.
func (a api) waitJob(id string, within time.Duration, pred func(httpapi.Job) bool) httpapi.Job {
	a.t.Helper()
	deadline := time.Now().Add(within)
	var j httpapi.Job
	for {
		j = httpapi.Job{}
		if code, err := a.do("GET", "/api/v1/jobs/"+id, nil, &j); err == nil && code == 200 && pred(j) {
			return j
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("job %s after %s: state %s (%s) executor %s settled %v history %+v", id, within, j.State, j.Reason, j.Executor, j.Settled, j.History)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func jobFinished(j httpapi.Job) bool { return messages.JobFinal(j.State) && j.Settled }

// entries lists all of an account's chain on a node, newest first.
func (a api) entries(did string) []httpapi.LedgerEntry {
	a.t.Helper()
	var all []httpapi.LedgerEntry
	for before := uint64(0); ; {
		var page httpapi.EntryList
		path := fmt.Sprintf("/api/v1/accounts/%s/entries?limit=1000", did)
		if before > 0 {
			path += fmt.Sprintf("&before=%d", before)
		}
		a.must(200, "GET", path, nil, &page)
		all = append(all, page.Entries...)
		if page.Next == 0 {
			return all
		}
		before = page.Next
	}
}

// waitReceived polls a node's own chain until it holds a receive of a
// payment from payer; it returns that entry.
func (n *meshNode) waitReceived(t *testing.T, payer string, within time.Duration) httpapi.LedgerEntry {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		for _, e := range n.c.entries(n.info.DID) {
			if e.Op == "receive" && e.Counterparty == payer {
				return e
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never received a payment from %s within %s\nstderr:\n%s", n.info.DID, payer, within, n.d.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// settlesOf returns the settle entries of a job on an account's chain.
func settlesOf(entries []httpapi.LedgerEntry, job string) []httpapi.LedgerEntry {
	var out []httpapi.LedgerEntry
	for _, e := range entries {
		if e.Op == "settle" && e.Ref == job {
			out = append(out, e)
		}
	}
	return out
}

func (a api) account(did string) httpapi.Account {
	a.t.Helper()
	var acct httpapi.Account
	a.must(200, "GET", "/api/v1/accounts/"+did, nil, &acct)
	return acct
}

func (a api) output(id string) []byte {
	a.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+a.addr+"/api/v1/jobs/"+id+"/output", nil)
	req.Header.Set("Authorization", a.bearer)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		a.t.Fatalf("output of %s: %d %s", id, res.StatusCode, b)
	}
	return b
}

// historyLine is a job's states in order, "a → b → c".
func historyLine(j httpapi.Job) string {
	var states []string
	for _, h := range j.History {
		states = append(states, h.State)
	}
	return strings.Join(states, " → ")
}

func assignments(j httpapi.Job) int {
	n := 0
	for _, h := range j.History {
		if h.State == "assigned" {
			n++
		}
	}
	return n
}

// startLongJob submits the loop module for about two seconds of work on
// a and returns once one of the executor nodes' pool is running it
// (not merely assigned it): the job, that node, and when it was submitted.
func startLongJob(t *testing.T, a *meshNode, executors []*meshNode) (httpapi.Job, *meshNode, time.Time) {
	t.Helper()
	// loop: N (stdin, 8 bytes little-endian) iterations of a tight loop,
	// about 1.2 ns each (docs/benchmarks.md): 2*10^9 run a couple of seconds.
	const n = 2_000_000_000
	submitted := time.Now()
	j := submitJob(a.c, "loop", httpapi.JobRequest{Input: binary.LittleEndian.AppendUint64(nil, n),
		Limits: httpapi.JobLimits{Fuel: 50 * messages.FuelUnit, TimeoutMS: 30_000}})
	running := a.c.waitJob(j.JobID, 20*time.Second, func(j httpapi.Job) bool {
		return j.State == "running" && j.Executor != "" || messages.JobFinal(j.State)
	})
	if running.State != "running" {
		t.Fatalf("finished before anything could be killed: %s (%s)", running.State, running.Reason)
	}
	i := slices.IndexFunc(executors, func(n *meshNode) bool { return n.info.DID == running.Executor })
	if i < 0 {
		t.Fatalf("executor %s is not one of the executor nodes", running.Executor)
	}
	ran := executors[i]
	deadline := time.Now().Add(20 * time.Second)
	for {
		var s messages.SubsystemStatus
		if code, err := ran.c.do("GET", "/api/v1/subsystems/executors", nil, &s); err == nil && code == 200 && s.Details["busy"] == "1" {
			return j, ran, submitted
		}
		if time.Now().After(deadline) {
			t.Fatalf("the executor's pool never ran the job\nstderr:\n%s", ran.d.stderr)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkPaidOnce checks the money of a completed job submitted on a: one
// settle on a's chain paying payee the job's cost, nothing left reserved,
// a's balance down by exactly the cost since before (regeneration is off),
// and payee's node receiving the payment, citing the settle.
func checkPaidOnce(t *testing.T, a, payee *meshNode, before httpapi.Account, done httpapi.Job) {
	t.Helper()
	if done.Price == 0 || done.Cost <= done.Price || done.Cost > done.Spec.MaxMana {
		t.Fatalf("price %d, cost %d (max_mana %d)", done.Price, done.Cost, done.Spec.MaxMana)
	}
	settles := settlesOf(a.c.entries(a.info.DID), done.JobID)
	if len(settles) != 1 || settles[0].Counterparty != payee.info.DID || settles[0].Amount != done.Cost {
		t.Fatalf("settles of the job on the submitter: %+v (cost %d to %s)", settles, done.Cost, payee.info.DID)
	}
	after := a.c.account(a.info.DID)
	if after.Reserved != 0 || after.Reservations != 0 || after.Balance != before.Balance-done.Cost {
		t.Fatalf("submitter account %+v after the job, %+v before, cost %d", after, before, done.Cost)
	}
	recv := payee.waitReceived(t, a.info.DID, 20*time.Second)
	if recv.Amount != done.Cost || recv.Source != settles[0].CID {
		t.Fatalf("receive on the executor %+v, want %d from settle %s", recv, done.Cost, settles[0].CID)
	}
}

// meshTest starts the mesh for a test (skipped with -short) and returns it
// with the submitter's account as it stands before any job.
func meshTest(t *testing.T) ([]*meshNode, httpapi.Account) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the binaries")
	}
	nodes := startMesh(t)
	return nodes, nodes[0].c.account(nodes[0].info.DID)
}

// nodeOf is the node of nodes whose DID is did (nil if none).
func nodeOf(nodes []*meshNode, did string) *meshNode {
	for _, n := range nodes {
		if n.info.DID == did {
			return n
		}
	}
	return nil
}

// TestThreeDaemonsRunAJob: a job submitted on a node without workers runs
// on one of the two others; the submitter pays the executor its price from
// the escrow, the executor's node receives the payment on its own chain,
// and the executor's reputation on the submitter rises.
func TestThreeDaemonsRunAJob(t *testing.T) {
	began := time.Now()
	nodes, before := meshTest(t)
	a := nodes[0]
	executors := []string{nodes[1].info.DID, nodes[2].info.DID}
	var repBefore = map[string]httpapi.Reputation{}
	for _, did := range executors {
		var r httpapi.Reputation
		a.c.must(200, "GET", "/api/v1/reputation/"+did, nil, &r)
		repBefore[did] = r
	}

	submitted := time.Now()
	j := submitJob(a.c, "upper", httpapi.JobRequest{Input: []byte("hello, mesh of daemons")})
	done := a.c.waitJob(j.JobID, 30*time.Second, jobFinished)
	t.Logf("job %s %s in %s", done.JobID, done.State, time.Since(submitted).Round(time.Millisecond))
	if done.State != "completed" {
		t.Fatalf("state %s (%s), history %+v", done.State, done.Reason, done.History)
	}
	if !slices.Contains(executors, done.Executor) {
		t.Fatalf("executor %q, want one of %v", done.Executor, executors)
	}
	if done.Receipt == nil || done.Receipt.Executor != done.Executor || done.Receipt.ExitCode != 0 || done.Receipt.Output == "" {
		t.Fatalf("receipt %+v of executor %s", done.Receipt, done.Executor)
	}
	if got := a.c.output(done.JobID); string(got) != "HELLO, MESH OF DAEMONS" {
		t.Fatalf("output %q", got)
	}
	// The submitter settled once, paying the executor its cost, which
	// the executor's node received, citing the settle.
	exec := nodeOf(nodes[1:], done.Executor)
	checkPaidOnce(t, a, exec, before, done)
	var v httpapi.VerifyReport
	exec.c.must(200, "GET", "/api/v1/accounts/"+exec.info.DID+"/verify", nil, &v)
	if !v.Valid {
		t.Fatalf("the executor's chain does not verify: %+v", v.Problems)
	}

	// The executor's reputation on the submitter rose.
	var rep httpapi.Reputation
	a.c.must(200, "GET", "/api/v1/reputation/"+done.Executor, nil, &rep)
	if old := repBefore[done.Executor]; rep.Successes != old.Successes+1 || rep.Score <= old.Score {
		t.Fatalf("executor reputation on the submitter: %+v, was %+v", rep, old)
	}
	t.Logf("whole test %s", time.Since(began).Round(time.Millisecond))
}

// TestSIGKILLOfTheExecutorDaemonMidJobReassigns SIGKILLs the daemon that is
// running a job: the submitter assigns the job to the other executor, it
// completes there, and the submitter's mana is conserved (escrow settled
// once, to the executor that ran it).
func TestSIGKILLOfTheExecutorDaemonMidJobReassigns(t *testing.T) {
	began := time.Now()
	nodes, before := meshTest(t)
	a := nodes[0]
	j, victim, submitted := startLongJob(t, a, nodes[1:])
	other := nodes[1]
	if other == victim {
		other = nodes[2]
	}
	killedAt := time.Now()
	victim.d.kill(t)
	t.Logf("executor %s SIGKILLed %s after submission", victim.info.DID, killedAt.Sub(submitted).Round(time.Millisecond))

	done := a.c.waitJob(j.JobID, 30*time.Second, jobFinished)
	t.Logf("job %s %s %s after the kill (%s after submission); history: %s", done.JobID, done.State,
		time.Since(killedAt).Round(time.Millisecond), time.Since(submitted).Round(time.Millisecond), historyLine(done))
	if done.State != "completed" || done.Executor != other.info.DID {
		t.Fatalf("state %s (%s) executor %s, want completed on %s; history %+v\nsubmitter stderr:\n%s",
			done.State, done.Reason, done.Executor, other.info.DID, done.History, a.d.stderr)
	}
	if done.Receipt == nil || done.Receipt.Executor != other.info.DID || done.Receipt.ExitCode != 0 {
		t.Fatalf("receipt %+v", done.Receipt)
	}
	if got := assignments(done); got != 2 {
		t.Fatalf("assigned %d times, want 2: %+v", got, done.History)
	}
	if len(strings.TrimSpace(string(a.c.output(done.JobID)))) != 16 {
		t.Fatalf("output %q, want 16 hex digits", a.c.output(done.JobID))
	}
	checkPaidOnce(t, a, other, before, done)

	// The executor that ran the job gains a success on the submitter; the
	// killed one, which lost the job, a failure.
	var rep, lost httpapi.Reputation
	a.c.must(200, "GET", "/api/v1/reputation/"+other.info.DID, nil, &rep)
	a.c.must(200, "GET", "/api/v1/reputation/"+victim.info.DID, nil, &lost)
	if rep.Successes != 1 || lost.Failures != 1 {
		t.Fatalf("reputation on the submitter: the executor that ran the job %+v, the killed one %+v", rep, lost)
	}
	t.Logf("whole test %s", time.Since(began).Round(time.Millisecond))
}

// BenchmarkJobAcrossDaemons: three icnd processes on 127.0.0.1 (production
// profile: libp2p TCP, badger with synced commits), jobs submitted over
// HTTP to the one without workers, so that each is announced, bid for,
// assigned to one of the two others, run there, and its receipt and output
// fetched, verified and paid for. An op is one trivial job (upper) from
// POST to a GET that shows it completed (polled every millisecond, which
// the latency includes).
func BenchmarkJobAcrossDaemons(b *testing.B) {
	nodes := startMesh(b, "ICN_LEDGER_INITIAL=10000") // room for the escrow of a thousand jobs
	a := nodes[0].c
	module := wasmtest.WAT(b, "upper")
	run := func(i int) time.Duration {
		began := time.Now()
		var j httpapi.Job
		a.must(202, "POST", "/api/v1/jobs", httpapi.JobRequest{ModuleWASM: module,
			Input: fmt.Appendf(nil, "job %d %d", i, began.UnixNano())}, &j)
		for {
			var s httpapi.Job
			if code, err := a.do("GET", "/api/v1/jobs/"+j.JobID, nil, &s); err != nil || code != 200 {
				b.Fatalf("job %s: %d %v", j.JobID, code, err)
			}
			if messages.JobFinal(s.State) {
				if s.State != messages.JobCompleted {
					b.Fatalf("job %s: %s %s", j.JobID, s.State, s.Reason)
				}
				return time.Since(began)
			}
			time.Sleep(time.Millisecond)
		}
	}
	run(-1) // the executors compile the module once
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		lat = append(lat, run(i))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// restartSubmitter starts node a's daemon again on its data dir with the
// flags and environment startMesh gave it (workers 0, regeneration off),
// also listening on listen (its previous p2p address, so that the nodes
// that bootstrapped from it find it again). It returns once the daemon is
// ready, with a's daemon, client and identity replaced.
func restartSubmitter(t *testing.T, a *meshNode, listen string) {
	t.Helper()
	bins := build(t)
	d := startDaemonEnv(t, bins.icnd, a.dir, []string{"ICN_LEDGER_REGEN_PER_HOUR=0"},
		"--workers", "0", "--p2p-listen", listen)
	a.d = d
	a.c = newAPI(t, d.waitReady(t, a.dir, 30*time.Second), a.dir)
	var info httpapi.NodeInfo
	a.c.must(200, "GET", "/api/v1/node", nil, &info)
	if info.DID != a.info.DID || info.PeerID != a.info.PeerID {
		t.Fatalf("the submitter came back as %s (%s), was %s (%s)", info.PeerID, info.DID, a.info.PeerID, a.info.DID)
	}
	a.info = info
}

// TestSIGKILLOfTheSubmitterDaemonMidJobResumes SIGKILLs the daemon that
// submitted a job while an executor runs it, and restarts it on the same
// data dir: its job manager resumes the job from its record, the job
// completes once, is settled once (the executor paid its price, nothing
// left reserved) and the executor's node receives the payment.
func TestSIGKILLOfTheSubmitterDaemonMidJobResumes(t *testing.T) {
	began := time.Now()
	nodes, before := meshTest(t)
	a := nodes[0]
	var listen string
	for _, addr := range a.info.Addrs {
		if strings.HasPrefix(addr, "/ip4/127.0.0.1/tcp/") {
			listen, _, _ = strings.Cut(addr, "/p2p/")
		}
	}
	if listen == "" {
		t.Fatalf("the submitter has no TCP address on 127.0.0.1: %v", a.info.Addrs)
	}
	j, ran, submitted := startLongJob(t, a, nodes[1:])
	killedAt := time.Now()
	old := a.d
	old.kill(t)
	t.Logf("submitter SIGKILLed %s after submission (executor %s)", killedAt.Sub(submitted).Round(time.Millisecond), ran.info.DID)

	restartSubmitter(t, a, listen)
	readyAt := time.Now()
	t.Logf("submitter ready again %s after the kill", readyAt.Sub(killedAt).Round(time.Millisecond))
	for _, n := range nodes[1:] {
		a.c.waitConnected(n.info.PeerID, 20*time.Second)
	}
	t.Logf("submitter reconnected to both executors %s after the kill", time.Since(killedAt).Round(time.Millisecond))

	// The restarted job manager resumes the job from its record.
	var done httpapi.Job
	deadline := time.Now().Add(45 * time.Second)
	for {
		done = httpapi.Job{}
		if code, err := a.c.do("GET", "/api/v1/jobs/"+j.JobID, nil, &done); err == nil && code == 200 && jobFinished(done) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s after the restart: state %s (%s) executor %s settled %v history %+v\nsubmitter stderr (after restart):\n%s\nsubmitter stderr (before the kill):\n%s\nexecutor stderr:\n%s",
				j.JobID, done.State, done.Reason, done.Executor, done.Settled, done.History, a.d.stderr, old.stderr, ran.d.stderr)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Logf("job %s %s %s after the restart (%s after the kill, %s after submission); history: %s",
		done.JobID, done.State, time.Since(readyAt).Round(time.Millisecond), time.Since(killedAt).Round(time.Millisecond),
		time.Since(submitted).Round(time.Millisecond), historyLine(done))
	if done.State != "completed" || strings.Count(historyLine(done), "completed") != 1 {
		t.Fatalf("state %s (%s) executor %s, want completed once; history %+v\nsubmitter stderr:\n%s",
			done.State, done.Reason, done.Executor, done.History, a.d.stderr)
	}
	payee := nodeOf(nodes[1:], done.Executor)
	if payee == nil {
		t.Fatalf("executor %q is not one of the executor nodes", done.Executor)
	}
	if done.Receipt == nil || done.Receipt.Executor != done.Executor || done.Receipt.ExitCode != 0 {
		t.Fatalf("receipt %+v", done.Receipt)
	}
	if out := strings.TrimSpace(string(a.c.output(done.JobID))); len(out) != 16 {
		t.Fatalf("output %q, want 16 hex digits", out)
	}
	checkPaidOnce(t, a, payee, before, done)

	// The submitter's own restart is no fault of the executor: the
	// resumed job asks the executor that was running it again (which
	// answers from its run), it is not assigned elsewhere, and that
	// executor is not blamed.
	var rep httpapi.Reputation
	a.c.must(200, "GET", "/api/v1/reputation/"+ran.info.DID, nil, &rep)
	if done.Executor != ran.info.DID || assignments(done) != 1 || rep.Failures != 0 {
		t.Errorf("the resumed job completed on %s after %d assignments; it was running on %s when the submitter was killed, "+
			"whose reputation on the submitter is now %+v\nsubmitter stderr after the restart:\n%s",
			done.Executor, assignments(done), ran.info.DID, rep, a.d.stderr)
	}
	t.Logf("whole test %s", time.Since(began).Round(time.Millisecond))
}
