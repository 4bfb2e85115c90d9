package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/actors/executors"
	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/network"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// The cross-node lifecycle: a submitter announces a job on the jobs
// topic, executors' nodes (this one included) bid, the best bid wins, and
// the winner's node runs the job on its own pool and answers the receipt.

const (
	peersName = "peers"
	// peerCallTimeout bounds a gossip publish, a peer listing and a bid:
	// none of them waits on a job.
	peerCallTimeout = 2 * time.Second
	// maxBidsWanted closes a bidding window early: with this many bids in,
	// waiting longer rarely finds a better one.
	maxBidsWanted = 3
	// maxAttempts bounds the executors a job is assigned to in turn.
	maxAttempts = 3
	// rebidPause paces the announcements of a job nobody bid on.
	rebidPause = 50 * time.Millisecond
)

// bid is one offer in a job's bidding window.
type bid struct {
	messages.JobBid
	peer  string // the bidder's peer ID; "" for this node's own bid
	score uint64 // the bidder's reputation on this node
}

// bidBoxes are the open bidding windows, by job id. The manager's
// goroutine puts the bids that arrive and the job's driver takes them, so
// the map is shared and guarded rather than owned by either.
type bidBoxes struct {
	mu   sync.Mutex
	open map[string]chan bid
}

func newBidBoxes() *bidBoxes { return &bidBoxes{open: map[string]chan bid{}} }

func (b *bidBoxes) openBox(id string) chan bid {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch := make(chan bid, 16)
	b.open[id] = ch
	return ch
}

func (b *bidBoxes) closeBox(id string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.open, id)
}

// put hands a bid to its window, reporting whether one was open with room.
func (b *bidBoxes) put(x bid) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	ch, ok := b.open[x.JobID]
	if !ok {
		return false
	}
	select {
	case ch <- x:
		return true
	default:
		return false
	}
}

// errBiddingClosed answers a bid that arrives when no window is open for
// its job.
var errBiddingClosed = errors.New("jobs: bidding is closed for this job")

