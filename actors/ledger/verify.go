package ledger

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/identity"
)

// BlockSource is where verification reads blocks: this node's dag, or
// (later) a peer's.
type BlockSource interface {
	Block(ctx context.Context, c cid.Cid) (block.Block, error)
}

// Heads gives the head of another account's chain when this node knows it,
// so that a receive's source can be checked against its sender's chain.
type Heads func(account string) (cid.Cid, bool)

// maxProblems bounds a report.
const maxProblems = 100

// Verify checks the chain of account from its open entry to head: every
// signature, seq order, prev links, times, the arithmetic of every balance
// (regeneration included), reservations, and that every receive is backed
// by a send or settle to this account, received once. A source whose
// sender's chain is known (heads) must be on it: another entry at its
// sender's seq is equivocation. It reads each entry twice (back along the
// prev links, then forward) and keeps only CIDs in memory.
func Verify(ctx context.Context, src BlockSource, account string, head cid.Cid, p Params, heads Heads) messages.VerifyReport {
	r, _ := verifyFrom(ctx, src, account, head, p, heads, nil)
	return r
}

// checkpoint is what verification knows after a prefix of a chain that
// verified in full before: the replay's state at its head (head, seq,
// time, balances, open reservations) and the sources the prefix received.
// Continuing from it gives the report a replay from the open entry would,
// without reading or checking the prefix again. A checkpoint is never
// changed once made, so checks running at once may share it.
type checkpoint struct {
	state    state
	received map[string]bool // by source CID bytes
	params   Params          // the rules it was verified under
}

// verifyFrom is Verify continuing from a checkpoint of account's chain
// (nil: from the open entry). The walk back from head stops at the
// checkpoint's head. Another entry at the checkpoint's seq, signed by the
// account, is equivocation against the chain verified before, and is
// reported as such: on its own the fork may well verify, and receiving
// from both branches is the double spend that verification is for. A head
// older than the checkpoint is looked for on the chain verified then
// (another entry there, signed, is equivocation too). An entry at the
// checkpoint's seq that the account did not sign, or a verified chain that
// cannot be read back, is verified from the open entry, as without a
// checkpoint. Receives before the checkpoint are not checked again against
// heads: what heads says may have changed since.
// When the chain is valid it also returns the checkpoint at head.
func verifyFrom(ctx context.Context, src BlockSource, account string, head cid.Cid, p Params, heads Heads, from *checkpoint) (messages.VerifyReport, *checkpoint) {
	began := time.Now()
	if from != nil && (from.state.account != account || from.params != p) {
		from = nil // what it says holds of another chain, or under other rules
	}
	v := &verifier{ctx: ctx, src: src, account: account, p: p, heads: heads, from: from, senders: map[string]map[uint64]cid.Cid{}}
	v.report = messages.VerifyReport{Account: account, Head: head, Problems: []messages.Problem{}}
	chain := v.backward(head)
	var after *checkpoint
	switch {
	case len(v.report.Problems) > 0:
	case v.within:
		after = v.from // nothing new: head is on the chain verified then
	default:
		after = v.forward(chain)
	}
	v.report.Entries = v.known + len(chain)
	v.report.Valid = len(v.report.Problems) == 0
	v.report.Took = time.Since(began)
	if !v.report.Valid {
		after = nil
	}
	return v.report, after
}

type verifier struct {
	ctx     context.Context
	src     BlockSource
	account string
	p       Params
	heads   Heads
	from    *checkpoint // where the walk back may stop; nil: the open entry
	known   int         // entries before the chain, verified with from
	within  bool        // head is from's head or an entry before it
	report  messages.VerifyReport
	senders map[string]map[uint64]cid.Cid // known chains of senders: seq -> CID
}

func (v *verifier) problem(seq uint64, c cid.Cid, reason, format string, args ...any) {
	if len(v.report.Problems) < maxProblems {
		v.report.Problems = append(v.report.Problems, messages.Problem{Seq: seq, CID: c, Reason: reason, Detail: fmt.Sprintf(format, args...)})
	}
}

// read fetches and decodes an entry, reporting what is wrong with it.
func (v *verifier) read(c cid.Cid, seq uint64) (entry, bool) {
	b, err := v.src.Block(v.ctx, c)
	if err != nil {
		reason := messages.ReasonMissingBlock
		if !errors.Is(err, messages.ErrBlockNotFound) {
			reason = messages.ReasonMalformed
		}
		v.problem(seq, c, reason, "%v", err)
		return entry{}, false
	}
	e, err := decodeEntry(b)
	if err != nil {
		v.problem(seq, c, messages.ReasonMalformed, "%v", err)
		return entry{}, false
	}
	return e, true
}

