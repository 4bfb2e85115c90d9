package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/intercooperative-network/icn-go/ccl"
	"github.com/intercooperative-network/icn-go/ccl/runtime"
	"github.com/intercooperative-network/icn-go/ccl/wasmenc"
)

const (
	alice    = "did:key:z6MkAlice"
	bob      = "did:key:z6MkBob"
	carol    = "did:key:z6MkCarol"
	treasury = "did:key:z6MkTreasury"
)

func newRuntime(t testing.TB, opts ...runtime.Option) *runtime.Runtime {
	t.Helper()
	r, err := runtime.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = r.Close(context.Background()) })
	return r
}

func compile(t testing.TB, r *runtime.Runtime, src string) *runtime.Policy {
	t.Helper()
	p, err := r.Compile("test.ccl", []byte(src))
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	return p
}

func freeze(t testing.TB, s runtime.Snapshot) *runtime.Frozen {
	t.Helper()
	f, err := s.Freeze()
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func baseSnapshot() runtime.Snapshot {
	return runtime.Snapshot{
		Members:         []string{carol, alice, bob},
		Votes:           map[string]runtime.Vote{alice: runtime.VoteYes, bob: runtime.VoteNo},
		Delegations:     map[string]string{carol: alice},
		Balances:        map[string]int64{alice: 40, bob: 5, treasury: 1000},
		Reputation:      map[string]int64{alice: 9, bob: 9},
		Now:             1_700_000_000,
		ProposalCreated: 1_699_900_000,
		VotingEnds:      1_700_086_400,
		Proposer:        alice,
		Caller:          bob,
		Treasury:        treasury,
		Params:          map[string]int64{"amount": 250},
	}
}

// TestEntryPoints calls every kind of entry point with typed arguments.
func TestEntryPoints(t *testing.T) {
	r := newRuntime(t)
	p := compile(t, r, `const TERM: Duration = 30 days;
policy eligible(voter: Did) -> Bool {
	return is_member(voter) && balance_of(voter) >= 10 && reputation_of(voter) >= 5;
}
policy passes() -> Bool { return vote_count(1) > vote_count(2); }
policy vetoed() -> Bool { return vote_count(4) > 0; }
policy price(cpu_millis: Integer, memory_mb: Integer, duration_ms: Integer) -> Mana {
	return cpu_millis + memory_mb * 10 + duration_ms * 100;
}
policy seat(index: Integer) -> Did {
	return member_at((now() / TERM + index) % member_count());
}
policy label(who: Did, key: String, flag: Bool) -> String {
	if flag && who == proposer() { return key; }
	return "none";
}
policy left() -> Duration { return voting_ends() - now(); }
policy created() -> Timestamp { return proposal_created(); }
fn run() -> Integer {
	return votes_cast() * 1000 + vote_of(did:key:z6MkCarol) * 100 + proposal_param("amount") + balance_of(treasury());
}`)
	snap := freeze(t, baseSnapshot())
	ctx := context.Background()
	for _, tc := range []struct {
		entry string
		args  []runtime.Value
		want  runtime.Value
	}{
		{"eligible", []runtime.Value{runtime.Did(alice)}, runtime.Bool(true)},
		{"eligible", []runtime.Value{runtime.Did(bob)}, runtime.Bool(false)},
		{"eligible", []runtime.Value{runtime.Did("did:key:z6MkStranger")}, runtime.Bool(false)},
		{"passes", nil, runtime.Bool(true)}, // carol delegates to alice: 2 yes, 1 no
		{"vetoed", nil, runtime.Bool(false)},
		{"price", []runtime.Value{runtime.Integer(1), runtime.Integer(2), runtime.Integer(3)}, runtime.Integer(321)},
		{"seat", []runtime.Value{runtime.Integer(0)}, runtime.Did(bob)}, // 1.7e9/2592000 = 655 cycles; 655 % 3 = 1
		{"seat", []runtime.Value{runtime.Integer(1)}, runtime.Did(carol)},
		{"label", []runtime.Value{runtime.Did(alice), runtime.String("hello"), runtime.Bool(true)}, runtime.String("hello")},
		{"label", []runtime.Value{runtime.Did(bob), runtime.String("hello"), runtime.Bool(true)}, runtime.String("none")},
		{"left", nil, runtime.Duration(86400)},
		{"created", nil, runtime.Timestamp(1_699_900_000)},
		{"run", nil, runtime.Integer(3000 + 100 + 250 + 1000)},
	} {
		t.Run(fmt.Sprint(tc.entry, tc.args), func(t *testing.T) {
			res, err := p.Call(ctx, tc.entry, snap, tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if res.Value != tc.want {
				t.Errorf("%s%v = %v (%s), want %v", tc.entry, tc.args, res.Value, res.Value.Type, tc.want)
			}
			if res.FuelUsed == 0 {
				t.Error("no fuel used")
			}
		})
	}
	if got := snap.Members(); got[0] != alice || got[1] != bob || got[2] != carol {
		t.Errorf("members %v: want them sorted", got)
	}
}

// TestTraps raises every kind of trap.
func TestTraps(t *testing.T) {
	r := newRuntime(t)
	big := newRuntime(t, runtime.WithFuel(100_000_000))
	snap := freeze(t, baseSnapshot())
	for _, tc := range []struct {
		name, src string
		kind      ccl.TrapCode
		msg       string
	}{
		{"require", `fn run() -> Integer { require(member_count() > 5, "quorum not met"); return 1; }`, ccl.TrapRequireFailed, "quorum not met"},
		{"require without message", `fn run() -> Integer { require(false); return 1; }`, ccl.TrapRequireFailed, ""},
		{"fuel", `fn run() -> Integer { while true { } }`, ccl.TrapFuelExhausted, ""},
		{"overflow", `fn run() -> Integer { let x = 9223372036854775807; return x + 1; }`, ccl.TrapOverflow, ""},
		{"min / -1", `fn run() -> Integer { let x = -9223372036854775808; let y = -1; return x / y; }`, ccl.TrapOverflow, ""},
		{"divide by zero", `fn run() -> Integer { let x = 0; return 7 / x; }`, ccl.TrapDivideByZero, ""},
		{"index", `fn run() -> Integer { let a = [1, 2, 3]; return a[3]; }`, ccl.TrapIndexOutOfBounds, ""},
		{"member_at", `fn run() -> Integer { return vote_of(member_at(3)); }`, ccl.TrapIndexOutOfBounds, "member_at(3) with 3 members"},
		{"missing param", `fn run() -> Integer { return proposal_param("budget"); }`, ccl.TrapMissingParam, "budget"},
		{"memory", `fn run() -> Integer {
	let i = 0;
	while true {
		let a = [i, i, i, i, i, i, i, i];
		i = i + len(a);
	}
}`, ccl.TrapMemoryLimit, ""},
		{"recursion", `fn f(n: Integer) -> Integer { return f(n + 1) + 1; }
fn run() -> Integer { return f(0); }`, ccl.TrapMemoryLimit, "call stack exhausted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rt := r
			if tc.kind == ccl.TrapMemoryLimit {
				rt = big // memory runs out after the default fuel
			}
			p := compile(t, rt, tc.src)
			res, err := p.Call(context.Background(), "run", snap)
			tr, ok := errors.AsType[*runtime.Trap](err)
			if !ok || tr.Kind != tc.kind || tr.Message != tc.msg {
				t.Fatalf("got %v, %v; want trap %s %q", res, err, tc.kind, tc.msg)
			}
			if res.FuelUsed == 0 {
				t.Error("no fuel used")
			}
			if tc.kind == ccl.TrapFuelExhausted && res.FuelUsed < runtime.DefaultFuel {
				t.Errorf("fuel used %d, below the limit", res.FuelUsed)
			}
		})
	}
}

// handMade encodes a module that imports one function and exports run.
func handMade(module, name string, params, results []wasmenc.ValType) []byte {
	m := &wasmenc.Module{}
	ti := m.TypeIndex(wasmenc.FuncType{Params: params, Results: results})
	m.Imports = []wasmenc.Import{{Module: module, Name: name, Type: ti}}
	run := m.TypeIndex(wasmenc.FuncType{Results: []wasmenc.ValType{wasmenc.I64}})
	m.Funcs = []wasmenc.Func{{Type: run, Body: []byte{0x42, 0x07, 0x0b}}} // i64.const 7; end
	m.Memory = &wasmenc.Memory{Min: 1, Max: 1}
	m.Exports = []wasmenc.Export{{Name: "run", Kind: wasmenc.ExportFunc, Index: 1}}
	return m.Encode()
}

// TestForbiddenImport refuses hand-made modules before instantiation.
func TestForbiddenImport(t *testing.T) {
	r := newRuntime(t)
	i32, i64 := wasmenc.I32, wasmenc.I64
	for _, tc := range []struct {
		name string
		bin  []byte
		kind runtime.Kind
	}{
		{"unknown icn function", handMade("icn", "launch_missiles", nil, []wasmenc.ValType{i64}), runtime.KindForbiddenImport},
		{"WASI", handMade("wasi_snapshot_preview1", "fd_write", []wasmenc.ValType{i32, i32, i32, i32}, []wasmenc.ValType{i32}), runtime.KindForbiddenImport},
		{"WASI clock", handMade("wasi_snapshot_preview1", "clock_time_get", []wasmenc.ValType{i32, i64, i32}, []wasmenc.ValType{i32}), runtime.KindForbiddenImport},
		{"icn.now with a wrong signature", handMade("icn", "now", nil, []wasmenc.ValType{i32}), runtime.KindForbiddenImport},
		{"another module", handMade("env", "now", nil, []wasmenc.ValType{i64}), runtime.KindForbiddenImport},
		{"not wasm", []byte("hello"), runtime.KindInvalidModule},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := r.Load(tc.bin)
			e, ok := errors.AsType[*runtime.Error](err)
			if !ok || e.Kind != tc.kind {
				t.Fatalf("Load: %v, want %s", err, tc.kind)
			}
		})
	}
	// The same hand-made module with a linked import loads and runs.
	p, err := r.Load(handMade("icn", "now", nil, []wasmenc.ValType{i64}))
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.Call(context.Background(), "run", nil)
	if err != nil || res.Value != runtime.Integer(7) {
		t.Fatalf("run = %v, %v", res, err)
	}
}