// onPeerRequest answers the jobs' RPCs from other nodes.
func (m *manager) onPeerRequest(c actor.Context, msg *messages.PeerRequestIn) {
	switch msg.Type {
	case messages.WireJobBid:
		var b messages.JobBid
		switch {
		case json.Unmarshal(msg.Body, &b) != nil:
			c.Respond(fmt.Errorf("jobs: malformed bid"))
		case b.Bidder != msg.From:
			c.Respond(fmt.Errorf("jobs: a bid for %s signed by %s", b.Bidder, msg.From))
		case !m.boxes.put(bid{JobBid: b, peer: msg.Peer}):
			m.Metrics.bids.WithLabelValues("refused").Inc()
			c.Respond(fmt.Errorf("%w: %s", errBiddingClosed, b.JobID))
		default:
			m.Metrics.bids.WithLabelValues("received").Inc()
			c.Respond(&messages.PeerResponse{})
		}
	case messages.WireJobAssign:
		var a messages.JobAssignment
		if err := json.Unmarshal(msg.Body, &a); err != nil {
			c.Respond(fmt.Errorf("jobs: malformed assignment"))
			return
		}
		if m.life == nil {
			c.Respond(&supervisors.UnavailableError{Path: Name, State: "starting", RetryAfter: time.Second})
			return
		}
		if a.Executor != m.Identity.DID().String() || a.JobID != a.Spec {
			// Refused before a run is kept for the job: a misdirected
			// assignment must not stand for a later right one.
			c.Respond(fmt.Errorf("jobs: assignment of %s (spec %s) to %s, not this node", a.JobID, a.Spec, a.Executor))
			return
		}
		run := m.runs.start(a.JobID, msg.From, m.Clock.Now(), func(r *assignedRun) {
			life, stop := context.WithCancel(m.life)
			r.stop = stop
			m.goSafe(a.JobID, "assigned run", func() {
				defer stop()
				r.reply, r.err = m.runAssigned(life, a)
				close(r.done)
			}, func(err error) {
				// The submitter hears an error (the executor lost the
				// job) and assigns it elsewhere.
				r.reply, r.err = nil, err
				close(r.done)
			})
		})
		reply := m.replyTo(c.Sender())
		m.goSafe(a.JobID, "assignment request", func() {
			t := time.NewTimer(longPoll)
			defer t.Stop()
			var answer any = &messages.PeerResponse{Body: pendingBody}
			select {
			case <-run.done:
				answer = run.answer()
			case <-t.C:
			case <-m.life.Done():
				answer = &supervisors.UnavailableError{Path: Name, State: "stopping", RetryAfter: time.Second}
			}
			reply(answer)
		}, func(err error) { reply(err) })
	case messages.WireJobAnnounce:
		// A direct announcement, sent when gossip found no bidder: the
		// same message, answered at once (the bid follows by RPC).
		m.onAnnounce(&messages.GossipIn{Topic: network.TopicJobs, Type: msg.Type, From: msg.From, Peer: msg.Peer, Body: msg.Body})
		c.Respond(&messages.PeerResponse{})
	case messages.WireJobCancel:
		var jc messages.JobCancel
		if err := json.Unmarshal(msg.Body, &jc); err != nil {
			c.Respond(fmt.Errorf("jobs: malformed cancel"))
			return
		}
		if m.life == nil {
			c.Respond(&supervisors.UnavailableError{Path: Name, State: "starting", RetryAfter: time.Second})
			return
		}
		run := m.runs.get(jc.JobID)
		if run == nil || run.from != msg.From {
			c.Respond(fmt.Errorf("jobs: no run of %s assigned by %s", jc.JobID, msg.From))
			return
		}
		run.stop() // a run still waiting for a worker or a block stops here
		reply, ctx := m.replyTo(c.Sender()), m.life
		m.goSafe(jc.JobID, "cancel request", func() {
			ctx, cancel := context.WithTimeout(ctx, peerCallTimeout)
			defer cancel()
			var answer any = &messages.PeerResponse{}
			if _, err := supervisors.Ask[*messages.CancelRunReply](ctx, m.tree, executorsName, &messages.CancelRun{JobID: jc.JobID}); err != nil {
				answer = err
			}
			reply(answer)
		}, func(err error) { reply(err) })
	default:
		c.Respond(fmt.Errorf("%w: %s", messages.ErrNoRoute, msg.Type))
	}
}

// replyTo answers a request off the actor's goroutine (not at all when it
// has no sender).
func (m *manager) replyTo(sender *actor.PID) func(any) {
	return func(answer any) {
		if sender != nil {
			m.sys.Root.Send(sender, answer)
		}
	}
}

// longPoll is how long an assignment request waits for its run to end
// before it answers pending: well under the network's bound on serving a
// request (network.DefaultRPCTimeout).
const longPoll = 4 * time.Second

// runRetention is how long a finished run's answer is kept for a
// submitter that asks again (its previous answer lost on the way).
const runRetention = time.Minute

// pendingBody is the JobAssignReply of a run not ended yet.
var pendingBody = []byte(`{"pending":true}`)

// assignedRun is a job another node assigned to this one: one run however
// often the assignment is asked (the submitter asks until the run ends,
// and asks again after a restart).
type assignedRun struct {
	from      string             // the DID of the node that assigned it
	stop      context.CancelFunc // ends the run (a cancel from its submitter)
	done      chan struct{}      // closed when reply or err is set
	reply     *messages.JobAssignReply
	err       error
	startedAt time.Time
}

// retryable says whether a new assignment of the job should run it again
// rather than hear this run's answer: the run ended without a receipt
// and not because of the job itself (this node lost it, was busy, or could
// not fetch its blocks).
func (r *assignedRun) retryable() bool {
	select {
	case <-r.done:
	default:
		return false // still running: the assignment waits for it
	}
	if r.err != nil {
		return true
	}
	switch r.reply.Reason {
	case messages.ReasonExecutorLost, messages.AssignBusy, messages.AssignUnavailable:
		return true
	}
	return false
}

