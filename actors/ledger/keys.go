package ledger

import (
	"context"
	"errors"
	"fmt"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// Transfers with an idempotency key. A client whose answer was lost
// retries with the same key and gets the first transfer's entries
// instead of paying twice. The key's ref names the send entry and
// commits with it, create-only, so it lasts exactly as long as the
// payment, across restarts.

// keyRef is the ref of payer from's idempotency key.
func keyRef(from, key string) string { return "ledger/xfer/" + from + "/" + key }

// keyChecked reports the lookup of a keyed transfer's key.
type keyChecked struct {
	owner  *Actor
	sender *actor.PID
	m      *messages.Transfer      // From set
	first  *messages.TransferReply // the transfer made under the key, or nil
	err    error
}

// transferWithKey looks m's key up off the actor's goroutine, then pays
// (onKeyChecked). A second transfer under a key in progress is refused
// as busy: a retry once the first is answered gets its answer.
func (a *Actor) transferWithKey(c actor.Context, m *messages.Transfer) {
	if err := CheckReference(m.Key); err != nil {
		a.reject(c, "transfer", fmt.Errorf("idempotency key: %w", err))
		return
	}
	// What payment checks first, now: the key's ref names a local payer.
	if err := a.checkPayee(m.From, m.To); err != nil {
		a.reject(c, "transfer", err)
		return
	}
	if _, err := a.local(m.From); err != nil {
		a.reject(c, "transfer", err)
		return
	}
	// Lookups count against the operations in flight: a burst of new
	// keys must not start unbounded dag requests.
	if a.inflight+len(a.keyed) >= maxInFlight {
		a.reject(c, "transfer", fmt.Errorf("%w: the ledger has %d operations in flight", messages.ErrBusy, a.inflight+len(a.keyed)))
		return
	}
	ref := keyRef(m.From, m.Key)
	if a.keyed[ref] {
		a.reject(c, "transfer", fmt.Errorf("%w: a transfer under key %q is in progress", messages.ErrBusy, m.Key))
		return
	}
	a.keyed[ref] = true
	sender, tree, self, sys := c.Sender(), a.tree, a.self, a.sys
	ctx, cancel := a.ctx(c)
	go func() {
		defer cancel()
		first, err := firstTransfer(ctx, tree, ref, m)
		sys.Root.Send(self, &keyChecked{owner: a, sender: sender, m: m, first: first, err: err})
	}()
}

// onKeyChecked answers a keyed transfer made before, or makes it now
// with the key's ref in the same commit.
func (a *Actor) onKeyChecked(m *keyChecked) {
	ref := keyRef(m.m.From, m.m.Key)
	fail := func(err error) {
		delete(a.keyed, ref)
		a.Metrics.rejections.WithLabelValues(rejection(err)).Inc()
		a.log.Debug("ledger operation refused", "op", "transfer", "err", err)
		if m.sender != nil {
			a.sys.Root.Send(m.sender, err)
		}
	}
	switch {
	case m.err != nil:
		fail(m.err)
		return
	case m.first != nil:
		delete(a.keyed, ref)
		a.Metrics.replays.Inc()
		if m.sender != nil {
			a.sys.Root.Send(m.sender, m.first)
		}
		return
	}
	changes, extra, reply, err := a.payment(m.m)
	if err == nil {
		extra = append(extra, messages.RefUpdate{Name: ref, New: changes[0].b.CID()})
		err = a.enqueue(m.sender, "transfer", changes, extra, reply)
	}
	if err != nil {
		fail(err)
	}
}

// firstTransfer returns the transfer made under ref's key, or nil if
// there is none. One made with another payee, amount or memo is
// ErrKeyReused. It touches no actor state.
func firstTransfer(ctx context.Context, tree *supervisors.Tree, ref string, m *messages.Transfer) (*messages.TransferReply, error) {
	send, e, err := refEntry(ctx, tree, ref)
	if err != nil || !send.Defined() {
		return nil, err
	}
	if e.Op != messages.OpSend || e.Account != m.From || e.Counterparty != m.To || e.Amount != m.Amount || e.Memo != m.Memo {
		return nil, fmt.Errorf("%w: %q paid %d to %s (memo %q) in %s", messages.ErrKeyReused, m.Key, e.Amount, e.Counterparty, e.Memo, send)
	}
	first := &messages.TransferReply{Send: e.info(send), Replayed: true}
	// A local payee's receive landed in the same commit.
	recv, r, err := refEntry(ctx, tree, receivedRef(send))
	if err != nil {
		return nil, err
	}
	if recv.Defined() {
		info := r.info(recv)
		first.Receive = &info
	}
	return first, nil
}

// refEntry reads the entry a ref names: cid.Undef if there is no such ref.
func refEntry(ctx context.Context, tree *supervisors.Tree, ref string) (cid.Cid, entry, error) {
	r, err := supervisors.Ask[*messages.Ref](ctx, tree, dagName, &messages.GetRef{Name: ref})
	switch {
	case errors.Is(err, messages.ErrRefNotFound):
		return cid.Undef, entry{}, nil
	case err != nil:
		return cid.Undef, entry{}, err
	}
	b, err := dagSource{tree}.Block(ctx, r.CID)
	if err != nil {
		return cid.Undef, entry{}, err
	}
	e, err := decodeEntry(b)
	if err != nil {
		return cid.Undef, entry{}, fmt.Errorf("ledger: ref %s: %w", ref, err)
	}
	return r.CID, e, nil
}
