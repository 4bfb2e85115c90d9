package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/experimental"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/intercooperative-network/icn-go/services/wasm/fuel"
	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
)

// cpuWorkloads are the CPU-bound jobs of the metering benchmark.
func cpuWorkloads(b *testing.B) []struct {
	name string
	job  Job
} {
	goCorpus := wasmtest.Corpus(b)
	return []struct {
		name string
		job  Job
	}{
		{"loop-1e8", Job{Module: wasmtest.WAT(b, "loop"), Stdin: le64(100_000_000)}},
		{"sieve-1e7", Job{Module: wasmtest.WAT(b, "sieve"), Stdin: le64(10_000_000)}},
		{"go-loop-1e8", Job{Module: goCorpus, Args: []string{"loop", "100000000"}}},
		{"go-sieve-1e7", Job{Module: goCorpus, Args: []string{"sieve", "10000000"}}},
		{"go-sha256-64MiB", Job{Module: goCorpus, Args: []string{"sha256", "64"}}},
		{"fib-30", Job{Module: wasmtest.WAT(b, "fib"), Stdin: le64(30)}}, // call-bound
	}
}

// plainRuntime runs an uninstrumented module on wazero in compiler mode,
// with or without WithCloseOnContextDone.
type plainRuntime struct {
	rt       wazero.Runtime
	compiled map[string]wazero.CompiledModule
}

func newPlainRuntime(b *testing.B, closeOnDone bool) *plainRuntime {
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(wasmtest.CacheDir(b))
	if err != nil {
		b.Fatal(err)
	}
	cfg := wazero.NewRuntimeConfigCompiler().WithCompilationCache(cache).WithCloseOnContextDone(closeOnDone)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	b.Cleanup(func() {
		_ = rt.Close(ctx)
		_ = cache.Close(ctx)
	})
	return &plainRuntime{rt: rt, compiled: map[string]wazero.CompiledModule{}}
}

func (p *plainRuntime) run(b *testing.B, ctx context.Context, j Job) []byte {
	cm, ok := p.compiled[string(j.Module)]
	if !ok {
		var err error
		if cm, err = p.rt.CompileModule(ctx, j.Module); err != nil {
			b.Fatal(err)
		}
		p.compiled[string(j.Module)] = cm
	}
	var out bytes.Buffer
	// The engine's virtual clock: Go's runtime reads the clock often, and
	// wazero's default fake clock (1 ms per reading) changes what it does.
	clk := &virtualClock{done: make(chan struct{})}
	cfg := wazero.NewModuleConfig().WithName("").WithStdin(bytes.NewReader(j.Stdin)).WithStdout(&out).
		WithArgs(append([]string{"job"}, j.Args...)...).
		WithWalltime(clk.walltime, 1).WithNanotime(clk.nanotime, 1).WithNanosleep(clk.sleep)
	// The engine's memory allocator, without a limit, so that the variants
	// differ in metering only (wazero's own allocator grows memory by
	// append, which makes the WAT sieve's single 20 MB grow much slower).
	mem := &linearMemory{limit: 1 << 32, onLimit: func() {}}
	ictx := experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(mem.allocate))
	mod, err := p.rt.InstantiateModule(ictx, cm, cfg.WithStartFunctions())
	if err != nil {
		b.Fatal(err)
	}
	_, err = mod.ExportedFunction("_start").Call(ctx)
	if exit, ok := errors.AsType[*sys.ExitError](err); ok && exit.ExitCode() == 0 {
		err = nil
	}
	if err != nil {
		b.Fatal(err)
	}
	_ = mod.Close(ctx)
	return out.Bytes()
}