func (r *assignedRun) answer() any {
	if r.err != nil {
		return r.err
	}
	body, err := json.Marshal(r.reply)
	if err != nil {
		return err
	}
	return &messages.PeerResponse{Body: body}
}

// assignedRuns are the runs of this incarnation, by job id: the manager's
// goroutine starts them and request goroutines wait on them.
type assignedRuns struct {
	mu   sync.Mutex
	runs map[string]*assignedRun
}

func newAssignedRuns() *assignedRuns { return &assignedRuns{runs: map[string]*assignedRun{}} }

// start returns the job's run, starting it with begin if there is none. It
// forgets runs that ended and began more than runRetention ago.
func (a *assignedRuns) start(job, from string, now time.Time, begin func(*assignedRun)) *assignedRun {
	a.mu.Lock()
	defer a.mu.Unlock()
	for id, r := range a.runs {
		select {
		case <-r.done:
			if now.Sub(r.startedAt) > runRetention {
				delete(a.runs, id)
			}
		default:
		}
	}
	if r, ok := a.runs[job]; ok && !r.retryable() {
		return r
	}
	r := &assignedRun{from: from, done: make(chan struct{}), startedAt: now}
	a.runs[job] = r
	begin(r)
	return r
}

// get returns the job's run, nil if there is none.
func (a *assignedRuns) get(job string) *assignedRun {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.runs[job]
}

// onAnnounce bids on another node's job when this node has a free worker.
func (m *manager) onAnnounce(msg *messages.GossipIn) {
	var a messages.JobAnnouncement
	if msg.Type != messages.WireJobAnnounce || msg.From == m.Identity.DID().String() || m.life == nil ||
		json.Unmarshal(msg.Body, &a) != nil || a.JobID == "" {
		return
	}
	if why := m.Config.refuses(a.MemoryMB, a.TimeoutMS); why != "" {
		m.Metrics.bids.WithLabelValues("declined").Inc()
		m.log.Debug("jobs: not bidding: the job does not fit this node's limits", "job", a.JobID, "why", why)
		return
	}
	ctx := m.life
	m.goSafe(a.JobID, "bid", func() {
		ctx, cancel := context.WithTimeout(ctx, peerCallTimeout)
		defer cancel()
		_, free := m.capacity(ctx)
		if free <= 0 {
			return
		}
		price, fuelPrice, ok := m.Config.offer(a.MaxMana, a.Fuel)
		if !ok {
			m.Metrics.bids.WithLabelValues("declined").Inc()
			return
		}
		body, err := json.Marshal(messages.JobBid{JobID: a.JobID, Bidder: m.Identity.DID().String(),
			Price: price, FuelPrice: fuelPrice, Free: free})
		if err != nil {
			return
		}
		if _, err := m.tree.Request(ctx, peersName, &messages.AskPeer{Peer: msg.Peer, Type: messages.WireJobBid,
			Body: body, Timeout: peerCallTimeout}); err != nil {
			m.log.Debug("jobs: bid not taken", "job", a.JobID, "err", err)
		} else {
			m.Metrics.bids.WithLabelValues("sent").Inc()
		}
	}, nil)
}

// capacity asks the executor pool for its workers and free workers (0, 0
// when it does not answer: such a node does not bid).
func (m *manager) capacity(ctx context.Context) (workers, free int) {
	s, err := supervisors.Ask[*messages.SubsystemStatus](ctx, m.tree, executorsName, &messages.StatusRequest{})
	if err != nil {
		return 0, 0
	}
	workers, _ = strconv.Atoi(s.Details["workers"])
	free, _ = strconv.Atoi(s.Details["free"])
	return workers, free
}

