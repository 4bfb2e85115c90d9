package governance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/ccl"
	"github.com/intercooperative-network/icn-go/ccl/runtime"
	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// info is a manifest as the messages carry it.
func info(m ccl.Manifest, root cid.Cid) *messages.ContractInfo {
	out := &messages.ContractInfo{Manifest: root, WASM: m.WASM.Cid, Source: m.Source.Cid,
		CompilerVersion: m.CompilerVersion, Imports: slices.Clone(m.Imports)}
	for _, e := range m.Entries {
		out.Entries = append(out.Entries, messages.ContractEntry{Name: e.Name, Params: slices.Clone(e.Params), Result: e.Result})
	}
	return out
}

// compileError makes the compiler's errors a message.
func compileError(err error) error {
	list, ok := errors.AsType[ccl.ErrorList](err)
	if !ok {
		return err
	}
	ce := &messages.CompileError{Err: list}
	for _, e := range list {
		ce.Errors = append(ce.Errors, messages.SourceError{File: e.Pos.Filename, Line: e.Pos.Line, Col: e.Pos.Col, Message: e.Msg})
	}
	return ce
}

// publish compiles and stores a contract; the reply waits for the blocks
// to be durable.
func (a *Actor) publish(ctx context.Context, m *messages.PublishContract) (*messages.ContractInfo, error) {
	out, err := ccl.Compile(m.Filename, m.Source)
	if err != nil {
		return nil, compileError(err)
	}
	src, wasm, root, desc, err := ccl.Pack(m.Source, out)
	if err != nil {
		return nil, err
	}
	put := &messages.PutBlocks{Blocks: []block.Block{src, wasm, root}, Pin: &messages.PinBlock{CID: root.CID(), Recursive: true}}
	if _, err := a.tree.Request(ctx, dagName, put); err != nil {
		return nil, fmt.Errorf("governance: store contract %s: %w", root.CID(), err)
	}
	// The module was just compiled here: the first evaluation is warm.
	if p, err := a.Runtime.LoadOutput(out); err == nil {
		a.cache.add(root.CID(), p)
	}
	a.log.InfoContext(ctx, "contract published", "manifest", root.CID(), "entries", len(desc.Entries), "bytes", len(out.WASM))
	return info(desc, root.CID()), nil
}

// readBlock reads a block from the dag.
func (a *Actor) readBlock(ctx context.Context, c cid.Cid) (block.Block, error) {
	r, err := supervisors.Ask[*messages.GetBlockReply](ctx, a.tree, dagName, &messages.GetBlock{CID: c})
	if err != nil {
		return block.Block{}, err
	}
	return r.Block, nil
}

// readManifest reads and decodes a contract's manifest.
func (a *Actor) readManifest(ctx context.Context, c cid.Cid) (ccl.Manifest, error) {
	if !c.Defined() || c.Prefix().Codec != block.DagCBOR {
		return ccl.Manifest{}, fmt.Errorf("%w: %s is not a dag-cbor manifest", messages.ErrUnknownContract, c)
	}
	b, err := a.readBlock(ctx, c)
	if errors.Is(err, messages.ErrBlockNotFound) {
		// Not the dag's 404: the client asked for a contract.
		return ccl.Manifest{}, fmt.Errorf("%w: no manifest %s on this node", messages.ErrUnknownContract, c)
	}
	if err != nil {
		return ccl.Manifest{}, err
	}
	var m ccl.Manifest
	if err := block.Decode(b, &m); err != nil || !m.Source.Cid.Defined() || !m.WASM.Cid.Defined() || m.CompilerVersion == "" {
		return ccl.Manifest{}, fmt.Errorf("%w: %s is not a contract manifest", messages.ErrUnknownContract, c)
	}
	return m, nil
}

func (a *Actor) get(ctx context.Context, c cid.Cid) (*messages.ContractInfo, error) {
	m, err := a.readManifest(ctx, c)
	if err != nil {
		return nil, err
	}
	return info(m, c), nil
}

