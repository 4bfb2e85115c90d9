package jobs

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/actors/executors"
	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// resumeGrace is how long a job resumed in the hands of an executor on
// another node keeps asking it, however its requests fail, before it
// counts the executor as lost: a node that just restarted knows no
// address of its peers until they (or its redial loop) reconnect, and the
// executor may well be running the job, or have its answer kept.
const resumeGrace = 15 * time.Second

// loadAll reads every job record from the dag. It runs off the actor's
// goroutine and touches none of its state.
func (m *manager) loadAll(ctx context.Context) ([]*driver, error) {
	var out []*driver
	after := ""
	for {
		page, err := supervisors.Ask[*messages.ListRefsReply](ctx, m.tree, dagName, &messages.ListRefs{Prefix: refPrefix, After: after})
		if err != nil {
			return nil, err
		}
		for _, r := range page.Refs {
			rec, receipts, err := m.readRecord(ctx, r.CID)
			if err != nil {
				return nil, fmt.Errorf("job %s: %w", r.Name, err)
			}
			spec, err := m.readSpec(ctx, rec.Spec.Cid)
			if err != nil {
				return nil, fmt.Errorf("job %s: spec: %w", r.Name, err)
			}
			d := &driver{id: strings.TrimPrefix(r.Name, refPrefix), spec: spec, rec: rec, head: r.CID, receipts: receipts}
			if rec.State == messages.JobAssigned || rec.State == messages.JobRunning {
				d.graceUntil = time.Now().Add(resumeGrace)
			}
			out = append(out, d)
		}
		if !page.More || len(page.Refs) == 0 {
			return out, nil
		}
		after = page.Refs[len(page.Refs)-1].Name
	}
}

func (m *manager) get(ctx context.Context, c cid.Cid) (block.Block, error) {
	r, err := supervisors.Ask[*messages.GetBlockReply](ctx, m.tree, dagName, &messages.GetBlock{CID: c})
	if err != nil {
		return block.Block{}, err
	}
	return r.Block, nil
}

// jobReceipts are the decoded receipts a job record links: the executor's
// and, for a verify-2 job, its helpers' by role.
type jobReceipts struct {
	main      *messages.JobReceipt
	witnesses map[string]*messages.JobReceipt
}

// readRecord reads a job record and the receipts it links.
func (m *manager) readRecord(ctx context.Context, c cid.Cid) (record, jobReceipts, error) {
	b, err := m.get(ctx, c)
	if err != nil {
		return record{}, jobReceipts{}, err
	}
	var rec record
	if err := block.Decode(b, &rec); err != nil {
		return record{}, jobReceipts{}, err
	}
	var out jobReceipts
	read := func(l *block.Link) (*messages.JobReceipt, error) {
		if l == nil {
			return nil, nil
		}
		rb, err := m.get(ctx, l.Cid)
		if err != nil {
			return nil, fmt.Errorf("receipt: %w", err)
		}
		r, err := executors.DecodeReceipt(rb)
		if err != nil {
			return nil, fmt.Errorf("receipt: %w", err)
		}
		return r, nil
	}
	if out.main, err = read(rec.Receipt); err != nil {
		return record{}, jobReceipts{}, err
	}
	for role, h := range rec.helpers() {
		r, err := read(h.Receipt)
		if err != nil {
			return record{}, jobReceipts{}, err
		}
		if r != nil {
			out.set(role, r)
		}
	}
	return rec, out, nil
}

// set keeps a helper's receipt.
func (j *jobReceipts) set(role string, r *messages.JobReceipt) {
	if j.witnesses == nil {
		j.witnesses = map[string]*messages.JobReceipt{}
	}
	j.witnesses[role] = r
}

func (m *manager) readSpec(ctx context.Context, c cid.Cid) (messages.JobSpec, error) {
	b, err := m.get(ctx, c)
	if err != nil {
		return messages.JobSpec{}, err
	}
	return decodeSpec(b)
}
