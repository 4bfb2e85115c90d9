package ccl_test

import (
	"errors"
	"math"
	"slices"
	"testing"

	"github.com/intercooperative-network/icn-go/ccl"
	"github.com/intercooperative-network/icn-go/services/wasm"
)

const (
	alice = "did:key:z6MkAlice"
	bob   = "did:key:z6MkBob"
	carol = "did:key:z6MkCarol"
)

func i64(v int64) uint64 { return uint64(v) }

// TestRun compiles programs and runs them under the engine (fuel metering
// included) with the fake host: results and traps.
func TestRun(t *testing.T) {
	e := newEngine(t)
	snap := func() *snapshot {
		return &snapshot{
			members:    []string{alice, bob, carol},
			votes:      map[string]int64{alice: 1, bob: 2},
			now:        1_700_000_000,
			created:    1_699_900_000,
			ends:       1_700_086_400,
			proposer:   alice,
			caller:     bob,
			treasury:   "did:key:z6MkTreasury",
			params:     map[string]int64{"amount": 250},
			balances:   map[string]int64{alice: 40, bob: 5, "did:key:z6MkTreasury": 1000},
			reputation: map[string]int64{alice: 9, bob: 9},
		}
	}
	for _, tc := range []struct {
		name     string
		src      string
		fn       string   // default run
		params   []uint64 // Did and String parameters are indices into args
		args     []string
		want     uint64
		wantTrap ccl.TrapCode
		wantMsg  string
	}{
		{name: "nested while", src: `fn run() -> Integer {
	let total = 0;
	let i = 1;
	while i <= 3 {
		let j = 1;
		while j <= 3 {
			total = total + i * j;
			j = j + 1;
		}
		i = i + 1;
	}
	return total;
}`, want: 36},
		{name: "for over a literal", src: `fn run() -> Integer {
	let s = 0;
	for x in [1, 2, 3, 4] { s = s + x; }
	return s;
}`, want: 10},
		{name: "for over a computed array", src: `fn run() -> Integer {
	let a = 5;
	let xs = [a, a * 2, -a, len([7, 8])];
	let s = 0;
	for x in xs { s = s * 10 + x; }
	return s + len(xs);
}`, want: i64(((5*10+10)*10-5)*10 + 2 + 4)},
		{name: "index and len", src: `const PRIMES: Array<Integer> = [2, 3, 5, 7, 11];
fn run() -> Integer {
	let i = 0;
	let s = 0;
	while i < len(PRIMES) {
		s = s + PRIMES[i] * PRIMES[len(PRIMES) - 1 - i];
		i = i + 1;
	}
	return s;
}`, want: 2*11 + 3*7 + 5*5 + 7*3 + 11*2},
		{name: "empty array", src: `fn run() -> Integer {
	let a: Array<Integer> = [];
	let n = 0;
	for x in a { n = n + 1; }
	return n + len(a);
}`, want: 0},
		{name: "recursion", src: `fn fib(n: Integer) -> Integer {
	if n < 2 { return n; }
	return fib(n - 1) + fib(n - 2);
}
fn run() -> Integer { return fib(20); }`, want: 6765},
		{name: "forward and mutual calls", src: `fn run() -> Integer { return later(2) + b2i(even(10)) * 100 + b2i(even(7)) * 1000; }
fn later(x: Integer) -> Integer { return x * 21; }
fn even(n: Integer) -> Bool { if n == 0 { return true; } return odd(n - 1); }
fn odd(n: Integer) -> Bool { if n == 0 { return false; } return even(n - 1); }
fn b2i(b: Bool) -> Integer { if b { return 1; } return 0; }`, want: 142},
		{name: "blocks and scopes", src: `fn run() -> Integer {
	let a = 1;
	{ let b = 2; a = a + b; }
	{ let b = 30; a = a + b; }
	if a > 0 { let c = 100; a = a + c; } else { let c = 1000; a = a + c; }
	for c in [1000] { a = a + c; }
	return a;
}`, want: 1133},
		{name: "else if chain", src: `fn grade(x: Integer) -> Integer {
	if x >= 90 { return 4; } else if x >= 80 { return 3; } else if x >= 70 { return 2; } else { return 0; }
}
fn run() -> Integer { return grade(95) * 1000 + grade(85) * 100 + grade(75) * 10 + grade(5); }`, want: 4320},
		{name: "short circuit", src: `fn boom() -> Bool { require(false, "evaluated"); return true; }
fn run() -> Integer {
	let n = 0;
	if false && boom() { n = n + 1; }
	if true || boom() { n = n + 10; }
	if !(1 > 2) && (2 >= 2 || boom()) { n = n + 100; }
	return n;
}`, want: 110},
		{name: "precedence", src: `fn run() -> Integer { return 2 + 3 * 4 - 10 / 3 % 2 - -1; }`, want: 2 + 3*4 - 10/3%2 + 1},
		{name: "negative literals and division", src: `const MIN: Integer = -9223372036854775808;
fn run() -> Integer {
	require(MIN % -1 == 0);
	require(-7 / 2 == -3 && -7 % 2 == -1, "truncated division");
	require(MIN + 1 < 0 && -(MIN + 1) == 9223372036854775807);
	return MIN / 2;
}`, want: i64(math.MinInt64 / 2)},
		{name: "call statement", src: `fn check(x: Integer) -> Bool { require(x > 0, "positive"); return true; }
fn run() -> Integer { check(3); check(1); return 7; }`, want: 7},
		{name: "timestamps and durations", src: `const WEEK: Duration = 7 days;
fn run() -> Integer {
	let left = voting_ends() - now();
	require(left == 24 hours, "one day left");
	require(now() + left == voting_ends() && voting_ends() - left == now());
	require(now() - proposal_created() < WEEK);
	require(2 * WEEK == WEEK * 2 && WEEK / 7 == 1 days && WEEK % 2 days == 1 days);
	require(30 minutes + 30 minutes == 1 hours && 1 hours - 60 seconds == 59 minutes);
	require(-WEEK < 0 seconds);
	return (now() / 1 days) * 1000 + (now() % 1 days) / 1 hours;
}`, want: (1_700_000_000/86400)*1000 + (1_700_000_000%86400)/3600},
		{name: "strings and params", src: `fn key() -> String { return "amount"; }
fn run() -> Integer {
	require("abc" == "abc" && "abc" != "abd" && "" != "a", "string equality");
	let s = "amount";
	require(s == key());
	return proposal_param(s) + proposal_param("amount");
}`, want: 500},
		{name: "dids", src: `const ADMINS: Array<Did> = [did:key:z6MkAlice, did:key:z6MkBob];
const ALICE: Did = did:key:z6MkAlice;
fn run() -> Integer {
	require(proposer() == ALICE && caller() != ALICE, "proposer and caller");
	require(member_at(0) == ALICE && member_at(2) == did:key:z6MkCarol);
	require(ADMINS[1] == caller() && len(ADMINS) == 2);
	let found = 0;
	for d in [member_at(2), member_at(1), did:web:example.com] {
		if is_member(d) { found = found + 1; }
	}
	let total = 0;
	let i = 0;
	while i < member_count() {
		total = total + balance_of(member_at(i)) + reputation_of(member_at(i)) * 1000 + vote_of(member_at(i)) * 100000;
		i = i + 1;
	}
	return found * 1000000 + total;
}`, want: 2*1000000 + 45 + 18*1000 + 3*100000},
		{name: "treasury", src: `fn run() -> Integer { return balance_of(treasury()) + votes_cast() + vote_count(1) * 10 + vote_count(4) * 100; }`,
			want: 1000 + 2 + 10},
		{name: "policy with a Did parameter", fn: "eligible", params: []uint64{0}, args: []string{alice},
			src: `policy eligible(voter: Did) -> Bool {
	return is_member(voter) && balance_of(voter) >= 10 && reputation_of(voter) >= 5;
}`, want: 1},
		{name: "policy with a Did parameter, not eligible", fn: "eligible", params: []uint64{0}, args: []string{bob},
			src: `policy eligible(voter: Did) -> Bool {
	return is_member(voter) && balance_of(voter) >= 10 && reputation_of(voter) >= 5;
}`, want: 0},
		{name: "policy with mixed parameters", fn: "score", params: []uint64{7, 0, 0, 1}, args: []string{alice, "amount"},
			src: `policy score(k: Integer, who: Did, flag: Bool, key: String) -> Integer {
	if flag { return 0; }
	require(who == did:key:z6MkAlice && who == proposer(), "alice");
	require(who == did:key:z6MkBob == false, "not bob");
	return k * proposal_param(key);
}`, want: 1750},

		// Traps.
		{name: "max + 1", src: `fn run() -> Integer { let x = 9223372036854775807; return x + 1; }`, wantTrap: ccl.TrapOverflow},
		{name: "min - 1", src: `fn run() -> Integer { let x = -9223372036854775807; return x - 1 - 1; }`, wantTrap: ccl.TrapOverflow},
		{name: "min / -1", src: `fn run() -> Integer { let x = -9223372036854775808; let y = -1; return x / y; }`, wantTrap: ccl.TrapOverflow},
		{name: "-min", src: `fn run() -> Integer { let x = -9223372036854775808; return -x; }`, wantTrap: ccl.TrapOverflow},
		{name: "max * 2", src: `fn run() -> Integer { let x = 4611686018427387904; return x * 2; }`, wantTrap: ccl.TrapOverflow},
		{name: "min * -1", src: `fn run() -> Integer { let x = -9223372036854775808; return x * -1; }`, wantTrap: ccl.TrapOverflow},
		{name: "-1 * min", src: `fn run() -> Integer { let x = -9223372036854775808; return -1 * x; }`, wantTrap: ccl.TrapOverflow},
		{name: "large products", src: `fn run() -> Integer { let x = 3037000499; require(x * x == 9223372030926249001); return (x + 1) * (x + 1); }`,
			wantTrap: ccl.TrapOverflow},
		{name: "duration overflow", src: `fn run() -> Integer { let d = 106751991167300 days; return (d * 2) / 1 seconds; }`, wantTrap: ccl.TrapOverflow},
		{name: "division by zero", src: `fn run() -> Integer { let x = 0; return 1 / x; }`, wantTrap: ccl.TrapDivideByZero},
		{name: "remainder by zero", src: `fn run() -> Integer { let x = 0; return 1 % x; }`, wantTrap: ccl.TrapDivideByZero},
		{name: "index past the end", src: `fn run() -> Integer { let a = [1, 2, 3, 4]; return a[4]; }`, wantTrap: ccl.TrapIndexOutOfBounds},
		{name: "negative index", src: `fn run() -> Integer { let i = -1; return [1, 2][i]; }`, wantTrap: ccl.TrapIndexOutOfBounds},
		{name: "huge index", src: `fn run() -> Integer { let i = 4294967296; return [1, 2][i]; }`, wantTrap: ccl.TrapIndexOutOfBounds},
		{name: "Did index", src: `fn run() -> Integer { let a = [caller()]; return vote_of(a[1]); }`, wantTrap: ccl.TrapIndexOutOfBounds},
		{name: "require with a message", src: `fn run() -> Integer { require(member_count() > 5, "quorum not met"); return 1; }`,
			wantTrap: ccl.TrapRequireFailed, wantMsg: "quorum not met"},
		{name: "require without a message", src: `fn run() -> Integer { require(false); return 1; }`, wantTrap: ccl.TrapRequireFailed},
		{name: "host: member out of range", src: `fn run() -> Integer { return vote_of(member_at(3)); }`, wantTrap: ccl.TrapIndexOutOfBounds},
		{name: "host: missing param", src: `fn run() -> Integer { return proposal_param("budget"); }`, wantTrap: ccl.TrapMissingParam},
		{name: "memory limit", src: `fn run() -> Integer {
	let i = 0;
	while true {
		let a = [i, i, i, i, i, i, i, i];
		i = i + len(a);
	}
}`, wantTrap: ccl.TrapMemoryLimit},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := mustCompile(t, tc.src)
			fn := tc.fn
			if fn == "" {
				fn = "run"
			}
			s := snap()
			s.args = tc.args
			r, err := call(t, e, out, s, fn, tc.params...)
			code, msg, trapped := trapOf(err)
			switch {
			case tc.wantTrap != 0:
				if !trapped || code != tc.wantTrap || msg != tc.wantMsg {
					t.Fatalf("got %v, %v; want trap %s %q", r.Results, err, tc.wantTrap, tc.wantMsg)
				}
				if !errors.Is(err, wasm.ErrTrap) {
					t.Errorf("a trap that is not wasm.ErrTrap: %v", err)
				}
			case err != nil:
				t.Fatal(err)
			case len(r.Results) != 1 || r.Results[0] != tc.want:
				t.Fatalf("%s = %v, want %d", fn, r.Results, int64(tc.want))
			}
		})
	}
}

