package governance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/intercooperative-network/icn-go/ccl"
	"github.com/intercooperative-network/icn-go/ccl/runtime"
	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/supervisors"
)

const corpusDir = "../../examples/ccl"

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func readCorpusFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// format writes a result as the corpus table does.
func format(r *messages.EvalResult) string {
	switch r.Type {
	case "Integer", "Timestamp", "Duration":
		return strconv.FormatInt(r.Int, 10)
	case "Bool":
		return strconv.FormatBool(r.Bool)
	}
	return r.Str
}

func TestStatusAnswers(t *testing.T) {
	n := startNode(t)
	st, err := supervisors.Ask[*messages.SubsystemStatus](context.Background(), n.tree, Name, &messages.StatusRequest{})
	if err != nil || st.Name != Name || !st.Ready || !st.Since.Equal(t0) {
		t.Fatalf("status: %+v, %v", st, err)
	}
}

// TestCorpusPublishedAndEvaluated publishes every program of the
// acceptance corpus and evaluates every row of its table through the
// actor: the answers are the table's.
func TestCorpusPublishedAndEvaluated(t *testing.T) {
	n := startNode(t)
	published := map[string]*messages.ContractInfo{}
	for _, row := range readCorpus(t) {
		if strings.HasPrefix(row.file, "(hand-made)") {
			continue // modules with no source cannot be published
		}
		t.Run(fmt.Sprintf("%d_%s_%s", row.line, row.file, row.entry), func(t *testing.T) {
			src := readCorpusFile(t, row.file)
			if want, ok := strings.CutPrefix(row.expected, "error "); ok {
				_, err := n.request(&messages.PublishContract{Filename: row.file, Source: []byte(src)})
				ce, isCE := errors.AsType[*messages.CompileError](err)
				if !isCE || len(ce.Errors) == 0 || ce.Errors[0].String() != want || !errors.Is(err, messages.ErrCompile) {
					t.Fatalf("publish: %v, want the first error %s", err, want)
				}
				return
			}
			info, ok := published[row.file]
			if !ok {
				info = n.publish(t, row.file, src)
				published[row.file] = info
				got, err := supervisors.Ask[*messages.ContractInfo](context.Background(), n.tree, Name, &messages.GetContract{CID: info.Manifest})
				if err != nil || fmt.Sprint(got) != fmt.Sprint(info) {
					t.Fatalf("get: %+v, %v; published %+v", got, err, info)
				}
			}
			var snap []byte
			if row.snapshot != "" {
				snap = []byte(readCorpusFile(t, filepath.Join("snapshots", row.snapshot)))
			}
			var args []string
			if row.args != "" {
				args = strings.Split(row.args, ", ")
			}
			res, err := n.request(&messages.EvalContract{CID: info.Manifest, Entry: row.entry, Args: args, Snapshot: snap})
			if want, ok := strings.CutPrefix(row.expected, "trap "); ok {
				tr, isTrap := errors.AsType[*messages.ContractTrap](err)
				got := ""
				if isTrap {
					got = tr.Kind
					if tr.Message != "" {
						got += ": " + tr.Message
					}
				}
				if got != want {
					t.Fatalf("eval: %v, %v; want trap %s", res, err, want)
				}
				return
			}
			r, isResult := res.(*messages.EvalResult)
			if err != nil || !isResult || format(r) != row.expected || r.FuelUsed == 0 {
				t.Fatalf("eval: %+v, %v; want %s", res, err, row.expected)
			}
		})
	}
}

