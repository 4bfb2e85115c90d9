package runtime

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/intercooperative-network/icn-go/ccl"
	"github.com/intercooperative-network/icn-go/ccl/wasmenc"
	"github.com/intercooperative-network/icn-go/services/wasm"
)

// DefaultFuel is the fuel a call may use unless WithFuel says otherwise.
const DefaultFuel = 1_000_000

// DefaultTimeout is the wall-clock backstop of a call.
const DefaultTimeout = 10 * time.Second

// Option configures New.
type Option func(*options)

type options struct {
	fuel    uint64
	timeout time.Duration
	engine  []wasm.Option
}

// WithFuel sets the fuel of each call (default DefaultFuel).
func WithFuel(n uint64) Option { return func(o *options) { o.fuel = n } }

// WithTimeout sets the wall-clock backstop of each call (default
// DefaultTimeout). Fuel, not time, is what normally stops a call.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithEngineOptions passes options (a cache directory, a logger) to the
// wasm engine the runtime makes.
func WithEngineOptions(opts ...wasm.Option) Option {
	return func(o *options) { o.engine = append(o.engine, opts...) }
}

// Runtime runs compiled policies. It owns a wasm.Engine with the icn
// host module linked; it is safe for concurrent use.
type Runtime struct {
	engine *wasm.Engine
	limits wasm.Limits
}