// runAssigned runs a job another node assigned to this one on its pool
// until life ends (a cancel from the submitter, or the node stopping): the
// spec and the blocks it names are fetched from the submitter.
func (m *manager) runAssigned(life context.Context, a messages.JobAssignment) (*messages.JobAssignReply, error) {
	if a.Executor != m.Identity.DID().String() {
		return nil, fmt.Errorf("jobs: job %s is assigned to %s, not this node", a.JobID, a.Executor)
	}
	specCID, err := cid.Decode(a.Spec)
	if err != nil || specCID.String() != a.JobID {
		return nil, fmt.Errorf("jobs: assignment of %s names spec %q", a.JobID, a.Spec)
	}
	ctx, cancel := context.WithTimeout(life, callTimeout)
	sb, err := supervisors.Ask[*messages.GetBlockReply](ctx, m.tree, dagName, &messages.GetBlock{CID: specCID, Fetch: true})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("jobs: spec of %s: %w", a.JobID, err)
	}
	spec, err := decodeSpec(sb.Block)
	if err != nil {
		return nil, fmt.Errorf("jobs: spec of %s: %w", a.JobID, err)
	}
	if h := m.testPanic; h != nil {
		h("run", a.JobID)
	}
	// This node bid only on jobs within its limits, but an assignment
	// names the spec, not the bid: one over the limits is refused here
	// too. Busy, so that the submitter gives the job to another bid
	// without blaming this node (bids are not kept here, so the limits
	// are what a bid promised).
	if why := m.Config.refuses(spec.Limits.MemoryMB, spec.Limits.TimeoutMS); why != "" {
		m.log.Warn("jobs: refusing an assignment over this node's limits", "job", a.JobID, "why", why)
		return &messages.JobAssignReply{Reason: messages.AssignBusy, Detail: "refused: the job does not fit this node's limits: " + why}, nil
	}
	// Fetched first (a chunked module whole), so that a holder out of
	// reach (the submitter restarting) is told apart from a module that
	// does not run.
	if _, err := executors.FetchModule(life, m.tree, spec.Module); errors.Is(err, block.ErrInvalidModule) {
		return &messages.JobAssignReply{Reason: messages.ReasonInvalidModule, Detail: err.Error()}, nil
	} else if err != nil {
		return &messages.JobAssignReply{Reason: messages.AssignUnavailable, Detail: fmt.Sprintf("fetching %s: %v", spec.Module, err)}, nil
	}
	if c := spec.InputCID; c.Defined() {
		ctx, cancel := context.WithTimeout(life, callTimeout)
		_, err := supervisors.Ask[*messages.GetBlockReply](ctx, m.tree, dagName, &messages.GetBlock{CID: c, Fetch: true})
		cancel()
		if err != nil {
			return &messages.JobAssignReply{Reason: messages.AssignUnavailable, Detail: fmt.Sprintf("fetching %s: %v", c, err)}, nil
		}
	}
	// The bid promised a free worker, but this node's own jobs (or
	// another assignment) may have taken it since: wait for one, a short
	// queue, rather than fail the job.
	r, err := m.runOnPool(life, a.JobID, spec)
	var failure *messages.JobFailure
	var unavailable *supervisors.UnavailableError
	switch {
	case err == nil:
		return &messages.JobAssignReply{Receipt: r.CID.String()}, nil
	case errors.As(err, &failure):
		return &messages.JobAssignReply{Reason: failure.Reason, Detail: failure.Detail}, nil
	case errors.Is(err, messages.ErrInvalidJob):
		return &messages.JobAssignReply{Reason: messages.ReasonInvalidModule, Detail: err.Error()}, nil
	case life.Err() == nil && (errors.Is(err, messages.ErrNoCapacity) || errors.As(err, &unavailable)):
		return &messages.JobAssignReply{Reason: messages.AssignBusy,
			Detail: "no free worker within " + m.Config.AssignTimeout.String()}, nil
	default:
		// Stopping, or the pool did not answer: the submitter assigns
		// the job elsewhere.
		return &messages.JobAssignReply{Reason: messages.ReasonExecutorLost, Detail: err.Error()}, nil
	}
}

