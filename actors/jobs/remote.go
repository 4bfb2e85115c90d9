package jobs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
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
		run := m.runs.start(a.JobID, m.Clock.Now(), func(r *assignedRun) {
			m.drivers.Go(func() {
				r.reply, r.err = m.runAssigned(a)
				close(r.done)
			})
		})
		sender := c.Sender()
		m.drivers.Go(func() {
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
			if sender != nil {
				m.sys.Root.Send(sender, answer)
			}
		})
	default:
		c.Respond(fmt.Errorf("%w: %s", messages.ErrNoRoute, msg.Type))
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
	done      chan struct{} // closed when reply or err is set
	reply     *messages.JobAssignReply
	err       error
	startedAt time.Time
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
func (a *assignedRuns) start(job string, now time.Time, begin func(*assignedRun)) *assignedRun {
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
	if r, ok := a.runs[job]; ok {
		return r
	}
	r := &assignedRun{done: make(chan struct{}), startedAt: now}
	a.runs[job] = r
	begin(r)
	return r
}

// onAnnounce bids on another node's job when this node has a free worker.
func (m *manager) onAnnounce(msg *messages.GossipIn) {
	var a messages.JobAnnouncement
	if msg.Type != messages.WireJobAnnounce || msg.From == m.Identity.DID().String() || m.life == nil ||
		json.Unmarshal(msg.Body, &a) != nil || a.JobID == "" {
		return
	}
	ctx := m.life
	m.drivers.Go(func() {
		ctx, cancel := context.WithTimeout(ctx, peerCallTimeout)
		defer cancel()
		_, free := m.capacity(ctx)
		if free <= 0 {
			return
		}
		body, err := json.Marshal(messages.JobBid{JobID: a.JobID, Bidder: m.Identity.DID().String(),
			Price: min(a.MaxMana, m.Config.Price), Free: free})
		if err != nil {
			return
		}
		if _, err := m.tree.Request(ctx, peersName, &messages.AskPeer{Peer: msg.Peer, Type: messages.WireJobBid,
			Body: body, Timeout: peerCallTimeout}); err != nil {
			m.log.Debug("jobs: bid not taken", "job", a.JobID, "err", err)
		} else {
			m.Metrics.bids.WithLabelValues("sent").Inc()
		}
	})
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

// runAssigned runs a job another node assigned to this one on its pool:
// the spec and the blocks it names are fetched from the submitter.
func (m *manager) runAssigned(a messages.JobAssignment) (*messages.JobAssignReply, error) {
	if a.Executor != m.Identity.DID().String() {
		return nil, fmt.Errorf("jobs: job %s is assigned to %s, not this node", a.JobID, a.Executor)
	}
	specCID, err := cid.Decode(a.Spec)
	if err != nil || specCID.String() != a.JobID {
		return nil, fmt.Errorf("jobs: assignment of %s names spec %q", a.JobID, a.Spec)
	}
	ctx, cancel := context.WithTimeout(m.life, callTimeout)
	sb, err := supervisors.Ask[*messages.GetBlockReply](ctx, m.tree, dagName, &messages.GetBlock{CID: specCID, Fetch: true})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("jobs: spec of %s: %w", a.JobID, err)
	}
	spec, err := decodeSpec(sb.Block)
	if err != nil {
		return nil, fmt.Errorf("jobs: spec of %s: %w", a.JobID, err)
	}
	ctx, cancel = context.WithTimeout(m.life, jobTimeout(spec)+runMargin)
	defer cancel()
	r, err := supervisors.Ask[*messages.JobReceipt](ctx, m.tree, executorsName, &messages.RunJob{
		JobID: a.JobID, Module: spec.Module, Input: spec.Input, InputCID: spec.InputCID,
		Args: spec.Args, Env: spec.Env, Limits: spec.Limits,
	})
	if !errors.Is(err, messages.ErrNoCapacity) {
		m.freed.fire() // a worker this node's own jobs may be waiting for
	}
	var failure *messages.JobFailure
	switch {
	case err == nil:
		return &messages.JobAssignReply{Receipt: r.CID.String()}, nil
	case errors.As(err, &failure):
		return &messages.JobAssignReply{Reason: failure.Reason, Detail: failure.Detail}, nil
	case errors.Is(err, messages.ErrInvalidJob):
		return &messages.JobAssignReply{Reason: messages.ReasonInvalidModule, Detail: err.Error()}, nil
	default:
		// Busy, stopping, or the pool did not answer: the submitter
		// assigns the job elsewhere.
		return &messages.JobAssignReply{Reason: messages.ReasonExecutorLost, Detail: err.Error()}, nil
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
	box := d.m.boxes.openBox(d.id)
	defer d.m.boxes.closeBox(d.id)

	ctx, cancel := context.WithTimeout(d.life, peerCallTimeout)
	peers := d.connectedPeers(ctx)
	if peers > 0 {
		d.announce(ctx)
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
	if workers, free := d.m.capacity(ctx); workers > 0 && !d.lost[d.self()] {
		ownBid = 1
		// This node's own bid: it runs the job when nobody beats it, and a
		// busy pool still bids (its run waits for a worker), so that a lone
		// node queues its jobs rather than failing them.
		bids = append(bids, bid{JobBid: messages.JobBid{JobID: d.id, Bidder: d.self(),
			Price: min(d.spec.MaxMana, d.m.Config.Price), Free: free}})
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
			if b.Price > d.spec.MaxMana || d.lost[b.Bidder] || slices.ContainsFunc(bids, func(x bid) bool { return x.Bidder == b.Bidder }) {
				continue
			}
			bids = append(bids, b)
		}
	}
	if len(bids) == 0 {
		if time.Since(d.bidSince) > d.m.Config.AssignTimeout {
			return d.finish(messages.JobFailed, messages.ReasonNoBids+": no bid within "+d.m.Config.AssignTimeout.String())
		}
		sleep(d.run, rebidPause)
		return nil
	}
	d.rank(bids)
	d.bids = bids
	return d.assignNext()
}

// connectedPeers counts the peers this node is connected to (0 when the
// peer manager does not answer: the job stays local).
func (d *driver) connectedPeers(ctx context.Context) int {
	l, err := supervisors.Ask[*messages.PeerList](ctx, d.m.tree, peersName, &messages.ListPeers{})
	if err != nil {
		return 0
	}
	n := 0
	for _, p := range l.Peers {
		if p.Connected {
			n++
		}
	}
	return n
}

// announce gossips the job; a lost announcement is announced again when
// no bid comes.
func (d *driver) announce(ctx context.Context) {
	body, err := json.Marshal(messages.JobAnnouncement{JobID: d.id, Module: d.spec.Module.String(), MaxMana: d.spec.MaxMana,
		TimeoutMS: d.spec.Limits.TimeoutMS, MemoryMB: d.spec.Limits.MemoryMB, Submitter: d.self()})
	if err != nil {
		return
	}
	if _, err := d.m.tree.Request(ctx, peersName, &messages.PublishGossip{Topic: network.TopicJobs,
		Type: messages.WireJobAnnounce, Body: body}); err != nil {
		d.m.log.Debug("jobs: announcement not published", "job", d.id, "err", err)
	}
}

// rank orders bids best first: lowest price, then best reputation, then
// most free workers, then lowest DID (so that every run picks alike).
func (d *driver) rank(bids []bid) {
	ctx, cancel := context.WithTimeout(d.life, peerCallTimeout)
	defer cancel()
	for i := range bids {
		if r, err := supervisors.Ask[*messages.ReputationInfo](ctx, d.m.tree, ledgerName, &messages.GetReputation{DID: bids[i].Bidder}); err == nil {
			bids[i].score = r.Score
		}
	}
	slices.SortFunc(bids, func(a, b bid) int {
		return cmp.Or(cmp.Compare(a.Price, b.Price), cmp.Compare(b.score, a.score), cmp.Compare(b.Free, a.Free), cmp.Compare(a.Bidder, b.Bidder))
	})
}

// assignNext records the job assigned to the best bid left.
func (d *driver) assignNext() error {
	b := d.bids[0]
	next := d.rec.to(messages.JobAssigned, d.m.Clock.Now())
	next.Executor, next.ExecutorPeer, next.Price = b.Bidder, b.peer, b.Price
	next.Attempts++
	if err := d.persist(next); err != nil {
		return err
	}
	d.bids = d.bids[1:]
	return nil
}

// executeRemote assigns the job to the executor's node and waits for its
// answer, which comes once the job ran.
func (d *driver) executeRemote() error {
	body, err := json.Marshal(messages.JobAssignment{JobID: d.id, Spec: d.rec.Spec.Cid.String(), Executor: d.rec.Executor})
	if err != nil {
		return err
	}
	deadline := time.Now().Add(jobTimeout(d.spec) + runMargin)
	var rep messages.JobAssignReply
	for {
		ctx, cancel := context.WithTimeout(d.run, longPoll+peerCallTimeout+time.Second)
		ans, err := supervisors.Ask[*messages.PeerAnswer](ctx, d.m.tree, peersName, &messages.AskPeer{
			Peer: d.rec.ExecutorPeer, Type: messages.WireJobAssign, Body: body, Timeout: longPoll + peerCallTimeout})
		cancel()
		if d.run.Err() != nil {
			return nil
		}
		if err != nil {
			return d.reassign(err.Error())
		}
		rep = messages.JobAssignReply{}
		if err := json.Unmarshal(ans.Body, &rep); err != nil {
			return d.reassign("malformed answer: " + err.Error())
		}
		if !rep.Pending {
			break
		}
		if time.Now().After(deadline) {
			return d.reassign("no receipt in time")
		}
	}
	switch {
	case rep.Receipt != "":
		c, err := cid.Decode(rep.Receipt)
		if err != nil {
			return d.reassign("malformed receipt CID: " + err.Error())
		}
		return d.receive(c)
	case rep.Reason == messages.ReasonExecutorLost || rep.Reason == "":
		return d.reassign(rep.Reason + ": " + rep.Detail)
	}
	reason := rep.Reason
	if rep.Detail != "" {
		reason += ": " + rep.Detail
	}
	return d.finish(messages.JobFailed, reason)
}

// reassign gives the job to the next bid after its executor failed it,
// bidding again when none is left, and fails it once maxAttempts
// executors have.
func (d *driver) reassign(why string) error {
	d.m.log.Warn("jobs: the executor failed the job", "job", d.id, "executor", d.rec.Executor, "attempt", d.rec.Attempts, "err", why)
	if d.lost == nil {
		d.lost = map[string]bool{}
	}
	d.lost[d.rec.Executor] = true
	if d.rec.Attempts >= maxAttempts {
		return d.finish(messages.JobFailed, messages.ReasonExecutorLost+": "+why)
	}
	for len(d.bids) > 0 && d.lost[d.bids[0].Bidder] {
		d.bids = d.bids[1:]
	}
	if len(d.bids) > 0 {
		return d.assignNext()
	}
	next := d.rec.to(messages.JobBidding, d.m.Clock.Now())
	next.Executor, next.ExecutorPeer, next.Price = "", "", 0
	d.bidSince = time.Time{}
	return d.persist(next)
}

// paidTimeout bounds telling an executor's node that it was paid: its
// ledger fetches and verifies the payer's chain before it answers.
const paidTimeout = 10 * time.Second

// notifyPaid tells the executor's node where the settle that paid it is,
// so that its ledger appends the receive. Best effort: the settle stands
// on the payer's chain whether or not the payee has received it yet, and
// a later notice of the same entry is received once.
func (m *manager) notifyPaid(life context.Context, job, peer string, entry cid.Cid) {
	ctx, cancel := context.WithTimeout(life, paidTimeout+time.Second)
	defer cancel()
	if _, err := m.tree.Request(ctx, peersName, &messages.AskPeer{Peer: peer, Type: messages.WireLedgerPaid,
		Body: entry.Bytes(), Timeout: paidTimeout}); err != nil {
		m.log.Warn("jobs: the executor's node was not told of its payment", "job", job, "entry", entry.String(), "err", err)
	}
}