// New makes a runtime.
func New(opts ...Option) (*Runtime, error) {
	o := options{fuel: DefaultFuel, timeout: DefaultTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if o.fuel == 0 {
		o.fuel = DefaultFuel
	}
	if o.timeout <= 0 {
		o.timeout = DefaultTimeout
	}
	eopts := append(slices.Clone(o.engine), wasm.WithHostModule(ccl.HostModule, exportHost))
	e, err := wasm.New(eopts...)
	if err != nil {
		return nil, err
	}
	return &Runtime{engine: e, limits: wasm.Limits{
		Fuel: o.fuel, MemoryPages: ccl.MaxMemoryPages, Timeout: o.timeout, MaxOutputBytes: 1,
	}}, nil
}

// Close stops the calls in flight and releases the engine.
func (r *Runtime) Close(ctx context.Context) error { return r.engine.Close(ctx) }

// Entry is an entry point of a loaded policy.
type Entry struct {
	Name   string
	Params []ccl.Type
	Result ccl.Type
}

// Policy is a loaded module, ready to be called any number of times,
// concurrently.
type Policy struct {
	rt      *Runtime
	bin     []byte
	key     string
	entries []Entry // in name order
}

// Load checks a compiled module: its imports (forbidden_import for
// anything outside the icn host table), start function, memory and the
// signatures of the entry points of ccl.EntryPoints it exports, which are
// the functions it can call. Nothing is instantiated.
func (r *Runtime) Load(bin []byte) (*Policy, error) {
	info, err := r.check(bin)
	if err != nil {
		return nil, err
	}
	p := r.policy(bin)
	for _, ep := range ccl.EntryPoints() {
		ft, ok := info.exports[ep.Name]
		if !ok {
			continue
		}
		e := Entry{Name: ep.Name, Params: ep.Params, Result: ep.Result}
		if err := checkSig(e, ft); err != nil {
			return nil, err
		}
		p.entries = append(p.entries, e)
	}
	p.sort()
	return p, nil
}

// LoadOutput is Load for a module just compiled: every export of out is
// callable, with the CCL signature out gives.
func (r *Runtime) LoadOutput(out *ccl.Output) (*Policy, error) {
	info, err := r.check(out.WASM)
	if err != nil {
		return nil, err
	}
	p := r.policy(out.WASM)
	for _, ex := range out.Exports {
		e := Entry{Name: ex.Name, Result: ex.Result}
		for _, prm := range ex.Params {
			e.Params = append(e.Params, prm.Type)
		}
		ft, ok := info.exports[ex.Name]
		if !ok {
			return nil, &Error{Kind: KindInvalidModule, Msg: fmt.Sprintf("no exported function %q", ex.Name)}
		}
		if err := checkSig(e, ft); err != nil {
			return nil, err
		}
		p.entries = append(p.entries, e)
	}
	p.sort()
	return p, nil
}

// Compile compiles CCL source and loads it; a compile error is the
// ccl.ErrorList that ccl.Compile returns.
func (r *Runtime) Compile(filename string, src []byte) (*Policy, error) {
	out, err := ccl.Compile(filename, src)
	if err != nil {
		return nil, err
	}
	return r.LoadOutput(out)
}

func (r *Runtime) check(bin []byte) (*moduleInfo, error) {
	info, err := parseModule(bin)
	if err != nil {
		return nil, &Error{Kind: KindInvalidModule, Msg: err.Error()}
	}
	if err := checkImports(info); err != nil {
		return nil, err
	}
	switch {
	case info.hasStart:
		return nil, &Error{Kind: KindInvalidModule, Msg: "the module has a start function"}
	case !info.hasMem:
		return nil, &Error{Kind: KindInvalidModule, Msg: "the module has no memory"}
	case !info.hasMemMax || info.memMax > ccl.MaxMemoryPages:
		return nil, &Error{Kind: KindInvalidModule, Msg: fmt.Sprintf("the module's memory must have a maximum of at most %d pages", ccl.MaxMemoryPages)}
	}
	return info, nil
}

func (r *Runtime) policy(bin []byte) *Policy {
	sum := sha256.Sum256(bin)
	return &Policy{rt: r, bin: slices.Clone(bin), key: "ccl:" + hex.EncodeToString(sum[:])}
}

func (p *Policy) sort() {
	slices.SortFunc(p.entries, func(a, b Entry) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
}

// wasmType is how a value of type t crosses the boundary of an export.
func wasmType(t ccl.Type) wasmenc.ValType {
	switch t {
	case ccl.Integer, ccl.Timestamp, ccl.Duration:
		return wasmenc.I64
	}
	return wasmenc.I32
}

func checkSig(e Entry, ft funcType) error {
	var params []wasmenc.ValType
	for _, t := range e.Params {
		params = append(params, wasmType(t))
	}
	results := []wasmenc.ValType{wasmType(e.Result)}
	if !ft.equal(params, results) {
		return &Error{Kind: KindInvalidModule, Msg: fmt.Sprintf("entry point %s: signature %s, want %s", e.Name, ft, funcType{params, results})}
	}
	return nil
}

// Entries returns the callable entry points, by name.
func (p *Policy) Entries() []Entry { return slices.Clone(p.entries) }

// Entry returns the entry point called name.
func (p *Policy) Entry(name string) (Entry, bool) {
	for _, e := range p.entries {
		if e.Name == name {
			return e, true
		}
	}
	return Entry{}, false
}

// Result is what a call returned: its value (of the entry point's result
// type) and the fuel it used.
type Result struct {
	Value    Value
	FuelUsed uint64
}

// Call calls an entry point with args against a snapshot (nil is the
// empty snapshot). A call that traps returns a *Trap, with the fuel used
// so far in the Result; a call that cannot be made returns an *Error.
func (p *Policy) Call(ctx context.Context, entry string, snap *Frozen, args ...Value) (Result, error) {
	e, ok := p.Entry(entry)
	if !ok {
		return Result{}, &Error{Kind: KindNoEntryPoint, Msg: fmt.Sprintf("the module exports no entry point %q", entry)}
	}
	if len(args) != len(e.Params) {
		return Result{}, &Error{Kind: KindBadArguments, Msg: fmt.Sprintf("%s takes %d arguments, got %d", entry, len(e.Params), len(args))}
	}
	if snap == nil {
		snap = &Frozen{isMember: map[string]bool{}, votes: map[string]Vote{}}
	}
	st := &callState{snap: snap, args: args}
	params := make([]uint64, len(args))
	for i, a := range args {
		if a.Type != e.Params[i] {
			return Result{}, &Error{Kind: KindBadArguments, Msg: fmt.Sprintf("%s: argument %d is a %s, want %s", entry, i+1, a.Type, e.Params[i])}
		}
		switch a.Type {
		case ccl.Integer, ccl.Timestamp, ccl.Duration:
			params[i] = uint64(a.Int)
		case ccl.Bool:
			if a.Bool {
				params[i] = 1
			}
		case ccl.Did, ccl.String:
			if len(a.Str) > ccl.MaxHostBytes {
				return Result{}, &Error{Kind: KindBadArguments, Msg: fmt.Sprintf("%s: argument %d has %d bytes, the most is %d", entry, i+1, len(a.Str), ccl.MaxHostBytes)}
			}
			params[i] = uint64(i) // the index icn.arg is called with
		}
	}
	cr, err := p.rt.engine.Call(context.WithValue(ctx, stateKey{}, st), wasm.Call{
		Key: p.key, Module: p.bin, Function: entry, Params: params, Limits: p.rt.limits,
	})
	res := Result{FuelUsed: cr.FuelUsed}
	if err != nil {
		return res, callError(err)
	}
	if len(cr.Results) != 1 {
		return res, fmt.Errorf("runtime: %s returned %d results", entry, len(cr.Results))
	}
	v := cr.Results[0]
	switch e.Result {
	case ccl.Integer, ccl.Timestamp, ccl.Duration:
		res.Value = Value{Type: e.Result, Int: int64(v)}
	case ccl.Bool:
		res.Value = Bool(uint32(v) != 0)
	case ccl.Did, ccl.String:
		if !st.hasResult || uint64(len(st.result)) != uint64(uint32(v)) {
			return res, fmt.Errorf("runtime: %s returned a %s of length %d without handing it to icn.result", entry, e.Result, uint32(v))
		}
		res.Value = Value{Type: e.Result, Str: st.result}
	default:
		return res, fmt.Errorf("runtime: %s returns a %s", entry, e.Result)
	}
	return res, nil
}

// callError makes the engine's error typed.
func callError(err error) error {
	if t, ok := errors.AsType[*Trap](err); ok {
		return t
	}
	switch {
	case errors.Is(err, wasm.ErrOutOfFuel):
		return &Trap{Kind: ccl.TrapFuelExhausted}
	case errors.Is(err, wasm.ErrStackOverflow):
		return &Trap{Kind: ccl.TrapMemoryLimit, Message: "call stack exhausted"}
	case errors.Is(err, wasm.ErrMemory):
		return &Trap{Kind: ccl.TrapMemoryLimit}
	case errors.Is(err, wasm.ErrInvalidModule):
		return &Error{Kind: KindInvalidModule, Msg: err.Error()}
	case errors.Is(err, wasm.ErrForbiddenImport):
		return &Error{Kind: KindForbiddenImport, Msg: err.Error()}
	}
	return fmt.Errorf("runtime: %w", err)
}

// stateKey carries a call's *callState in the context the host functions
// get.
type stateKey struct{}

// callState is one call's: the snapshot, the arguments and the Did or
// String result.
type callState struct {
	snap      *Frozen
	args      []Value
	result    string
	hasResult bool
}

// hostFault is a host function called against the ABI (bad memory
// ranges, a wrong argument index): a bug in the module, not a CCL trap.
type hostFault struct{ msg string }

func (f *hostFault) Error() string { return "runtime: host ABI violation: " + f.msg }

func readBytes(m api.Module, ptr, n64 uint64) string {
	n := uint32(n64)
	if n > ccl.MaxHostBytes*64 {
		panic(&hostFault{fmt.Sprintf("a string of %d bytes", n)})
	}
	b, ok := m.Memory().Read(uint32(ptr), n)
	if !ok {
		panic(&hostFault{fmt.Sprintf("read of %d bytes at %d out of memory", n, uint32(ptr))})
	}
	return string(b)
}

func writeBytes(m api.Module, s string, buf, capacity uint64) uint64 {
	if uint64(len(s)) > uint64(uint32(capacity)) {
		panic(&hostFault{fmt.Sprintf("%d bytes do not fit in a buffer of %d", len(s), uint32(capacity))})
	}
	if !m.Memory().Write(uint32(buf), []byte(s)) {
		panic(&hostFault{fmt.Sprintf("write of %d bytes at %d out of memory", len(s), uint32(buf))})
	}
	return uint64(len(s))
}

// exportHost adds every function of ccl.HostFuncs to the icn module.
func exportHost(b wazero.HostModuleBuilder) wazero.HostModuleBuilder {
	for _, h := range ccl.HostFuncs() {
		params := make([]api.ValueType, len(h.WasmParams))
		for i, p := range h.WasmParams {
			params[i] = api.ValueType(p)
		}
		results := make([]api.ValueType, len(h.WasmResults))
		for i, r := range h.WasmResults {
			results[i] = api.ValueType(r)
		}
		b = b.NewFunctionBuilder().WithGoModuleFunction(hostFunc(h.Name), params, results).Export(h.Name)
	}
	return b
}

// hostFunc implements one host function over the call's state.
func hostFunc(name string) api.GoModuleFunc {
	f := func(s *callState, m api.Module, st []uint64) {
		panic(&hostFault{"no host function " + name})
	}
	switch name {
	case "member_count":
		f = func(s *callState, _ api.Module, st []uint64) { st[0] = uint64(len(s.snap.members)) }
	case "member_at":
		f = func(s *callState, m api.Module, st []uint64) {
			i := int64(st[0])
			if i < 0 || i >= int64(len(s.snap.members)) {
				panic(&Trap{Kind: ccl.TrapIndexOutOfBounds, Message: fmt.Sprintf("member_at(%d) with %d members", i, len(s.snap.members))})
			}
			st[0] = writeBytes(m, s.snap.members[i], st[1], st[2])
		}
	case "is_member":
		f = func(s *callState, m api.Module, st []uint64) {
			st[0] = b2u(s.snap.isMember[readBytes(m, st[0], st[1])])
		}
	case "vote_count":
		f = func(s *callState, _ api.Module, st []uint64) {
			o := int64(st[0])
			st[0] = 0
			if o >= 1 && o <= 4 {
				st[0] = uint64(s.snap.counts[o])
			}
		}
	case "votes_cast":
		f = func(s *callState, _ api.Module, st []uint64) { st[0] = uint64(len(s.snap.votes)) }
	case "vote_of":
		f = func(s *callState, m api.Module, st []uint64) {
			st[0] = uint64(s.snap.votes[readBytes(m, st[0], st[1])])
		}
	case "now":
		f = func(s *callState, _ api.Module, st []uint64) { st[0] = uint64(s.snap.snap.Now) }
	case "proposal_created":
		f = func(s *callState, _ api.Module, st []uint64) { st[0] = uint64(s.snap.snap.ProposalCreated) }
	case "voting_ends":
		f = func(s *callState, _ api.Module, st []uint64) { st[0] = uint64(s.snap.snap.VotingEnds) }
	case "proposer":
		f = func(s *callState, m api.Module, st []uint64) {
			st[0] = writeBytes(m, s.snap.snap.Proposer, st[0], st[1])
		}
	case "caller":
		f = func(s *callState, m api.Module, st []uint64) { st[0] = writeBytes(m, s.snap.snap.Caller, st[0], st[1]) }
	case "treasury":
		f = func(s *callState, m api.Module, st []uint64) {
			st[0] = writeBytes(m, s.snap.snap.Treasury, st[0], st[1])
		}
	case "proposal_param":
		f = func(s *callState, m api.Module, st []uint64) {
			k := readBytes(m, st[0], st[1])
			v, ok := s.snap.snap.Params[k]
			if !ok {
				panic(&Trap{Kind: ccl.TrapMissingParam, Message: k})
			}
			st[0] = uint64(v)
		}
	case "balance_of":
		f = func(s *callState, m api.Module, st []uint64) {
			st[0] = uint64(s.snap.snap.Balances[readBytes(m, st[0], st[1])])
		}
	case "reputation_of":
		f = func(s *callState, m api.Module, st []uint64) {
			st[0] = uint64(s.snap.snap.Reputation[readBytes(m, st[0], st[1])])
		}
	case "trap":
		f = func(s *callState, m api.Module, st []uint64) {
			code := ccl.TrapCode(int32(st[0]))
			if code < ccl.TrapRequireFailed || code > ccl.TrapMemoryLimit {
				panic(&hostFault{fmt.Sprintf("trap code %d", int32(st[0]))})
			}
			panic(&Trap{Kind: code, Message: readBytes(m, st[1], st[2])})
		}
	case "arg":
		f = func(s *callState, m api.Module, st []uint64) {
			i := int64(int32(st[0]))
			if i < 0 || i >= int64(len(s.args)) || (s.args[i].Type != ccl.Did && s.args[i].Type != ccl.String) {
				panic(&hostFault{fmt.Sprintf("icn.arg(%d): no Did or String argument there", i)})
			}
			st[0] = writeBytes(m, s.args[i].Str, st[1], st[2])
		}
	case "result":
		f = func(s *callState, m api.Module, st []uint64) {
			s.result, s.hasResult = readBytes(m, st[0], st[1]), true
		}
	}
	return func(ctx context.Context, m api.Module, st []uint64) {
		s, ok := ctx.Value(stateKey{}).(*callState)
		if !ok {
			panic(&hostFault{"called outside a runtime call"})
		}
		f(s, m, st)
	}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