// BenchmarkCPU compares each CPU-bound job metered by this package
// (Engine.Run with plentiful fuel) with the same job on bare wazero
// without any limit. The two alternate within each iteration, so that a
// machine shared with other work slows both alike (in alternating order,
// each after a forced garbage collection); the metrics are the median
// time of each and their ratio, and the ratio of their best times. Each
// run is whole: instantiation included, the same memory allocator and
// clock for both. On a virtual machine whose other CPU is busy (another
// tenant's work, or this process's), a run is slowed by a quarter or
// so, bare or metered alike: the best times are what the code costs, the
// medians what this machine gave it (docs/benchmarks.md).
//
//	go test -run '^$' -bench BenchmarkCPU -benchtime 20x ./services/wasm/
func BenchmarkCPU(b *testing.B) {
	ctx := context.Background()
	e := newEngine(b)
	bare := newPlainRuntime(b, false)
	for _, w := range cpuWorkloads(b) {
		want := bare.run(b, ctx, w.job)
		j := w.job
		j.Limits = Limits{Fuel: fuel.MaxFuel, Timeout: time.Hour}
		r, err := e.Run(ctx, j)
		if err != nil || !bytes.Equal(r.Stdout, want) {
			b.Fatalf("%s: metered %v %q, bare %q", w.name, err, r.Stdout, want)
		}
		b.Run(w.name, func(b *testing.B) {
			var tb, tm []time.Duration
			for i := 0; b.Loop(); i++ {
				tb, tm = timePair(b, ctx, i%2 == 0, e, bare, w.job, j, tb, tm)
			}
			mb, mm := median(tb), median(tm)
			b.ReportMetric(float64(mb.Nanoseconds()), "bare-ns")
			b.ReportMetric(float64(mm.Nanoseconds()), "metered-ns")
			b.ReportMetric(float64(mm)/float64(mb), "x-bare")
			b.ReportMetric(float64(slices.Min(tm))/float64(slices.Min(tb)), "x-bare-best")
			b.ReportMetric(float64(r.FuelUsed), "fuel")
		})
	}
}

// timePair runs job bare and metered (bareFirst says in which order),
// each after a forced garbage collection, and appends their times to tb
// and tm. metered is job with its limits.
func timePair(b *testing.B, ctx context.Context, bareFirst bool, e *Engine, bare *plainRuntime, job, metered Job, tb, tm []time.Duration) ([]time.Duration, []time.Duration) {
	timeBare := func() {
		runtime.GC() // the previous run's garbage is collected off the clock
		t0 := time.Now()
		bare.run(b, ctx, job)
		tb = append(tb, time.Since(t0))
	}
	timeMetered := func() {
		runtime.GC()
		t0 := time.Now()
		if _, err := e.Run(ctx, metered); err != nil {
			b.Fatal(err)
		}
		tm = append(tm, time.Since(t0))
	}
	if bareFirst {
		timeBare()
		timeMetered()
	} else {
		timeMetered()
		timeBare()
	}
	return tb, tm
}

// layouts is how many code layouts BenchmarkCPULayouts tries.
const layouts = 8