// policy returns the loaded policy of a contract: from the cache, or read
// from the dag, recompiled and checked against what was published.
func (a *Actor) policy(ctx context.Context, c cid.Cid) (*runtime.Policy, error) {
	// A manifest's CID fixes its source and module bytes, so a policy
	// checked once stays checked.
	if p, ok := a.cache.get(c); ok {
		return p, nil
	}
	m, err := a.readManifest(ctx, c)
	if err != nil {
		return nil, err
	}
	if m.CompilerVersion != ccl.Version {
		return nil, fmt.Errorf("%w: %s was compiled by %s, this node runs %s", messages.ErrContractMismatch, c, m.CompilerVersion, ccl.Version)
	}
	src, err := a.readBlock(ctx, m.Source.Cid)
	if err != nil {
		return nil, fmt.Errorf("governance: contract %s: source %s: %w", c, m.Source.Cid, err)
	}
	wasm, err := a.readBlock(ctx, m.WASM.Cid)
	if err != nil {
		return nil, fmt.Errorf("governance: contract %s: module %s: %w", c, m.WASM.Cid, err)
	}
	out, err := ccl.Compile(c.String()+".ccl", src.Data())
	if err != nil {
		return nil, fmt.Errorf("%w: %s: the stored source does not compile: %v", messages.ErrContractMismatch, c, err)
	}
	if !bytes.Equal(out.WASM, wasm.Data()) {
		return nil, fmt.Errorf("%w: %s: the source compiles to %d bytes that differ from the stored module %s (%d bytes)",
			messages.ErrContractMismatch, c, len(out.WASM), m.WASM.Cid, wasm.Size())
	}
	if !ccl.Describe(out).SameModule(m) {
		return nil, fmt.Errorf("%w: %s: the manifest's entry points or imports are not the module's", messages.ErrContractMismatch, c)
	}
	p, err := a.Runtime.LoadOutput(out)
	if err != nil {
		return nil, fmt.Errorf("governance: contract %s: %w", c, err)
	}
	a.cache.add(c, p)
	return p, nil
}

// eval calls an entry point of a contract against a snapshot.
func (a *Actor) eval(ctx context.Context, m *messages.EvalContract) (*messages.EvalResult, error) {
	var snap *runtime.Frozen
	if len(bytes.TrimSpace(m.Snapshot)) > 0 {
		var err error
		if snap, err = runtime.ParseSnapshot(m.Snapshot); err != nil {
			return nil, fmt.Errorf("%w: %v", messages.ErrBadSnapshot, err)
		}
	}
	p, err := a.policy(ctx, m.CID)
	if err != nil {
		return nil, err
	}
	e, ok := p.Entry(m.Entry)
	if !ok {
		names := make([]string, 0, len(p.Entries()))
		for _, e := range p.Entries() {
			names = append(names, e.Name)
		}
		return nil, fmt.Errorf("%w: %s has no entry point %q (it has %v)", messages.ErrNoEntryPoint, m.CID, m.Entry, names)
	}
	if len(m.Args) != len(e.Params) {
		return nil, fmt.Errorf("%w: %s takes %d arguments, got %d", messages.ErrBadArguments, m.Entry, len(e.Params), len(m.Args))
	}
	args := make([]runtime.Value, len(m.Args))
	for i, s := range m.Args {
		v, err := runtime.ParseValue(e.Params[i], s)
		if err != nil {
			return nil, fmt.Errorf("%w: argument %d of %s: %v", messages.ErrBadArguments, i+1, m.Entry, err)
		}
		args[i] = v
	}
	res, err := p.Call(ctx, m.Entry, snap, args...)
	if err != nil {
		return nil, callError(err, res.FuelUsed)
	}
	v := res.Value
	return &messages.EvalResult{Type: v.Type.String(), Int: v.Int, Bool: v.Bool, Str: v.Str, FuelUsed: res.FuelUsed}, nil
}

// callError makes the runtime's errors messages, keeping them reachable.
func callError(err error, fuel uint64) error {
	if t, ok := errors.AsType[*runtime.Trap](err); ok {
		return &messages.ContractTrap{Kind: t.Kind.String(), Message: t.Message, FuelUsed: fuel, Err: t}
	}
	if re, ok := errors.AsType[*runtime.Error](err); ok {
		switch re.Kind {
		case runtime.KindNoEntryPoint:
			return fmt.Errorf("%w: %w", messages.ErrNoEntryPoint, re)
		case runtime.KindBadArguments:
			return fmt.Errorf("%w: %w", messages.ErrBadArguments, re)
		}
	}
	return fmt.Errorf("governance: %w", err)
}