// runOnPool runs a job on this node's executor pool until ctx ends. It
// waits for a free worker (or a pool that is restarting) until
// Config.AssignTimeout has passed, and runs the job again on another
// worker when the one running it is lost (killed, panicked), up to
// maxLost times. The error is the pool's last answer, or ctx's.
func (m *manager) runOnPool(ctx context.Context, job string, spec messages.JobSpec) (*messages.JobReceipt, error) {
	run := &messages.RunJob{JobID: job, Module: spec.Module, Input: spec.Input, InputCID: spec.InputCID,
		Args: spec.Args, Env: spec.Env, Limits: spec.Limits}
	deadline := time.Now().Add(m.Config.AssignTimeout)
	backoff := 10 * time.Millisecond
	lost := 0
	for {
		freed := m.freed.wait()
		rctx, cancel := context.WithTimeout(ctx, jobTimeout(spec)+runMargin)
		r, err := supervisors.Ask[*messages.JobReceipt](rctx, m.tree, executorsName, run)
		cancel()
		busy := errors.Is(err, messages.ErrNoCapacity)
		if !busy {
			m.freed.fire() // this run is over, whatever its outcome: a waiting job may take its worker
		}
		var failure *messages.JobFailure
		var unavailable *supervisors.UnavailableError
		switch {
		case err == nil:
			return r, nil
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.As(err, &failure) && failure.Reason == messages.ReasonExecutorLost && lost < maxLost:
			lost++
			m.log.Warn("jobs: the executor lost the job; running it again", "job", job, "attempt", lost+1, "err", err)
		case errors.As(err, &failure), errors.Is(err, messages.ErrInvalidJob), errors.Is(err, context.DeadlineExceeded):
			return nil, err
		case time.Now().After(deadline):
			return nil, err
		case !busy && !errors.As(err, &unavailable):
			m.log.Warn("jobs: the executor pool failed; retrying", "job", job, "err", err)
		}
		wake := freed
		if !busy {
			wake = nil // only a run that ends frees a worker
		}
		if !sleepOrFreed(ctx, backoff, wake) {
			return nil, ctx.Err()
		}
		backoff = min(2*backoff, maxBackoff)
	}
}

func jobTimeout(s messages.JobSpec) time.Duration {
	if s.Limits.TimeoutMS == 0 {
		return defaultRunMS * time.Millisecond
	}
	return time.Duration(s.Limits.TimeoutMS) * time.Millisecond
}

func (d *driver) self() string { return d.m.Identity.DID().String() }

// bid announces the job, collects bids for its window and assigns it to
// the best. With no bid it announces again until the assignment deadline.
func (d *driver) bid() error {
	if d.bidSince.IsZero() {
		d.bidSince = time.Now()
	}
	// The window stays open across announcements until the job is
	// assigned: a bid that answers an earlier announcement late (a busy
	// node, a slow link) still counts in the next round.
	if d.box == nil {
		d.box = d.m.boxes.openBox(d.id)
	}
	box := d.box

	ctx, cancel := context.WithTimeout(d.life, peerCallTimeout)
	connected := d.connectedPeers(ctx)
	peers := len(connected)
	if peers > 0 {
		d.announce(ctx, connected)
	}
	cancel()
	if d.rec.State == messages.JobAnnounced {
		if err := d.persist(d.rec.to(messages.JobBidding, d.m.Clock.Now())); err != nil {
			return err
		}
	}
	var bids []bid
	ownBid := 0 // whether this node can bid: the window waits for as many bids as there are bidders
	ctx, cancel = context.WithTimeout(d.life, peerCallTimeout)
	fits := d.m.Config.refuses(d.spec.Limits.MemoryMB, d.spec.Limits.TimeoutMS) == ""
	price, fuelPrice, affordable := d.m.Config.offer(d.bidCap(), d.spec.Limits.Fuel)
	if workers, free := d.m.capacity(ctx); workers > 0 && fits && affordable && !d.rec.failed(d.self()) {
		ownBid = 1
		// This node's own bid: it runs the job when nobody beats it, and a
		// busy pool still bids (its run waits for a worker), so that a lone
		// node queues its jobs rather than failing them.
		bids = append(bids, bid{JobBid: messages.JobBid{JobID: d.id, Bidder: d.self(),
			Price: price, FuelPrice: fuelPrice, Free: free}})
		d.saw(bids[0])
	}
	cancel()
	want := min(peers+ownBid, maxBidsWanted)
	window := time.NewTimer(time.Duration(d.spec.BidWindowMS) * time.Millisecond)
	defer window.Stop()
collect:
	for len(bids) < want && peers > 0 {
		select {
		case <-d.run.Done():
			return nil // cancelled (the next step records it) or stopping
		case <-window.C:
			break collect
		case b := <-box:
			d.saw(b)
			if d.worstCost(b) > d.bidCap() || d.rec.failed(b.Bidder) || slices.ContainsFunc(bids, func(x bid) bool { return x.Bidder == b.Bidder }) {
				continue
			}
			bids = append(bids, b)
		}
	}
	if len(bids) == 0 {
		d.silentRounds++
	}
	bids = d.rank(bids)
	if len(bids) < d.executorsWanted() {
		if time.Since(d.bidSince) > d.m.Config.AssignTimeout {
			return d.finish(messages.JobFailed, d.noBids(len(bids)))
		}
		sleep(d.run, rebidPause)
		return nil
	}
	d.bids = bids
	d.closeBox()
	return d.assignNext(d.rec)
}