// TestLoadBytes loads compiled bytes (no ccl.Output): the known entry
// points are callable with their signatures.
func TestLoadBytes(t *testing.T) {
	r := newRuntime(t)
	out, err := ccl.Compile("x.ccl", []byte(`policy seat(i: Integer) -> Did { return member_at(i); }
policy other() -> Integer { return 1; }`))
	if err != nil {
		t.Fatal(err)
	}
	p, err := r.Load(out.WASM)
	if err != nil {
		t.Fatal(err)
	}
	if es := p.Entries(); len(es) != 1 || es[0].Name != "seat" {
		t.Fatalf("entries %v", es)
	}
	res, err := p.Call(context.Background(), "seat", freeze(t, baseSnapshot()), runtime.Integer(2))
	if err != nil || res.Value != runtime.Did(carol) {
		t.Fatalf("seat(2) = %v, %v", res, err)
	}
	for _, tc := range []struct {
		entry string
		args  []runtime.Value
		kind  runtime.Kind
	}{
		{"other", nil, runtime.KindNoEntryPoint},
		{"seat", nil, runtime.KindBadArguments},
		{"seat", []runtime.Value{runtime.Bool(true)}, runtime.KindBadArguments},
	} {
		_, err := p.Call(context.Background(), tc.entry, nil, tc.args...)
		if e, ok := errors.AsType[*runtime.Error](err); !ok || e.Kind != tc.kind {
			t.Errorf("%s%v: %v, want %s", tc.entry, tc.args, err, tc.kind)
		}
	}
}