// backward follows the prev links from head to the open entry, or to the
// checkpoint's head, checking signatures and accounts on the way; it
// returns the CIDs oldest first, those verified before excluded.
func (v *verifier) backward(head cid.Cid) []cid.Cid {
	var rev []cid.Cid
	next, want := head, uint64(0)
	for i := 0; next.Defined(); i++ {
		if err := v.ctx.Err(); err != nil {
			v.problem(0, next, messages.ReasonMissingBlock, "verification stopped: %v", err)
			return nil
		}
		if v.from != nil && next.Equals(v.from.state.head) && (i == 0 || want == v.from.state.seq) {
			v.known, v.within = int(v.from.state.seq)+1, i == 0
			break
		}
		e, ok := v.read(next, want)
		if !ok {
			return nil
		}
		if i > 0 && e.Seq != want {
			v.problem(e.Seq, next, messages.ReasonBadSeq, "seq %d where %d belongs", e.Seq, want)
			return nil
		}
		signed := false
		if e.Account != v.account {
			v.problem(e.Seq, next, messages.ReasonWrongAccount, "entry of %s on the chain of %s", e.Account, v.account)
		} else if err := checkSignature(e); err != nil {
			v.problem(e.Seq, next, messages.ReasonBadSignature, "%v", err)
		} else {
			signed = true
		}
		if v.from != nil && e.Seq <= v.from.state.seq {
			if v.againstVerified(head, next, e.Seq, signed) {
				return nil
			}
			v.from = nil // verify from the open entry, as without a checkpoint
		}
		rev = append(rev, next)
		if e.Prev == nil {
			if e.Seq != 0 || e.Op != messages.OpOpen {
				v.problem(e.Seq, next, messages.ReasonBadPrev, "%s at seq %d has no prev", e.Op, e.Seq)
			}
			break
		}
		if e.Seq == 0 {
			v.problem(0, next, messages.ReasonBadPrev, "seq 0 has a prev")
			return nil
		}
		next, want = e.Prev.Cid, e.Seq-1
	}
	slices.Reverse(rev)
	return rev
}

// againstVerified compares c, an entry at seq no later than the
// checkpoint's, with the entry at seq of the chain verified up to the
// checkpoint. It returns true when that settles the report: c is that
// entry (the chain up to it was verified then), or c was signed by the
// account too (equivocation). Otherwise the walk goes on without the
// checkpoint.
func (v *verifier) againstVerified(head, c cid.Cid, seq uint64, signed bool) bool {
	on, ok := v.verifiedAt(seq)
	switch {
	case !ok:
		return false
	case on.Equals(c):
		v.known, v.within = int(seq)+1, true
		return true
	case signed:
		v.problem(seq, c, messages.ReasonEquivocation, "%s signed two entries at seq %d: %s (on the chain of %s) and %s (verified before)",
			v.account, seq, c, head, on)
		return true
	}
	return false
}

// verifiedAt reads back the chain verified up to the checkpoint to seq and
// returns the CID there; ok is false when it cannot be read. Its entries
// were checked when it was verified: only the links are followed.
func (v *verifier) verifiedAt(seq uint64) (cid.Cid, bool) {
	next := v.from.state.head
	for {
		if v.ctx.Err() != nil {
			return cid.Undef, false
		}
		b, err := v.src.Block(v.ctx, next)
		if err != nil {
			return cid.Undef, false
		}
		e, err := decodeEntry(b)
		switch {
		case err != nil || e.Seq < seq:
			return cid.Undef, false
		case e.Seq == seq:
			return next, true
		case e.Prev == nil:
			return cid.Undef, false
		}
		next = e.Prev.Cid
	}
}

// checkSignature checks that e is signed by its account's key.
func checkSignature(e entry) error {
	msg, err := e.signingBytes()
	if err != nil {
		return err
	}
	return identity.Verify(identity.DID(e.Account), msg, e.Sig)
}

