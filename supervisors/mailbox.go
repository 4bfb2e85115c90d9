package supervisors

import (
	"sync/atomic"

	"github.com/asynkron/protoactor-go/actor"
)

// process is the per-process state shared by an actor's mailbox wrapper and
// its middleware. protoactor silently drops the user messages still queued
// when an actor stops (and never processes them at all if its mailbox was
// suspended by a failure), so their callers would wait for their timeout;
// once the process has stopped we answer each queued request with a dead
// letter instead, which the caller sees at once as ErrDeadLetter (and Request
// turns into *UnavailableError).
type process struct {
	mailbox actor.Mailbox
	stopped atomic.Bool
	system  *actor.ActorSystem
	onDead  func()
}

// stoppedNow runs on the actor's goroutine when it handles *actor.Stopped:
// from here on queued messages are answered, and a suspended mailbox is
// resumed so that they drain.
func (p *process) stoppedNow() {
	p.stopped.Store(true)
	p.mailbox.PostSystemMessage(&actor.ResumeMailbox{})
}

// mailbox delegates to protoactor's unbounded mailbox, interposing on the invoker.
type mailbox struct {
	actor.Mailbox
	p *process
}

func (m *mailbox) RegisterHandlers(inv actor.MessageInvoker, d actor.Dispatcher) {
	m.Mailbox.RegisterHandlers(&invoker{MessageInvoker: inv, p: m.p}, d)
}

type invoker struct {
	actor.MessageInvoker
	p *process
}

func (i *invoker) InvokeUserMessage(m any) {
	if !i.p.stopped.Load() {
		i.MessageInvoker.InvokeUserMessage(m)
		return
	}
	i.p.onDead()
	if env, ok := m.(*actor.MessageEnvelope); ok && env.Sender != nil {
		i.p.system.Root.Send(env.Sender, &actor.DeadLetterResponse{})
	}
}