func TestDidResult(t *testing.T) {
	e := newEngine(t)
	out := mustCompile(t, `const TERM: Duration = 30 days;
policy seat(index: Integer) -> Did {
	let count = member_count();
	require(count > 0, "no members");
	let cycle = now() / TERM;
	return member_at((cycle + index) % count);
}
policy greeting() -> String { return "hello"; }`)
	members := []string{alice, bob, carol}
	for _, tc := range []struct {
		now   int64
		index int64
		want  string
	}{
		{0, 0, alice}, {0, 2, carol}, {30 * 86400, 0, bob}, {30*86400 - 1, 1, bob}, {90 * 86400, 1, bob},
	} {
		s := &snapshot{members: members, now: tc.now}
		r, err := call(t, e, out, s, "seat", i64(tc.index))
		if err != nil {
			t.Fatal(err)
		}
		if s.result != tc.want || len(r.Results) != 1 || r.Results[0] != uint64(len(tc.want)) {
			t.Errorf("seat(%d) at %d = %q (%v), want %q", tc.index, tc.now, s.result, r.Results, tc.want)
		}
	}
	_, err := call(t, e, out, &snapshot{}, "seat", 0)
	if code, msg, _ := trapOf(err); code != ccl.TrapRequireFailed || msg != "no members" {
		t.Errorf("no members: %v", err)
	}
	s := &snapshot{}
	if r, err := call(t, e, out, s, "greeting"); err != nil || s.result != "hello" || r.Results[0] != 5 {
		t.Errorf("greeting: %q %v %v", s.result, r.Results, err)
	}
}