// TestFuelDeterministic: the same call uses the same fuel every time, in
// fresh runtimes too.
func TestFuelDeterministic(t *testing.T) {
	src := `fn run() -> Integer { let s = 0; let i = 0; while i < 1000 { s = s + i * i; i = i + 1; } return s; }`
	var used []uint64
	for range 2 {
		r := newRuntime(t)
		p := compile(t, r, src)
		for range 2 {
			res, err := p.Call(context.Background(), "run", nil)
			if err != nil {
				t.Fatal(err)
			}
			used = append(used, res.FuelUsed)
		}
		p = compile(t, r, `fn run() -> Integer { while true { } }`)
		res, err := p.Call(context.Background(), "run", nil)
		if tr, ok := errors.AsType[*runtime.Trap](err); !ok || tr.Kind != ccl.TrapFuelExhausted {
			t.Fatal(err)
		}
		used = append(used, res.FuelUsed)
	}
	if used[0] != used[1] || used[1] != used[3] || used[3] != used[4] || used[2] != used[5] {
		t.Errorf("fuel used %v: want the same for the same call", used)
	}
}

// members returns n member DIDs.
func members(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("did:key:z6MkMember%04d", i)
	}
	return out
}

const supermajority = `policy passes() -> Bool {
	let members = member_count();
	if votes_cast() * 3 < members { return false; }
	let yes = vote_count(1);
	let no = vote_count(2);
	if yes + no == 0 { return false; }
	return 3 * yes >= 2 * (yes + no);
}
policy counted() -> Integer {
	let yes = 0;
	let i = 0;
	while i < member_count() {
		if vote_of(member_at(i)) == 1 { yes = yes + 1; }
		i = i + 1;
	}
	return yes;
}`