// BenchmarkCPULayouts is BenchmarkCPU across code layouts. Where a hot
// loop falls relative to 64-byte lines moves its time by up to a
// quarter, bare or metered, and each rewrite lands each function
// somewhere else, so one layout compares two draws. Here each workload
// runs in eight variants of its module (wasmtest.Shifted, k = 0…7),
// whose functions sit at different offsets, bare and metered; each
// iteration runs every variant once each way, alternating. The metrics:
// the ratio of the means over the variants of their best times
// (x-bare-best, what the code costs on average over layouts), the mean
// of the variants' ratios of median times (x-bare), and the lowest and
// highest variant's ratio of best times.
//
//	go test -run '^$' -bench BenchmarkCPULayouts -benchtime 6x ./services/wasm/
func BenchmarkCPULayouts(b *testing.B) {
	ctx := context.Background()
	e := newEngine(b)
	bare := newPlainRuntime(b, false)
	for _, w := range cpuWorkloads(b) {
		b.Run(w.name, func(b *testing.B) {
			var jobs, metered [layouts]Job
			for k := range layouts {
				m, err := wasmtest.Shifted(w.job.Module, k)
				if err != nil {
					b.Fatal(err)
				}
				jobs[k] = w.job
				jobs[k].Module = m
				metered[k] = jobs[k]
				metered[k].Limits = Limits{Fuel: fuel.MaxFuel, Timeout: time.Hour}
				want := bare.run(b, ctx, jobs[k]) // compiles both, off the clock
				if r, err := e.Run(ctx, metered[k]); err != nil || !bytes.Equal(r.Stdout, want) {
					b.Fatalf("layout %d: metered %v %q, bare %q", k, err, r.Stdout, want)
				}
			}
			var tb, tm [layouts][]time.Duration
			for i := 0; b.Loop(); i++ {
				for k := range layouts {
					tb[k], tm[k] = timePair(b, ctx, (i+k)%2 == 0, e, bare, jobs[k], metered[k], tb[k], tm[k])
				}
			}
			var bestBare, bestMetered time.Duration
			var medianRatios float64
			lo, hi := math.Inf(1), math.Inf(-1)
			for k := range layouts {
				bb, bm := slices.Min(tb[k]), slices.Min(tm[k])
				bestBare += bb
				bestMetered += bm
				medianRatios += float64(median(tm[k])) / float64(median(tb[k]))
				lo, hi = min(lo, float64(bm)/float64(bb)), max(hi, float64(bm)/float64(bb))
			}
			b.ReportMetric(float64(bestBare.Nanoseconds())/layouts, "bare-best-ns")
			b.ReportMetric(float64(bestMetered.Nanoseconds())/layouts, "metered-best-ns")
			b.ReportMetric(float64(bestMetered)/float64(bestBare), "x-bare-best")
			b.ReportMetric(medianRatios/layouts, "x-bare")
			b.ReportMetric(lo, "x-best-lowest")
			b.ReportMetric(hi, "x-best-highest")
		})
	}
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkCloseOnContextDone is the naive way to bound a run, for
// comparison with BenchmarkCPU: bare wazero with WithCloseOnContextDone
// and a deadline.
//
//	go test -run '^$' -bench BenchmarkCloseOnContextDone -benchtime 3x ./services/wasm/
func BenchmarkCloseOnContextDone(b *testing.B) {
	ctx := context.Background()
	naive := newPlainRuntime(b, true)
	for _, w := range cpuWorkloads(b) {
		b.Run(w.name, func(b *testing.B) {
			for b.Loop() {
				dctx, cancel := context.WithTimeout(ctx, time.Hour)
				naive.run(b, dctx, w.job)
				cancel()
			}
		})
	}
}

// BenchmarkCompile measures getting a module ready to run: instrumenting
// and compiling the Go corpus (a 3.8 MB module) with an empty compilation
// cache directory (cold), with a warm one (a restarted node), and the
// in-memory cache hit of every later run.
//
//	go test -run '^$' -bench BenchmarkCompile -benchtime 5x ./services/wasm/
func BenchmarkCompile(b *testing.B) {
	ctx := context.Background()
	src := wasmtest.Corpus(b)
	compileOnce := func(b *testing.B, dir string) {
		b.StopTimer()
		e, err := New(WithCacheDir(dir))
		if err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
		en, err := e.module(ctx, "", src)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		e.release(en)
		if err := e.Close(ctx); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.Run("cold", func(b *testing.B) {
		for b.Loop() {
			b.StopTimer()
			dir := b.TempDir()
			b.StartTimer()
			compileOnce(b, dir)
		}
	})
	b.Run("warm-cache-dir", func(b *testing.B) {
		dir := b.TempDir()
		compileOnce(b, dir)
		for b.Loop() {
			compileOnce(b, dir)
		}
	})
	// A restart that finds wazero's compiled code but not the rewrite (as
	// before the rewrites were kept on disk): the module is rewritten again.
	b.Run("warm-compiled-code-only", func(b *testing.B) {
		dir := b.TempDir()
		compileOnce(b, dir)
		for b.Loop() {
			b.StopTimer()
			if err := os.RemoveAll(filepath.Join(dir, fmt.Sprintf("icn-fuel-v%d", fuel.CostTableVersion))); err != nil {
				b.Fatal(err)
			}
			b.StartTimer()
			compileOnce(b, dir)
		}
	})
	// What a restart does instead of the rewrite: read it back from disk
	// and check it.
	b.Run("rewrite-from-disk", func(b *testing.B) {
		rw, err := openRewrites(b.TempDir(), fuel.CostTableVersion, slog.New(slog.DiscardHandler))
		if err != nil {
			b.Fatal(err)
		}
		m, err := fuel.Instrument(src)
		if err != nil {
			b.Fatal(err)
		}
		rw.put("corpus", src, m)
		for b.Loop() {
			if _, ok := rw.get("corpus", src); !ok {
				b.Fatal("miss")
			}
		}
	})
	b.Run("rewrite", func(b *testing.B) {
		for b.Loop() {
			if _, err := fuel.Instrument(src); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("memory-hit", func(b *testing.B) {
		e := newEngine(b)
		en, err := e.module(ctx, "corpus", src)
		if err != nil {
			b.Fatal(err)
		}
		e.release(en)
		for b.Loop() {
			en, err := e.module(ctx, "corpus", src)
			if err != nil {
				b.Fatal(err)
			}
			e.release(en)
		}
	})
}
