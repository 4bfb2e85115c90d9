package runtime

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/tetratelabs/wazero"

	"github.com/intercooperative-network/icn-go/ccl"
)

// The benchmarks of docs/benchmarks.md, "CCL (issue 8)":
//
//	go test -run '^$' -bench . -benchtime 2s -count 3 ./ccl/runtime/

// BenchmarkCompileCorpus compiles every program of examples/ccl.
func BenchmarkCompileCorpus(b *testing.B) {
	files, err := filepath.Glob("../../examples/ccl/*.ccl")
	if err != nil || len(files) == 0 {
		b.Fatal(files, err)
	}
	srcs := make([][]byte, len(files))
	size := 0
	for i, f := range files {
		if srcs[i], err = os.ReadFile(f); err != nil {
			b.Fatal(err)
		}
		size += len(srcs[i])
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	for b.Loop() {
		for i, src := range srcs {
			if _, err := ccl.Compile(files[i], src); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(len(files))/1e3, "µs/file")
}

const benchPolicy = `policy passes() -> Bool {
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

func benchSnapshot(b *testing.B, n int) *Frozen {
	s := Snapshot{Votes: map[string]Vote{}}
	for i := range n {
		d := fmt.Sprintf("did:key:z6MkMember%04d", i)
		s.Members = append(s.Members, d)
		if i%4 != 3 {
			s.Votes[d] = VoteYes
		} else if i%8 == 3 {
			s.Votes[d] = VoteNo
		}
	}
	f, err := s.Freeze()
	if err != nil {
		b.Fatal(err)
	}
	return f
}

// BenchmarkPasses1000 is a warm evaluation of a 2/3 supermajority's
// passes on a 1,000-member snapshot (the module compiled and cached);
// counted walks all 1,000 members through member_at and vote_of.
func BenchmarkPasses1000(b *testing.B) {
	for _, entry := range []string{"passes", "counted"} {
		b.Run(entry, func(b *testing.B) {
			r, err := New()
			if err != nil {
				b.Fatal(err)
			}
			defer func() { _ = r.Close(context.Background()) }()
			p, err := r.Compile("bench.ccl", []byte(benchPolicy))
			if err != nil {
				b.Fatal(err)
			}
			snap := benchSnapshot(b, 1000)
			ctx := context.Background()
			if _, err := p.Call(ctx, entry, snap); err != nil { // warm the cache
				b.Fatal(err)
			}
			b.ReportAllocs()
			var fuel uint64
			for b.Loop() {
				res, err := p.Call(ctx, entry, snap)
				if err != nil {
					b.Fatal(err)
				}
				fuel = res.FuelUsed
			}
			b.ReportMetric(float64(fuel), "fuel/op")
		})
	}
}

const loopSrc = `fn run() -> Integer {
	let s = 0;
	let i = 0;
	while i < 10000000 {
		s = s + i % 7;
		i = i + 1;
	}
	return s;
}`

// BenchmarkLoop1e7 runs a 10^7-iteration loop of checked arithmetic
// compiled by CCL: metered (the runtime, through services/wasm) and
// unmetered (the same module on a bare wazero runtime in compiler mode).
func BenchmarkLoop1e7(b *testing.B) {
	out, err := ccl.Compile("loop.ccl", []byte(loopSrc))
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	b.Run("metered", func(b *testing.B) {
		r, err := New(WithFuel(1 << 40))
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = r.Close(ctx) }()
		p, err := r.LoadOutput(out)
		if err != nil {
			b.Fatal(err)
		}
		var fuel uint64
		for b.Loop() {
			res, err := p.Call(ctx, "run", nil)
			if err != nil {
				b.Fatal(err)
			}
			fuel = res.FuelUsed
		}
		b.ReportMetric(float64(fuel), "fuel/op")
	})
	b.Run("unmetered", func(b *testing.B) {
		rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler())
		defer func() { _ = rt.Close(ctx) }()
		if _, err := exportHost(rt.NewHostModuleBuilder(ccl.HostModule)).Instantiate(ctx); err != nil {
			b.Fatal(err)
		}
		cm, err := rt.CompileModule(ctx, out.WASM)
		if err != nil {
			b.Fatal(err)
		}
		st := &callState{snap: &Frozen{}}
		cctx := context.WithValue(ctx, stateKey{}, st)
		for b.Loop() {
			m, err := rt.InstantiateModule(cctx, cm, wazero.NewModuleConfig().WithName(""))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := m.ExportedFunction("run").Call(cctx); err != nil {
				b.Fatal(err)
			}
			_ = m.Close(ctx)
		}
	})
}