func bigSnapshot(n int) runtime.Snapshot {
	ms := members(n)
	s := runtime.Snapshot{Members: ms, Votes: map[string]runtime.Vote{}}
	for i, m := range ms {
		switch i % 4 {
		case 0, 1, 2:
			s.Votes[m] = runtime.VoteYes
		case 3:
			if i%8 == 3 {
				s.Votes[m] = runtime.VoteNo
			}
		}
	}
	return s
}

// TestThousandMembers runs passes, and a loop over every member, on a
// 1,000-member snapshot.
func TestThousandMembers(t *testing.T) {
	r := newRuntime(t)
	p := compile(t, r, supermajority)
	snap := freeze(t, bigSnapshot(1000))
	res, err := p.Call(context.Background(), "passes", snap)
	if err != nil || res.Value != runtime.Bool(true) {
		t.Fatalf("passes = %v, %v", res, err)
	}
	res, err = p.Call(context.Background(), "counted", snap)
	if err != nil || res.Value != runtime.Integer(750) {
		t.Fatalf("counted = %v, %v", res, err)
	}
}

// TestSnapshotJSON reads the documented format: option names and
// numbers, delegations, unknown fields refused.
func TestSnapshotJSON(t *testing.T) {
	f, err := runtime.ParseSnapshot([]byte(`{
  "members": ["did:key:b", "did:key:a", "did:key:a", "did:key:c", "did:key:d"],
  "votes": {"did:key:a": "consent", "did:key:b": 2, "did:key:x": "stand-aside"},
  "delegations": {"did:key:c": "did:key:d", "did:key:d": "did:key:b", "did:key:e": "did:key:f", "did:key:f": "did:key:e"},
  "now": 10, "params": {"amount": 5}
}`))
	if err != nil {
		t.Fatal(err)
	}
	if m := f.Members(); len(m) != 4 || m[0] != "did:key:a" {
		t.Errorf("members %v", m)
	}
	for d, want := range map[string]runtime.Vote{"did:key:a": runtime.VoteYes, "did:key:b": runtime.VoteNo, "did:key:c": runtime.VoteNo,
		"did:key:d": runtime.VoteNo, "did:key:e": 0, "did:key:x": runtime.VoteAbstain} {
		if got := f.VoteOf(d); got != want {
			t.Errorf("vote of %s = %v, want %v", d, got, want)
		}
	}
	for _, bad := range []string{`{"members": ["alice"]}`, `{"votes": {"did:key:a": "maybe"}}`, `{"votes": {"did:key:a": 5}}`,
		`{"memberz": []}`, `{} {}`} {
		if _, err := runtime.ParseSnapshot([]byte(bad)); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// TestConcurrentCalls calls one policy from several goroutines with
// different snapshots: each call sees its own.
func TestConcurrentCalls(t *testing.T) {
	r := newRuntime(t)
	p := compile(t, r, supermajority)
	snaps := []*runtime.Frozen{freeze(t, bigSnapshot(100)), freeze(t, bigSnapshot(40))}
	want := []runtime.Value{runtime.Integer(75), runtime.Integer(30)}
	errs := make(chan error, 16)
	for g := range 16 {
		go func() {
			for range 10 {
				res, err := p.Call(context.Background(), "counted", snaps[g%2])
				if err == nil && res.Value != want[g%2] {
					err = fmt.Errorf("counted = %v, want %v", res.Value, want[g%2])
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 16 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// withSection inserts a section into an encoded module, before the first
// section with a greater id (the order the binary format requires): how
// the tests make what the encoder never emits.
func withSection(bin []byte, id byte, payload []byte) []byte {
	sec := wasmenc.AppendU32([]byte{id}, uint32(len(payload)))
	sec = append(sec, payload...)
	off := 8
	for off < len(bin) && bin[off] <= id {
		var size uint32
		n := off + 1
		for shift := 0; ; shift += 7 {
			c := bin[n]
			n++
			size |= uint32(c&0x7f) << shift
			if c < 0x80 {
				break
			}
		}
		off = n + int(size)
	}
	return slices.Concat(bin[:off], sec, bin[off:])
}

// limitModule encodes a module that exports run, returning 7, with the
// memory mem (none when nil) and, if start, a start function.
func limitModule(mem *wasmenc.Memory, start bool) []byte {
	m := &wasmenc.Module{Memory: mem}
	run := m.TypeIndex(wasmenc.FuncType{Results: []wasmenc.ValType{wasmenc.I64}})
	init := m.TypeIndex(wasmenc.FuncType{})
	m.Funcs = []wasmenc.Func{
		{Type: run, Body: []byte{wasmenc.OpI64Const, 0x07, wasmenc.OpEnd}},
		{Type: init, Body: []byte{wasmenc.OpEnd}},
	}
	m.Exports = []wasmenc.Export{{Name: "run", Kind: wasmenc.ExportFunc, Index: 0}}
	bin := m.Encode()
	if start {
		bin = withSection(bin, 8, wasmenc.AppendU32(nil, 1)) // start: function 1
	}
	return bin
}

// TestLoadLimits refuses, at load, valid modules outside the limits of a
// policy: a start function, no memory, a memory without a maximum or with
// a maximum over ccl.MaxMemoryPages.
func TestLoadLimits(t *testing.T) {
	r := newRuntime(t)
	const tooMuch = "the module's memory must have a maximum of at most 16 pages"
	for _, tc := range []struct {
		name string
		bin  []byte
		msg  string // "" when the module loads
	}{
		{"start function", limitModule(&wasmenc.Memory{Min: 1, Max: 1}, true), "the module has a start function"},
		{"no memory", limitModule(nil, false), "the module has no memory"},
		// One memory, flags 0 (no maximum), at least 1 page.
		{"no maximum", withSection(limitModule(nil, false), 5, []byte{1, 0x00, 1}), tooMuch},
		{"17 pages", limitModule(&wasmenc.Memory{Min: 1, Max: ccl.MaxMemoryPages + 1}, false), tooMuch},
		{"16 pages", limitModule(&wasmenc.Memory{Min: 1, Max: ccl.MaxMemoryPages}, false), ""},
		{"0 pages", limitModule(&wasmenc.Memory{Min: 0, Max: 0}, false), ""}, // a maximum of 0 is not "no maximum"
	} {
		t.Run(tc.name, func(t *testing.T) {
			validateModule(t, tc.bin) // refused for the limit, not for being malformed
			p, err := r.Load(tc.bin)
			if tc.msg == "" {
				if err != nil {
					t.Fatal(err)
				}
				res, err := p.Call(context.Background(), "run", nil)
				if err != nil || res.Value != runtime.Integer(7) {
					t.Fatalf("run = %v, %v", res, err)
				}
				return
			}
			e, ok := errors.AsType[*runtime.Error](err)
			if !ok || e.Kind != runtime.KindInvalidModule || e.Msg != tc.msg {
				t.Fatalf("Load: %v, want %s: %s", err, runtime.KindInvalidModule, tc.msg)
			}
		})
	}
}

// validateModule fails the test unless wazero compiles bin.
func validateModule(t testing.TB, bin []byte) {
	t.Helper()
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigInterpreter())
	defer func() { _ = rt.Close(ctx) }()
	if _, err := rt.CompileModule(ctx, bin); err != nil {
		t.Fatalf("wazero rejects the module: %v", err)
	}
}

// TestCaller reads the snapshot's caller through the icn host module.
func TestCaller(t *testing.T) {
	r := newRuntime(t)
	p := compile(t, r, `policy who() -> Did { return caller(); }
// The proposer may withdraw a proposal, and so may any member it names.
policy may_withdraw(named: Did) -> Bool {
	return caller() == proposer() || (caller() == named && is_member(named));
}`)
	asAlice := baseSnapshot()
	asAlice.Caller = alice
	noCaller := baseSnapshot()
	noCaller.Caller = ""
	for _, tc := range []struct {
		name  string
		snap  runtime.Snapshot
		entry string
		args  []runtime.Value
		want  runtime.Value
	}{
		{"bob", baseSnapshot(), "who", nil, runtime.Did(bob)},
		{"alice", asAlice, "who", nil, runtime.Did(alice)},
		{"nobody", noCaller, "who", nil, runtime.Did("")},
		{"the proposer", asAlice, "may_withdraw", []runtime.Value{runtime.Did(carol)}, runtime.Bool(true)},
		{"a named member", baseSnapshot(), "may_withdraw", []runtime.Value{runtime.Did(bob)}, runtime.Bool(true)},
		{"another member", baseSnapshot(), "may_withdraw", []runtime.Value{runtime.Did(carol)}, runtime.Bool(false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := p.Call(context.Background(), tc.entry, freeze(t, tc.snap), tc.args...)
			if err != nil {
				t.Fatal(err)
			}
			if res.Value != tc.want {
				t.Errorf("%s%v = %q (%s), want %q", tc.entry, tc.args, res.Value, res.Value.Type, tc.want)
			}
		})
	}
}