// forward replays the chain under the rules, from the checkpoint when
// the walk back reached it; it returns the checkpoint at the chain's end.
func (v *verifier) forward(chain []cid.Cid) *checkpoint {
	s, before, first := state{account: v.account}, map[string]bool(nil), uint64(0)
	if v.from != nil {
		s, before, first = v.from.state, v.from.received, v.from.state.seq+1
	}
	received := map[string]bool{}
	for i, c := range chain {
		e, ok := v.read(c, first+uint64(i))
		if !ok {
			return nil
		}
		claimed := e
		next, err := apply(s, &e, c, v.p)
		if err != nil {
			var re *ruleError
			reason := messages.ReasonBadOp
			if errors.As(err, &re) {
				reason = re.reason
			}
			v.problem(claimed.Seq, c, reason, "%v", err)
			return nil // the state after a broken rule is unknown
		}
		if claimed.BalanceAfter != e.BalanceAfter || claimed.ReservedAfter != e.ReservedAfter {
			v.problem(claimed.Seq, c, messages.ReasonBadBalance, "claims %d available and %d reserved; the rules give %d and %d",
				claimed.BalanceAfter, claimed.ReservedAfter, e.BalanceAfter, e.ReservedAfter)
			return nil
		}
		if e.Op == messages.OpReceive {
			key := string(e.Source.Cid.Bytes())
			if received[key] || before[key] {
				v.problem(e.Seq, c, messages.ReasonDoubleReceive, "source %s received twice", e.Source.Cid)
			}
			received[key] = true
			v.checkSource(e, c)
		}
		s = next
	}
	return &checkpoint{state: s, received: merged(before, received), params: v.p}
}

// merged is before with added: before itself when nothing was added, since
// checkpoints share their sets and never write them.
func merged(before, added map[string]bool) map[string]bool {
	if len(added) == 0 && before != nil {
		return before
	}
	out := make(map[string]bool, len(before)+len(added))
	maps.Copy(out, before)
	maps.Copy(out, added)
	return out
}

// checkSource checks that a receive's source pays this account what the
// receive says, is signed by its payer, and is on the payer's known chain.
func (v *verifier) checkSource(e entry, c cid.Cid) {
	sc := e.Source.Cid
	b, err := v.src.Block(v.ctx, sc)
	if err != nil {
		v.problem(e.Seq, c, messages.ReasonUnbackedRecv, "source %s: %v", sc, err)
		return
	}
	src, err := decodeEntry(b)
	switch {
	case err != nil:
		v.problem(e.Seq, c, messages.ReasonUnbackedRecv, "source %s: %v", sc, err)
		return
	case src.Op != messages.OpSend && src.Op != messages.OpSettle:
		v.problem(e.Seq, c, messages.ReasonUnbackedRecv, "source %s is a %s", sc, src.Op)
		return
	case src.Account != e.Counterparty || src.Counterparty != v.account || src.Amount != e.Amount:
		v.problem(e.Seq, c, messages.ReasonUnbackedRecv, "source %s pays %d from %s to %s; the receive says %d from %s",
			sc, src.Amount, src.Account, src.Counterparty, e.Amount, e.Counterparty)
		return
	}
	if err := checkSignature(src); err != nil {
		v.problem(e.Seq, c, messages.ReasonUnbackedRecv, "source %s: %v", sc, err)
		return
	}
	chain := v.senderChain(src.Account)
	if chain == nil {
		return // the payer's chain is not known here
	}
	switch on, ok := chain[src.Seq]; {
	case !ok:
		v.problem(e.Seq, c, messages.ReasonUnbackedRecv, "source %s is seq %d of %s, past the head of its chain", sc, src.Seq, src.Account)
	case !on.Equals(sc):
		v.problem(e.Seq, c, messages.ReasonEquivocation, "%s signed two entries at seq %d: %s (received here) and %s (on its chain)",
			src.Account, src.Seq, sc, on)
	}
}

// senderChain maps the seqs of a payer's known chain to their CIDs (nil if
// the chain is not known or cannot be read).
func (v *verifier) senderChain(account string) map[uint64]cid.Cid {
	if m, ok := v.senders[account]; ok {
		return m
	}
	var m map[uint64]cid.Cid
	if v.heads != nil {
		if head, ok := v.heads(account); ok {
			m = map[uint64]cid.Cid{}
			for next := head; next.Defined(); {
				b, err := v.src.Block(v.ctx, next)
				if err != nil {
					m = nil
					break
				}
				e, err := decodeEntry(b)
				if err != nil || e.Account != account {
					m = nil
					break
				}
				m[e.Seq] = next
				next = unlink(e.Prev)
			}
		}
	}
	v.senders[account] = m
	return m
}
