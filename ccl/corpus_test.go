package ccl_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/intercooperative-network/icn-go/ccl"
)

var update = flag.Bool("update", false, "rewrite testdata/corpus.golden")

// votes returns a vote map: option by DID, the DIDs made up.
func votes(options ...int64) map[string]int64 {
	m := map[string]int64{}
	for i, o := range options {
		m[fmt.Sprintf("did:key:z6MkVoter%d", i)] = o
	}
	return m
}

func members(n int) []string {
	var m []string
	for i := range n {
		m = append(m, fmt.Sprintf("did:key:z6MkMember%02d", i))
	}
	return m
}

// TestCorpus runs the programs of testdata/corpus (the kinds of policy the
// issue's acceptance corpus has) with their expected results.
func TestCorpus(t *testing.T) {
	e := newEngine(t)
	for _, tc := range []struct {
		file     string
		entry    string
		params   []uint64
		snap     snapshot
		want     uint64 // or, for a Did result, wantDid
		wantDid  string
		wantTrap ccl.TrapCode
		wantMsg  string
	}{
		{file: "mana_pricing", entry: "price", params: []uint64{1500, 128, 2000}, want: 9},
		{file: "mana_pricing", entry: "price", params: []uint64{0, 0, 0}, want: 1},
		{file: "mana_pricing", entry: "price", params: []uint64{999, 64, 1}, want: 4},
		{file: "mana_pricing", entry: "price", params: []uint64{i64(-1), 0, 0}, wantTrap: ccl.TrapRequireFailed, wantMsg: "negative resources"},
		{file: "mana_pricing", entry: "price", params: []uint64{1<<63 - 1, 1, 1}, wantTrap: ccl.TrapOverflow},

		{file: "supermajority_2_3", entry: "passes", snap: snapshot{members: members(6), votes: votes(1, 1, 2)}, want: 1},
		{file: "supermajority_2_3", entry: "passes", snap: snapshot{members: members(6), votes: votes(1, 2, 2)}, want: 0},
		{file: "supermajority_2_3", entry: "passes", snap: snapshot{members: members(7), votes: votes(1, 1)}, want: 0},
		{file: "supermajority_2_3", entry: "passes", snap: snapshot{members: members(3), votes: votes(3, 3, 3)}, want: 0},
		{file: "supermajority_2_3", entry: "vetoed", snap: snapshot{members: members(3), votes: votes(1, 4)}, want: 1},
		{file: "supermajority_2_3", entry: "vetoed", snap: snapshot{members: members(3), votes: votes(1, 2)}, want: 0},

		{file: "consent", entry: "passes", snap: snapshot{members: members(4), votes: votes(1, 3)}, want: 1},
		{file: "consent", entry: "passes", snap: snapshot{members: members(4), votes: votes(1, 2)}, want: 0},
		{file: "consent", entry: "passes", snap: snapshot{members: members(4), votes: votes(1)}, want: 0},
		{file: "consent", entry: "passes", snap: snapshot{members: members(4), votes: votes(3, 3)}, want: 0},

		{file: "rotating_council", entry: "seat", params: []uint64{0}, snap: snapshot{members: members(3), now: 65 * 86400}, wantDid: members(3)[2]},
		{file: "rotating_council", entry: "seat", params: []uint64{1}, snap: snapshot{members: members(3), now: 65 * 86400}, wantDid: members(3)[0]},
		{file: "rotating_council", entry: "seat", params: []uint64{0}, snap: snapshot{now: 65 * 86400}, wantTrap: ccl.TrapRequireFailed, wantMsg: "no members"},

		{file: "treasury_budget", entry: "passes", snap: snapshot{members: members(3), votes: votes(1), treasury: "did:key:t",
			balances: map[string]int64{"did:key:t": 1000}, params: map[string]int64{"amount": 50}}, want: 1},
		{file: "treasury_budget", entry: "passes", snap: snapshot{members: members(3), votes: votes(1, 1, 2), treasury: "did:key:t",
			balances: map[string]int64{"did:key:t": 1000}, params: map[string]int64{"amount": 500}}, want: 1},
		{file: "treasury_budget", entry: "passes", snap: snapshot{members: members(4), votes: votes(1, 1, 1), treasury: "did:key:t",
			balances: map[string]int64{"did:key:t": 2000}, params: map[string]int64{"amount": 1000}}, want: 1},
		{file: "treasury_budget", entry: "passes", snap: snapshot{members: members(4), votes: votes(1, 1, 1, 2), treasury: "did:key:t",
			balances: map[string]int64{"did:key:t": 2000}, params: map[string]int64{"amount": 1000}}, want: 0},
		{file: "treasury_budget", entry: "passes", snap: snapshot{treasury: "did:key:t", balances: map[string]int64{"did:key:t": 1000},
			params: map[string]int64{"amount": 5000}}, wantTrap: ccl.TrapRequireFailed, wantMsg: "the treasury cannot pay"},
		{file: "treasury_budget", entry: "passes", snap: snapshot{params: map[string]int64{"amount": 0}},
			wantTrap: ccl.TrapRequireFailed, wantMsg: "amount must be positive"},
		{file: "treasury_budget", entry: "passes", wantTrap: ccl.TrapMissingParam},

		{file: "eligibility", entry: "eligible", params: []uint64{0}, snap: snapshot{members: []string{alice, bob}, args: []string{alice},
			balances: map[string]int64{alice: 10, bob: 5}, reputation: map[string]int64{alice: 5, bob: 9}}, want: 1},
		{file: "eligibility", entry: "eligible", params: []uint64{0}, snap: snapshot{members: []string{alice, bob}, args: []string{bob},
			balances: map[string]int64{alice: 10, bob: 5}, reputation: map[string]int64{alice: 5, bob: 9}}, want: 0},
		{file: "eligibility", entry: "eligible", params: []uint64{0}, snap: snapshot{members: []string{bob}, args: []string{alice},
			balances: map[string]int64{alice: 10}, reputation: map[string]int64{alice: 5}}, want: 0},

		{file: "loops", entry: "run", want: 5530},
	} {
		t.Run(tc.file+"/"+tc.entry, func(t *testing.T) {
			src, err := os.ReadFile(filepath.Join("testdata", "corpus", tc.file+".ccl"))
			if err != nil {
				t.Fatal(err)
			}
			out := mustCompile(t, string(src))
			s := tc.snap
			r, err := call(t, e, out, &s, tc.entry, tc.params...)
			code, msg, _ := trapOf(err)
			switch {
			case tc.wantTrap != 0:
				if code != tc.wantTrap || msg != tc.wantMsg {
					t.Fatalf("got %v, %v; want trap %s %q", r.Results, err, tc.wantTrap, tc.wantMsg)
				}
			case err != nil:
				t.Fatal(err)
			case tc.wantDid != "":
				if s.result != tc.wantDid {
					t.Fatalf("%s = %q, want %q", tc.entry, s.result, tc.wantDid)
				}
			case len(r.Results) != 1 || r.Results[0] != tc.want:
				t.Fatalf("%s = %v, want %d", tc.entry, r.Results, tc.want)
			}
		})
	}
}

