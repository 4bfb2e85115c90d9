package ledger

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// paymentChecked carries a payment the checker verified (or why not) back
// to the actor, which appends the receive.
type paymentChecked struct {
	owner  *Actor
	sender *actor.PID
	source cid.Cid
	pay    entry
	err    error
	// forPeer: the payer's node asked (WireLedgerPaid), so the answer is a
	// *PeerResponse carrying the receive's CID.
	forPeer bool
}

// receivePayment checks a payment from another node's account off the
// actor's goroutine: the payer's chain is fetched and verified up to the
// paying entry. The source stays in a.receiving from now until its
// receive commits (or the check fails), so that a payment announced twice
// at once is received once: two receives of one source in one put would
// both land, the ref that marks it received merely moved twice.
func (a *Actor) receivePayment(c actor.Context, source cid.Cid, forPeer bool) {
	key := string(source.Bytes())
	if !source.Defined() {
		a.reject(c, "receive", fmt.Errorf("%w: no entry named", messages.ErrInvalidPayment))
		return
	}
	if a.receiving[key] {
		a.reject(c, "receive", fmt.Errorf("%w: %s is being received", messages.ErrAlreadyReceived, source))
		return
	}
	a.receiving[key] = true
	sender, tree, params, self, sys := c.Sender(), a.tree, a.Params, a.self, a.sys
	ctx, cancel := a.ctx(c)
	go func() {
		defer cancel()
		pay, err := checkPayment(ctx, tree, source, params)
		sys.Root.Send(self, &paymentChecked{owner: a, sender: sender, source: source, pay: pay, err: err, forPeer: forPeer})
	}()
}

// checkPayment fetches a paying entry and its payer's chain, and verifies
// the chain up to it. It touches no actor state.
func checkPayment(ctx context.Context, tree *supervisors.Tree, source cid.Cid, p Params) (entry, error) {
	switch _, err := supervisors.Ask[*messages.Ref](ctx, tree, dagName, &messages.GetRef{Name: receivedRef(source)}); {
	case err == nil:
		return entry{}, fmt.Errorf("%w: %s", messages.ErrAlreadyReceived, source)
	case !errors.Is(err, messages.ErrRefNotFound):
		return entry{}, err
	}
	if _, err := supervisors.Ask[*messages.FetchDAGReply](ctx, tree, dagName, &messages.FetchDAG{Root: source}); err != nil {
		return entry{}, fmt.Errorf("%w: fetching %s and its chain: %w", messages.ErrInvalidPayment, source, err)
	}
	b, err := dagSource{tree}.Block(ctx, source)
	if err != nil {
		return entry{}, err
	}
	e, err := decodeEntry(b)
	switch {
	case err != nil:
		return entry{}, fmt.Errorf("%w: %s: %w", messages.ErrInvalidPayment, source, err)
	case e.Op != messages.OpSend && e.Op != messages.OpSettle:
		return entry{}, fmt.Errorf("%w: %s is a %s", messages.ErrInvalidPayment, source, e.Op)
	case e.Amount == 0:
		return entry{}, fmt.Errorf("%w: %s pays nothing", messages.ErrInvalidPayment, source)
	}
	// The whole chain up to the payment: its signature alone would not say
	// that the payer had the mana, or that it did not spend it twice.
	if r := Verify(ctx, dagSource{tree}, e.Account, source, p, nil); !r.Valid {
		why := "does not verify"
		if len(r.Problems) > 0 {
			why = r.Problems[0].Reason + ": " + r.Problems[0].Detail
		}
		return entry{}, fmt.Errorf("%w: the chain of %s up to %s: %s", messages.ErrInvalidPayment, e.Account, source, why)
	}
	return e, nil
}

// onPaymentChecked appends the receive of a verified payment.
func (a *Actor) onPaymentChecked(m *paymentChecked) {
	key := string(m.source.Bytes())
	fail := func(err error) {
		delete(a.receiving, key)
		a.Metrics.rejections.WithLabelValues("receive").Inc()
		if m.sender != nil {
			a.sys.Root.Send(m.sender, err)
		}
	}
	if m.err != nil {
		fail(m.err)
		return
	}
	dst := a.accounts[m.pay.Counterparty]
	switch {
	case dst == nil:
		fail(fmt.Errorf("%w: %s pays %s, not an account of this node", messages.ErrInvalidPayment, m.source, m.pay.Counterparty))
		return
	case dst.broken:
		fail(&supervisors.UnavailableError{Path: Name, State: "recovering", RetryAfter: time.Second})
		return
	}
	recv, err := a.next(dst, entry{Op: messages.OpReceive, Amount: m.pay.Amount, Counterparty: m.pay.Account, Source: link(m.source)})
	if err != nil {
		fail(err)
		return
	}
	// Create-only: a payment is received once however often it is told.
	ref := messages.RefUpdate{Name: receivedRef(m.source), New: recv.b.CID()}
	var reply any = &messages.EntryReply{Entry: recv.e.info(recv.b.CID())}
	if m.forPeer {
		reply = &messages.PeerResponse{Body: recv.b.CID().Bytes()}
	}
	if err := a.enqueue(m.sender, "receive", []change{recv}, []messages.RefUpdate{ref}, reply); err != nil {
		fail(err)
	}
}
