package jobs

import (
	"context"
	"fmt"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/actors/executors"
	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/supervisors"
)

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
			rec, receipt, err := m.readRecord(ctx, r.CID)
			if err != nil {
				return nil, fmt.Errorf("job %s: %w", r.Name, err)
			}
			spec, err := m.readSpec(ctx, rec.Spec.Cid)
			if err != nil {
				return nil, fmt.Errorf("job %s: spec: %w", r.Name, err)
			}
			out = append(out, &driver{id: strings.TrimPrefix(r.Name, refPrefix), spec: spec, rec: rec, head: r.CID, receipt: receipt})
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

// readRecord reads a job record and its receipt, if it has one.
func (m *manager) readRecord(ctx context.Context, c cid.Cid) (record, *messages.JobReceipt, error) {
	b, err := m.get(ctx, c)
	if err != nil {
		return record{}, nil, err
	}
	var rec record
	if err := block.Decode(b, &rec); err != nil {
		return record{}, nil, err
	}
	if !rec.receipt().Defined() {
		return rec, nil, nil
	}
	rb, err := m.get(ctx, rec.receipt())
	if err != nil {
		return record{}, nil, fmt.Errorf("receipt: %w", err)
	}
	receipt, err := executors.DecodeReceipt(rb)
	if err != nil {
		return record{}, nil, fmt.Errorf("receipt: %w", err)
	}
	return rec, receipt, nil
}

func (m *manager) readSpec(ctx context.Context, c cid.Cid) (messages.JobSpec, error) {
	b, err := m.get(ctx, c)
	if err != nil {
		return messages.JobSpec{}, err
	}
	return decodeSpec(b)
}