// TestDeterminism compiles every corpus program twice and compares the
// bytes, and against the hashes recorded in testdata/corpus.golden (so a
// change of output on another machine, or in another process, fails too).
// An intended change of output must change ccl.Version; then run
// go test ./ccl -run Determinism -update.
func TestDeterminism(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "corpus", "*.ccl"))
	if err != nil || len(files) == 0 {
		t.Fatal(files, err)
	}
	var golden strings.Builder
	fmt.Fprintf(&golden, "version %s\n", ccl.Version)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		a := mustCompile(t, string(src))
		b := mustCompile(t, string(src))
		if !bytes.Equal(a.WASM, b.WASM) {
			t.Errorf("%s: two compilations differ", f)
		}
		sum := sha256.Sum256(a.WASM)
		fmt.Fprintf(&golden, "%s %s\n", filepath.Base(f), hex.EncodeToString(sum[:]))
	}
	path := filepath.Join("testdata", "corpus.golden")
	if *update {
		if err := os.WriteFile(path, []byte(golden.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if golden.String() != string(want) {
		first, _, _ := strings.Cut(string(want), "\n")
		if first == "version "+ccl.Version {
			t.Errorf("the output changed but ccl.Version did not: bump it, then go test -run Determinism -update\ngot:\n%swant:\n%s", golden.String(), want)
		} else {
			t.Errorf("the output differs from %s:\ngot:\n%swant:\n%s", path, golden.String(), want)
		}
	}
}