func TestFuelExhausted(t *testing.T) {
	e := newEngine(t)
	out := mustCompile(t, `fn run() -> Integer { while true { } }`)
	var used []uint64
	for range 2 {
		r, err := call(t, e, out, nil, "run")
		if !errors.Is(err, wasm.ErrOutOfFuel) {
			t.Fatalf("while true: %v", err)
		}
		used = append(used, r.FuelUsed)
	}
	if used[0] != used[1] || used[0] < 10_000_000 {
		t.Errorf("fuel used %v: want the same twice, at least the limit", used)
	}
}

func TestManifest(t *testing.T) {
	for _, tc := range []struct {
		src     string
		imports []string
	}{
		{`fn run() -> Integer { return 1; }`, nil},
		{`fn run() -> Integer { return 1 + 1; }`, []string{"trap"}},
		{`policy passes() -> Bool { return now() > proposal_created(); }`, []string{"now", "proposal_created"}},
		{`policy eligible(voter: Did) -> Bool { return is_member(voter); }`, []string{"is_member", "trap", "arg"}},
		{`policy seat(i: Integer) -> Did { return member_at(i); }`, []string{"member_at", "trap", "result"}},
	} {
		out := mustCompile(t, tc.src)
		if !slices.Equal(out.Imports, tc.imports) {
			t.Errorf("%s\nimports %v, want %v", tc.src, out.Imports, tc.imports)
		}
	}
	out := mustCompile(t, `fn helper(x: Integer) -> Integer { return x; }
policy price(cpu_millis: Integer, memory_mb: Mana, duration_ms: Integer) -> Mana { return helper(cpu_millis); }
policy eligible(voter: Did) -> Boolean { return true; }
fn run() -> Integer { return 0; }`)
	var names []string
	for _, ex := range out.Exports {
		names = append(names, ex.Name)
	}
	if !slices.Equal(names, []string{"price", "eligible", "run"}) {
		t.Fatalf("exports %v", names)
	}
	price := out.Exports[0]
	if len(price.Params) != 3 || price.Params[1] != (ccl.Param{Name: "memory_mb", Type: ccl.Integer}) || price.Result != ccl.Integer ||
		len(price.WasmParams) != 3 || len(price.WasmResults) != 1 {
		t.Errorf("price: %+v", price)
	}
	if el := out.Exports[1]; el.Params[0].Type != ccl.Did || el.Result != ccl.Bool {
		t.Errorf("eligible: %+v", el)
	}
}

// TestHostTable checks the table the runtime links against: every
// function has a WebAssembly signature, and names are unique.
func TestHostTable(t *testing.T) {
	seen := map[string]bool{}
	for _, h := range ccl.HostFuncs() {
		if seen[h.Name] || h.Doc == "" {
			t.Errorf("%s: duplicate or undocumented", h.Name)
		}
		seen[h.Name] = true
		if !h.Internal && len(h.WasmResults) != 1 {
			t.Errorf("%s: results %v", h.Name, h.WasmResults)
		}
		if g, ok := ccl.LookupHost(h.Name); !ok || g.Name != h.Name {
			t.Errorf("LookupHost(%s)", h.Name)
		}
	}
	for _, name := range []string{"member_count", "member_at", "is_member", "vote_count", "votes_cast", "vote_of", "now",
		"proposal_created", "voting_ends", "proposer", "caller", "proposal_param", "balance_of", "reputation_of", "treasury"} {
		if h, ok := ccl.LookupHost(name); !ok || h.Internal {
			t.Errorf("the issue's host function %s is missing", name)
		}
	}
	if _, ok := ccl.LookupHost("fd_write"); ok {
		t.Error("LookupHost found fd_write")
	}
}