// saw keeps a bid received for the job's status: the bidder's latest
// (it bids again in each round of a job nobody took).
func (d *driver) saw(b bid) {
	s := messages.JobBidSeen{Executor: b.Bidder, Price: b.Price, FuelPrice: b.FuelPrice, Time: d.m.Clock.Now()}
	if i := slices.IndexFunc(d.seen, func(x messages.JobBidSeen) bool { return x.Executor == b.Bidder }); i >= 0 {
		d.seen[i] = s
		return
	}
	d.seen = append(d.seen, s)
}

// closeBox ends the job's bidding window: later bids are refused.
func (d *driver) closeBox() {
	if d.box != nil {
		d.m.boxes.closeBox(d.id)
		d.box = nil
	}
}

// noBids is the reason of a job that found too few executors in time.
func (d *driver) noBids(got int) string {
	within := d.m.Config.AssignTimeout.String()
	switch {
	case d.spec.Verify == 2:
		return fmt.Sprintf("%s: verify 2 needs two executors; %d bid within %s", messages.ReasonNoBids, got, within)
	case d.spec.MinReputation > 0:
		return fmt.Sprintf("%s: no bid from an executor of reputation %d or more within %s", messages.ReasonNoBids, d.spec.MinReputation, within)
	}
	return messages.ReasonNoBids + ": no bid within " + within
}

// connectedPeers counts the peers this node is connected to (0 when the
// peer manager does not answer: the job stays local).
func (d *driver) connectedPeers(ctx context.Context) []string {
	l, err := supervisors.Ask[*messages.PeerList](ctx, d.m.tree, peersName, &messages.ListPeers{})
	if err != nil {
		return nil
	}
	var out []string
	for _, p := range l.Peers {
		if p.Connected {
			out = append(out, p.PeerID)
		}
	}
	return out
}