func TestPublishStoresThreeBlocksAndIsIdempotent(t *testing.T) {
	n := startNode(t)
	src := readCorpusFile(t, "mana_pricing.ccl")
	info := n.publish(t, "mana_pricing.ccl", src)
	out, err := ccl.Compile("x.ccl", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	sb, wb, mb, _, err := ccl.Pack([]byte(src), out)
	if err != nil {
		t.Fatal(err)
	}
	if !info.Manifest.Equals(mb.CID()) || !info.Source.Equals(sb.CID()) || !info.WASM.Equals(wb.CID()) ||
		info.CompilerVersion != ccl.Version || fmt.Sprint(info.Imports) != "[trap]" ||
		fmt.Sprint(info.Entries) != "[{price [Integer Integer Integer] Integer}]" {
		t.Fatalf("info: %+v", info)
	}
	for _, b := range []block.Block{sb, wb, mb} {
		r, err := supervisors.Ask[*messages.GetBlockReply](context.Background(), n.tree, dagName, &messages.GetBlock{CID: b.CID()})
		if err != nil || !block.Equal(r.Block, b) {
			t.Fatalf("block %s: %v", b.CID(), err)
		}
	}
	// The manifest, as stored, links the two others.
	links, err := block.Links(mb)
	if err != nil || len(links) != 2 {
		t.Fatalf("links: %v, %v", links, err)
	}
	// The same source (under any file name) is the same contract.
	if again := n.publish(t, "other.ccl", src); fmt.Sprint(again) != fmt.Sprint(info) {
		t.Fatalf("again: %+v, first %+v", again, info)
	}
}

func TestCompileErrorsArePositioned(t *testing.T) {
	n := startNode(t)
	_, err := n.request(&messages.PublishContract{Filename: "bad.ccl", Source: []byte("fn run() -> Integer {\n\tlet x = true;\n\treturn x\n}\n")})
	ce, ok := errors.AsType[*messages.CompileError](err)
	if !ok || !errors.Is(err, messages.ErrCompile) {
		t.Fatalf("publish: %v", err)
	}
	if len(ce.Errors) == 0 || ce.Errors[0].File != "bad.ccl" || ce.Errors[0].Line != 3 || ce.Errors[0].Col != 10 ||
		ce.Errors[0].Message != "expected ';' after the return statement, found '}'" {
		t.Fatalf("errors: %+v", ce.Errors)
	}
	// The compiler's own list is still there, within the node.
	if list, ok := errors.AsType[ccl.ErrorList](err); !ok || list[0].Pos.Line != ce.Errors[0].Line {
		t.Fatalf("no ccl.ErrorList in %v", err)
	}
}

// store puts blocks straight into the dag, bypassing publish.
func (n *node) store(t *testing.T, bs ...block.Block) {
	t.Helper()
	if _, err := n.tree.Request(context.Background(), dagName, &messages.PutBlocks{Blocks: bs}); err != nil {
		t.Fatal(err)
	}
}

func TestTamperedContractsAreRefused(t *testing.T) {
	n := startNode(t)
	src := []byte(readCorpusFile(t, "mana_pricing.ccl"))
	out, err := ccl.Compile("mana_pricing.ccl", src)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ccl.Compile("o.ccl", []byte(`policy price(a: Integer, b: Integer, c: Integer) -> Mana { return 0; }`))
	if err != nil {
		t.Fatal(err)
	}
	sb, wb, _, good, err := ccl.Pack(src, out)
	if err != nil {
		t.Fatal(err)
	}
	ob, err := block.NewRaw(other.WASM)
	if err != nil {
		t.Fatal(err)
	}
	n.store(t, sb, wb, ob)
	for _, tc := range []struct {
		name   string
		change func(m *ccl.Manifest)
	}{
		{"other module", func(m *ccl.Manifest) { m.WASM = block.LinkTo(ob.CID()) }},
		{"other compiler", func(m *ccl.Manifest) { m.CompilerVersion = "ccl-go/0.9.0" }},
		{"other entries", func(m *ccl.Manifest) { m.Entries[0].Result = "Bool" }},
		{"other imports", func(m *ccl.Manifest) { m.Imports = []string{"now"} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := ccl.Describe(out)
			m.Source, m.WASM = good.Source, good.WASM
			tc.change(&m)
			mb, err := block.Encode(m)
			if err != nil {
				t.Fatal(err)
			}
			n.store(t, mb)
			_, err = n.request(&messages.EvalContract{CID: mb.CID(), Entry: "price", Args: []string{"1", "1", "1"}})
			if !errors.Is(err, messages.ErrContractMismatch) {
				t.Fatalf("eval: %v, want ErrContractMismatch", err)
			}
		})
	}
	// The untampered manifest, stored by hand, evaluates (cold: read,
	// recompiled and checked).
	mb, err := block.Encode(good)
	if err != nil {
		t.Fatal(err)
	}
	n.store(t, mb)
	res, err := n.request(&messages.EvalContract{CID: mb.CID(), Entry: "price", Args: []string{"1500", "128", "2000"}})
	if r, ok := res.(*messages.EvalResult); err != nil || !ok || r.Int != 9 || r.Type != "Integer" {
		t.Fatalf("eval: %+v, %v", res, err)
	}
}

func TestEveryTrapKindIsTyped(t *testing.T) {
	n := startNode(t)
	big := startNode(t, runtime.WithFuel(100_000_000)) // memory runs out after the default fuel
	snap := []byte(`{"members": ["did:key:z6MkA"], "now": 1}`)
	for _, tc := range []struct {
		kind ccl.TrapCode
		msg  string
		src  string
		node *node
	}{
		{ccl.TrapRequireFailed, "no", `fn run() -> Integer { require(false, "no"); return 1; }`, n},
		{ccl.TrapOverflow, "", `fn run() -> Integer { let x = 9223372036854775807; return x + 1; }`, n},
		{ccl.TrapDivideByZero, "", `fn run() -> Integer { let x = 0; return 7 / x; }`, n},
		{ccl.TrapIndexOutOfBounds, "member_at(3) with 1 members", `fn run() -> Integer { return vote_of(member_at(3)); }`, n},
		{ccl.TrapMissingParam, "budget", `fn run() -> Integer { return proposal_param("budget"); }`, n},
		{ccl.TrapFuelExhausted, "", `fn run() -> Integer { while true { } }`, n},
		{ccl.TrapMemoryLimit, "", `fn run() -> Integer {
	let i = 0;
	while true {
		let a = [i, i, i, i, i, i, i, i];
		i = i + len(a);
	}
}`, big},
	} {
		t.Run(tc.kind.String(), func(t *testing.T) {
			info := tc.node.publish(t, tc.kind.String()+".ccl", tc.src)
			_, err := tc.node.request(&messages.EvalContract{CID: info.Manifest, Entry: "run", Snapshot: snap})
			ct, ok := errors.AsType[*messages.ContractTrap](err)
			if !ok || ct.Kind != tc.kind.String() || ct.Message != tc.msg || ct.FuelUsed == 0 || !errors.Is(err, messages.ErrContractTrap) {
				t.Fatalf("eval: %v, want trap %s %q", err, tc.kind, tc.msg)
			}
			if rt, ok := errors.AsType[*runtime.Trap](err); !ok || rt.Kind != tc.kind {
				t.Fatalf("no *runtime.Trap of kind %s in %v", tc.kind, err)
			}
		})
	}
}

func TestEvalRefusals(t *testing.T) {
	n := startNode(t)
	info := n.publish(t, "eligibility.ccl", readCorpusFile(t, "eligibility.ccl"))
	raw, err := block.NewRaw([]byte("not a manifest"))
	if err != nil {
		t.Fatal(err)
	}
	notManifest, err := block.Encode(map[string]any{"hello": "world"})
	if err != nil {
		t.Fatal(err)
	}
	n.store(t, raw, notManifest)
	missing, err := block.Encode(map[string]any{"missing": true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		msg  any
		want error
	}{
		{"no such block", &messages.GetContract{CID: missing.CID()}, messages.ErrUnknownContract},
		{"raw block", &messages.GetContract{CID: raw.CID()}, messages.ErrUnknownContract},
		{"not a manifest", &messages.EvalContract{CID: notManifest.CID(), Entry: "eligible"}, messages.ErrUnknownContract},
		{"undefined", &messages.GetContract{CID: cid.Undef}, messages.ErrUnknownContract},
		{"no entry point", &messages.EvalContract{CID: info.Manifest, Entry: "passes"}, messages.ErrNoEntryPoint},
		{"too few args", &messages.EvalContract{CID: info.Manifest, Entry: "eligible"}, messages.ErrBadArguments},
		{"not a did", &messages.EvalContract{CID: info.Manifest, Entry: "eligible", Args: []string{"alice"}}, messages.ErrBadArguments},
		{"bad snapshot", &messages.EvalContract{CID: info.Manifest, Entry: "eligible", Args: []string{"did:key:z6MkA"},
			Snapshot: []byte(`{"members": 3}`)}, messages.ErrBadSnapshot},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := n.request(tc.msg); !errors.Is(err, tc.want) {
				t.Fatalf("%T: %v, want %v", tc.msg, err, tc.want)
			}
		})
	}
}

// TestARestartedActorRecompilesFromTheDag: the cache does not survive a
// restart; the contract is read back, checked, and evaluates the same.
func TestARestartedActorRecompilesFromTheDag(t *testing.T) {
	n := startNode(t)
	info := n.publish(t, "loops_arrays.ccl", readCorpusFile(t, "loops_arrays.ccl"))
	eval := func() *messages.EvalResult {
		t.Helper()
		r, err := supervisors.Ask[*messages.EvalResult](context.Background(), n.tree, Name, &messages.EvalContract{CID: info.Manifest, Entry: "run"})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	warm := eval()
	if err := n.tree.Kill(context.Background(), Name, supervisors.KillPanic); err != nil {
		t.Fatal(err)
	}
	var cold *messages.EvalResult
	for i := 0; ; i++ {
		st, err := supervisors.Ask[*messages.SubsystemStatus](context.Background(), n.tree, Name, &messages.StatusRequest{})
		if err == nil && st.Details["contracts_cached"] == "0" {
			cold = eval()
			break
		}
		if i > 10_000 {
			t.Fatalf("governance not back: %v", err)
		}
	}
	if *cold != *warm || cold.Int != 5530 {
		t.Fatalf("cold %+v, warm %+v", cold, warm)
	}
}
