package governance

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/asynkron/protoactor-go/actor"

	"github.com/intercooperative-network/icn-go/ccl/runtime"
	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/correlation"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// Name is the subsystem's name in the supervision tree.
const Name = "governance"

// dagName is the dag actor's name: contracts are its blocks.
const dagName = "dag"

// Bounds of the actor's work.
const (
	// maxInFlight bounds the contract operations running at once: each is
	// a goroutine that may compile a program or run one for up to the
	// runtime's fuel.
	maxInFlight = 64
	// callTimeout bounds one operation, dag requests and call included.
	callTimeout = 30 * time.Second
	// DefaultCacheSize is how many loaded policies are kept by default.
	DefaultCacheSize = 128
)

// Deps are the governance actor's collaborators.
type Deps struct {
	Clock clock.Clock
	// Runtime runs the contracts; its fuel per call is the evaluation's
	// (runtime.DefaultFuel unless it was made with another).
	Runtime *runtime.Runtime
	Logger  *slog.Logger
	// CacheSize bounds the loaded policies kept by manifest CID, so that
	// a warm evaluation neither reads the dag nor recompiles; 0 means
	// DefaultCacheSize.
	CacheSize int
}

// New returns the producer the supervisor calls on every (re)start: each
// call makes a fresh Actor.
func New(d Deps) func() actor.Actor {
	if d.CacheSize <= 0 {
		d.CacheSize = DefaultCacheSize
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return func() actor.Actor {
		return &Actor{Deps: d, cache: newPolicyCache(d.CacheSize), log: d.Logger.With("actor", Name)}
	}
}

// Actor is the governance subsystem actor. For now it publishes and
// evaluates CCL contracts; every operation runs on a goroutine of its own
// (compiling and calling are CPU work, and the dag is asked and waited
// for), so the actor itself only admits work and answers its status.
type Actor struct {
	Deps
	log   *slog.Logger
	since time.Time
	tree  *supervisors.Tree
	sys   *actor.ActorSystem
	cache *policyCache

	// stopWork cancels the operations of this incarnation; work counts
	// them, so that none outlives the actor.
	stopWork context.CancelFunc
	base     context.Context
	work     sync.WaitGroup
	slots    chan struct{}
}

// Receive implements actor.Actor.
func (a *Actor) Receive(c actor.Context) {
	switch m := c.Message().(type) {
	case *actor.Started:
		a.since = a.Clock.Now()
		a.tree, a.sys = supervisors.TreeOf(c), c.ActorSystem()
		a.base, a.stopWork = context.WithCancel(context.Background())
		a.slots = make(chan struct{}, maxInFlight)
	case *actor.Stopping, *actor.Restarting:
		a.stop()
	case *messages.StatusRequest:
		c.Respond(&messages.SubsystemStatus{Name: Name, Ready: true, Since: a.since,
			Details: map[string]string{"contracts_cached": fmt.Sprint(a.cache.len())}})
	case *messages.PublishContract:
		a.spawn(c, func(ctx context.Context) any { return orError(a.publish(ctx, m)) })
	case *messages.GetContract:
		a.spawn(c, func(ctx context.Context) any { return orError(a.get(ctx, m.CID)) })
	case *messages.EvalContract:
		a.spawn(c, func(ctx context.Context) any { return orError(a.eval(ctx, m)) })
	}
}

// stop cancels the operations in flight and waits for them: their dag
// requests and calls end at once, and their senders are answered.
func (a *Actor) stop() {
	if a.stopWork != nil {
		a.stopWork()
		a.work.Wait()
	}
}

func orError[T any](v T, err error) any {
	if err != nil {
		return err
	}
	return v
}

// spawn runs work on a goroutine and answers the sender from there: an
// operation never holds the actor, and an incarnation that stops
// meanwhile still has its senders answered (with the cancellation).
func (a *Actor) spawn(c actor.Context, work func(context.Context) any) {
	select {
	case a.slots <- struct{}{}:
	default:
		c.Respond(fmt.Errorf("governance: %w: %d contract operations in flight", messages.ErrBusy, maxInFlight))
		return
	}
	ctx := a.base
	if h := c.MessageHeader(); h != nil {
		if id := h.Get(correlation.Header); id != "" {
			ctx = correlation.With(ctx, id)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	sender, sys := c.Sender(), a.sys
	a.work.Go(func() {
		defer func() { <-a.slots }()
		defer cancel()
		reply := work(ctx)
		if sender != nil {
			sys.Root.Send(sender, reply)
		}
	})
}
