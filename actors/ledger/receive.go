package ledger

import (
	"context"
	"errors"
	"fmt"
	"slices"
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
// paying entry, from the last head of it verified here; prefer are the
// peers to fetch from first (the payer's node, when it told us). The
// source stays in a.receiving from now until its receive commits (or the
// check fails), so that a payment announced twice at once is received
// once: two receives of one source in one put would both land, the ref
// that marks it received merely moved twice.
func (a *Actor) receivePayment(c actor.Context, source cid.Cid, forPeer bool, prefer ...string) {
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
	prefer = slices.DeleteFunc(prefer, func(p string) bool { return p == "" })
	sender, tree, params, verified, self, sys := c.Sender(), a.tree, a.Params, a.verified, a.self, a.sys
	src := &fetchSource{tree: tree, prefer: prefer}
	ctx, cancel := a.ctx(c)
	go func() {
		defer cancel()
		pay, err := checkPayment(ctx, tree, src, source, params, verified)
		sys.Root.Send(self, &paymentChecked{owner: a, sender: sender, source: source, pay: pay, err: err, forPeer: forPeer})
	}()
}

// checkPayment verifies a paying entry and its payer's chain up to it,
// reading them through src (which fetches what this node lacks). The walk
// back stops at the payer's checkpoint in verified, which it then moves
// to the paying entry. It touches no actor state.
func checkPayment(ctx context.Context, tree *supervisors.Tree, src BlockSource, source cid.Cid, p Params, verified *checkpoints) (entry, error) {
	switch _, err := supervisors.Ask[*messages.Ref](ctx, tree, dagName, &messages.GetRef{Name: receivedRef(source)}); {
	case err == nil:
		return entry{}, fmt.Errorf("%w: %s", messages.ErrAlreadyReceived, source)
	case !errors.Is(err, messages.ErrRefNotFound):
		return entry{}, err
	}
	b, err := src.Block(ctx, source)
	if err != nil {
		return entry{}, fmt.Errorf("%w: fetching %s: %w", messages.ErrInvalidPayment, source, err)
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
	// that the payer had the mana, or that it did not spend it twice. What
	// was verified before is not read again; a fork of it is equivocation.
	r, after := verifyFrom(ctx, src, e.Account, source, p, nil, verified.get(e.Account))
	if !r.Valid {
		why := "does not verify"
		if len(r.Problems) > 0 {
			why = r.Problems[0].Reason + ": " + r.Problems[0].Detail
		}
		return entry{}, fmt.Errorf("%w: the chain of %s up to %s: %s", messages.ErrInvalidPayment, e.Account, source, why)
	}
	verified.put(after)
	return e, nil
}

// onPaymentChecked appends the receive of a verified payment.
func (a *Actor) onPaymentChecked(m *paymentChecked) {
	key := string(m.source.Bytes())
	fail := func(err error) {
		delete(a.receiving, key)
		a.Metrics.rejections.WithLabelValues(rejection(err)).Inc()
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
	case a.refused[m.pay.Counterparty] != nil:
		fail(a.refused[m.pay.Counterparty])
		return
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