// announce gossips the job, and sends it directly (the same message by
// RPC) to each connected peer the gossip did not go to: one that connected
// so recently that its subscription has not reached this node yet would
// otherwise miss it. A lost announcement is announced again when no bid
// comes, and after a round without any bid it goes to every connected
// peer directly: gossip dropped on the way (a full subscriber buffer, a
// mesh being rebuilt) must not leave a job without bidders.
func (d *driver) announce(ctx context.Context, peers []string) {
	body, err := json.Marshal(messages.JobAnnouncement{JobID: d.id, Module: d.spec.Module.String(), MaxMana: d.bidCap(),
		TimeoutMS: d.spec.Limits.TimeoutMS, MemoryMB: d.spec.Limits.MemoryMB, Fuel: d.spec.Limits.Fuel, Submitter: d.self()})
	if err != nil {
		return
	}
	var reached []string
	if r, err := supervisors.Ask[*messages.GossipPublished](ctx, d.m.tree, peersName, &messages.PublishGossip{Topic: network.TopicJobs,
		Type: messages.WireJobAnnounce, Body: body}); err != nil {
		d.m.log.Debug("jobs: announcement not published", "job", d.id, "err", err)
	} else {
		reached = r.Reached
	}
	if d.silentRounds == 0 {
		peers = slices.DeleteFunc(slices.Clone(peers), func(p string) bool { return slices.Contains(reached, p) })
	}
	life := d.life
	for _, p := range peers {
		d.m.goSafe(d.id, "direct announcement", func() {
			ctx, cancel := context.WithTimeout(life, peerCallTimeout+time.Second)
			defer cancel()
			if _, err := d.m.tree.Request(ctx, peersName, &messages.AskPeer{Peer: p, Type: messages.WireJobAnnounce,
				Body: body, Timeout: peerCallTimeout}); err != nil {
				d.m.log.Debug("jobs: direct announcement not taken", "job", d.id, "peer", p, "err", err)
			}
		}, nil)
	}
}

// rank drops the bids of executors below the job's min_reputation and
// orders the rest best first: lowest cost if the run used all its fuel
// (price and fuel price), then best standing, then most
// free workers, then a draw (see draw). Standing only separates executors
// that failed jobs from the others: ranked by reputation, the executor that
// won the first job (66 after one success, against 50 for the unknown)
// won every job after it (1,000 of 1,000), and a new executor would never
// earn the record it needs. A bidder whose reputation cannot be read
// counts as unknown (50).
func (d *driver) rank(bids []bid) []bid {
	ctx, cancel := context.WithTimeout(d.life, peerCallTimeout)
	defer cancel()
	for i := range bids {
		bids[i].score = unknownReputation
		if r, err := supervisors.Ask[*messages.ReputationInfo](ctx, d.m.tree, ledgerName, &messages.GetReputation{DID: bids[i].Bidder}); err == nil {
			bids[i].score = r.Score
		}
	}
	bids = slices.DeleteFunc(bids, func(b bid) bool {
		if b.score < d.spec.MinReputation {
			d.m.Metrics.bids.WithLabelValues("below_min_reputation").Inc()
			return true
		}
		return false
	})
	slices.SortFunc(bids, func(a, b bid) int {
		return cmp.Or(cmp.Compare(d.worstCost(a), d.worstCost(b)), cmp.Compare(standing(a.score), standing(b.score)),
			cmp.Compare(b.Free, a.Free), cmp.Compare(d.draw(a.Bidder), d.draw(b.Bidder)), cmp.Compare(a.Bidder, b.Bidder))
	})
	return bids
}

// draw is a bidder's lot for this job: a hash of the job id and the
// bidder, so that ties go to different executors for different jobs and to
// the same one every time for the same job.
func (d *driver) draw(bidder string) uint64 {
	h := fnv.New64a()
	h.Write([]byte(d.id))
	h.Write([]byte(bidder))
	return h.Sum64()
}

// worstCost is what a bid costs if the run uses all of the job's fuel.
func (d *driver) worstCost(b bid) uint64 {
	return messages.JobCost(b.Price, b.FuelPrice, fuelLimit(d.spec.Limits.Fuel))
}

// helper is the bid as a verify-2 job's witness or tiebreaker.
func (b bid) helper() *helper {
	return &helper{Executor: b.Bidder, Peer: b.peer, Price: b.Price, FuelPrice: b.FuelPrice}
}

// unknownReputation is the score of an executor without a record.
const unknownReputation = 50

// reputationStep is the width of a standing below the unknown executor's.
const reputationStep = 10

// standing is 0 for an executor with as many successes as failures or
// more (reputation 50 and up), and grows by one per reputationStep below.
func standing(score uint64) uint64 {
	if score >= unknownReputation {
		return 0
	}
	return 1 + (unknownReputation-1-score)/reputationStep
}

// assignNext records the job, from base, assigned to the best bid left
// (and a verify-2 job's witness to the next best).
func (d *driver) assignNext(base record) error {
	b := d.bids[0]
	next := base.to(messages.JobAssigned, d.m.Clock.Now())
	next.Executor, next.ExecutorPeer, next.Price, next.FuelPrice = b.Bidder, b.peer, b.Price, b.FuelPrice
	next.Attempts++
	taken := 1
	if d.spec.Verify == 2 {
		w := d.bids[1]
		next.Witness = w.helper()
		taken = 2
	}
	if err := d.persist(next); err != nil {
		return err
	}
	d.bids = d.bids[taken:]
	return nil
}

// reassign gives the job to the next bid after its executor failed it,
// bidding again when none is left, and fails it once maxAttempts
// executors have. With blame the executor is recorded as having failed the
// job: it is not given the job again, even after a restart, and its
// reputation drops when the job settles (an executor that was merely busy
// is not blamed).
func (d *driver) reassign(why string, blame bool) error {
	d.m.log.Warn("jobs: the executor failed the job", "job", d.id, "executor", d.rec.Executor, "attempt", d.rec.Attempts, "err", why)
	base := d.rec
	if blame {
		base = base.failedBy(d.rec.Executor)
	}
	if base.Attempts >= maxAttempts {
		final := base.to(messages.JobFailed, d.m.Clock.Now())
		final.Reason = messages.ReasonExecutorLost + ": " + why
		if !blame {
			// Nobody has the job: settle would otherwise count the last
			// executor, which was only busy, as having lost it.
			final.Executor, final.ExecutorPeer, final.Price, final.FuelPrice = "", "", 0, 0
		}
		return d.persist(final)
	}
	for len(d.bids) > 0 && (base.failed(d.bids[0].Bidder) || d.bids[0].Bidder == d.rec.Executor) {
		d.bids = d.bids[1:]
	}
	if len(d.bids) > 0 {
		return d.assignNext(base)
	}
	next := base.to(messages.JobBidding, d.m.Clock.Now())
	next.Executor, next.ExecutorPeer, next.Price, next.FuelPrice = "", "", 0, 0
	d.bidSince = time.Time{}
	return d.persist(next)
}

// paidTimeout bounds telling an executor's node that it was paid: its
// ledger fetches and verifies the payer's chain before it answers.
const paidTimeout = 10 * time.Second

// paidAttempts bounds the notices of one payment: the first, then retries
// 2, 4, 8 and 16 s apart (half a minute in all) while the executor's node
// is unreachable or too busy to check the payment in time.
const paidAttempts = 5

// notifyPaid tells the executor's node where the settle that paid it is,
// so that its ledger appends the receive. Best effort, retried a few
// times: the settle stands on the payer's chain whether or not the payee
// has received it yet, and a notice of an entry already received changes
// nothing there.
func (m *manager) notifyPaid(life context.Context, job, peer string, entry cid.Cid) {
	pause := 2 * time.Second
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(life, paidTimeout+time.Second)
		_, err := m.tree.Request(ctx, peersName, &messages.AskPeer{Peer: peer, Type: messages.WireLedgerPaid,
			Body: entry.Bytes(), Timeout: paidTimeout})
		cancel()
		switch {
		case err == nil:
			return
		case strings.Contains(err.Error(), messages.ErrAlreadyReceived.Error()):
			return // an earlier notice landed, its answer did not
		case attempt == paidAttempts || life.Err() != nil:
			m.log.Warn("jobs: the executor's node was not told of its payment", "job", job, "entry", entry.String(),
				"attempts", attempt, "err", err)
			return
		}
		m.log.Debug("jobs: telling the executor's node of its payment again", "job", job, "attempt", attempt, "in", pause, "err", err)
		if !sleep(life, pause) {
			return
		}
		pause *= 2
	}
}
