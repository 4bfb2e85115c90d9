package wasm

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/intercooperative-network/icn-go/services/wasm/fuel"
	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
)

// newEngine makes an engine on the shared compilation cache (options may
// override it).
func newEngine(tb testing.TB, opts ...Option) *Engine {
	tb.Helper()
	e, err := New(append([]Option{WithCacheDir(wasmtest.CacheDir(tb))}, opts...)...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := e.Close(context.Background()); err != nil {
			tb.Error(err)
		}
	})
	return e
}

func le64(v uint64) []byte { return binary.LittleEndian.AppendUint64(nil, v) }

// bare runs modules as Run would (same argv, env, clock and stdin) but
// uninstrumented, on plain wazero: the reference of the differential tests.
type bare struct {
	rt       wazero.Runtime
	compiled map[string]wazero.CompiledModule
}

func newBare(tb testing.TB) *bare {
	ctx := context.Background()
	cache, err := wazero.NewCompilationCacheWithDir(wasmtest.CacheDir(tb))
	if err != nil {
		tb.Fatal(err)
	}
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfigCompiler().WithCompilationCache(cache))
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	tb.Cleanup(func() {
		_ = rt.Close(ctx)
		_ = cache.Close(ctx)
	})
	return &bare{rt: rt, compiled: map[string]wazero.CompiledModule{}}
}

func (b *bare) run(tb testing.TB, src []byte, j Job) (stdout string, exit uint32) {
	tb.Helper()
	ctx := context.Background()
	cm, ok := b.compiled[string(src)]
	if !ok {
		var err error
		if cm, err = b.rt.CompileModule(ctx, src); err != nil {
			tb.Fatal(err)
		}
		b.compiled[string(src)] = cm
	}
	rt := b.rt
	var out bytes.Buffer
	clk := &virtualClock{done: make(chan struct{})}
	cfg := wazero.NewModuleConfig().WithName("").WithStdin(bytes.NewReader(j.Stdin)).WithStdout(&out).
		WithArgs(append([]string{"job"}, j.Args...)...).
		WithWalltime(clk.walltime, 1).WithNanotime(clk.nanotime, 1).WithNanosleep(clk.sleep)
	for _, k := range sortedKeys(j.Env) {
		cfg = cfg.WithEnv(k, j.Env[k])
	}
	mod, err := rt.InstantiateModule(ctx, cm, cfg)
	if exitErr, ok := errors.AsType[*sys.ExitError](err); ok {
		return out.String(), exitErr.ExitCode()
	}
	if err != nil {
		tb.Fatalf("bare run: %v", err)
	}
	_ = mod.Close(ctx)
	return out.String(), 0
}

func sortedKeys(m map[string]string) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestDifferential: each program of the corpus, WAT and Go, prints the
// same and exits the same through the engine as on bare wazero, and uses
// the same fuel on a second run and on a second engine.
func TestDifferential(t *testing.T) {
	goCorpus := wasmtest.Corpus(t)
	e1 := newEngine(t)
	e2 := newEngine(t)
	ref := newBare(t)
	for _, tc := range []struct {
		name string
		src  []byte
		job  Job
	}{
		{"wat/loop", wasmtest.WAT(t, "loop"), Job{Stdin: le64(100000)}},
		{"wat/sieve", wasmtest.WAT(t, "sieve"), Job{Stdin: le64(200000)}},
		{"wat/fib", wasmtest.WAT(t, "fib"), Job{Stdin: le64(20)}},
		{"wat/features", wasmtest.WAT(t, "features"), Job{}},
		{"wat/exit", wasmtest.WAT(t, "exit"), Job{}},
		{"wat/stdin", wasmtest.WAT(t, "stdin"), Job{Stdin: bytes.Repeat([]byte("abc"), 5000)}},
		{"go/sha256", goCorpus, Job{Args: []string{"sha256", "4"}}},
		{"go/sort", goCorpus, Job{Args: []string{"sort", "20000"}}},
		{"go/json", goCorpus, Job{Args: []string{"json", "300"}}},
		{"go/sieve", goCorpus, Job{Args: []string{"sieve", "200000"}}},
		{"go/fib", goCorpus, Job{Args: []string{"fib", "20"}}},
		{"go/deep", goCorpus, Job{Args: []string{"deep", "20000"}}},
		{"go/loop", goCorpus, Job{Args: []string{"loop", "1000000"}}},
		{"go/echo", goCorpus, Job{Args: []string{"echo"}, Stdin: []byte("mesh jobs for cooperatives\n")}},
		{"go/env", goCorpus, Job{Args: []string{"env"}, Env: map[string]string{"B": "2", "A": "1"}}},
		{"go/sleep", goCorpus, Job{Args: []string{"sleep", "5"}}},
		{"go/exit", goCorpus, Job{Args: []string{"exit", "7"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			wantOut, wantExit := ref.run(t, tc.src, tc.job)
			j := tc.job
			j.Module = tc.src
			r1, err := e1.Run(context.Background(), j)
			if err != nil {
				t.Fatalf("run: %v (stderr %q)", err, r1.Stderr)
			}
			if string(r1.Stdout) != wantOut || r1.ExitCode != wantExit {
				t.Fatalf("metered: exit %d, stdout %q\nbare: exit %d, stdout %q", r1.ExitCode, r1.Stdout, wantExit, wantOut)
			}
			if wantOut == "" {
				t.Fatal("the program printed nothing")
			}
			r2, err := e1.Run(context.Background(), j)
			if err != nil || r2.FuelUsed != r1.FuelUsed || !bytes.Equal(r2.Stdout, r1.Stdout) {
				t.Fatalf("second run: fuel %d then %d, err %v", r1.FuelUsed, r2.FuelUsed, err)
			}
			r3, err := e2.Run(context.Background(), j)
			if err != nil || r3.FuelUsed != r1.FuelUsed {
				t.Fatalf("other engine: fuel %d then %d, err %v", r1.FuelUsed, r3.FuelUsed, err)
			}
			if r1.FuelUsed == 0 || r1.PeakMemoryBytes == 0 || r1.Wall <= 0 {
				t.Fatalf("result %+v", r1)
			}
			t.Logf("fuel %d, peak memory %d KiB, wall %v", r1.FuelUsed, r1.PeakMemoryBytes>>10, r1.Wall)
		})
	}
}

// TestExactFuelLimit: a job given exactly the fuel it uses succeeds; one
// unit less fails with ErrOutOfFuel.
func TestExactFuelLimit(t *testing.T) {
	e := newEngine(t)
	for _, j := range []Job{
		{Module: wasmtest.WAT(t, "sieve"), Stdin: le64(10000)},
		{Module: wasmtest.Corpus(t), Args: []string{"sort", "1000"}},
	} {
		r, err := e.Run(context.Background(), j)
		if err != nil {
			t.Fatal(err)
		}
		j.Limits.Fuel = r.FuelUsed
		if r2, err := e.Run(context.Background(), j); err != nil || r2.FuelUsed != r.FuelUsed {
			t.Fatalf("with exactly %d: %v, used %d", r.FuelUsed, err, r2.FuelUsed)
		}
		j.Limits.Fuel = r.FuelUsed - 1
		if _, err := e.Run(context.Background(), j); !errors.Is(err, ErrOutOfFuel) {
			t.Fatalf("with %d: %v", j.Limits.Fuel, err)
		}
	}
}

// TestFailures: each way a job can fail gives its typed error.
func TestFailures(t *testing.T) {
	e := newEngine(t)
	goCorpus := wasmtest.Corpus(t)
	noStart := []byte("\x00asm\x01\x00\x00\x00")
	// (memory 64) (func (export "_start"))
	bigMemory := []byte("\x00asm\x01\x00\x00\x00\x01\x04\x01\x60\x00\x00\x03\x02\x01\x00\x05\x03\x01\x00\x40" +
		"\x07\x0a\x01\x06_start\x00\x00\x0a\x04\x01\x02\x00\x0b")
	for _, tc := range []struct {
		name  string
		job   Job
		want  error
		check func(t *testing.T, r Result, err error)
	}{
		{name: "infinite loop", want: ErrOutOfFuel,
			job: Job{Module: wasmtest.WAT(t, "infinite"), Limits: Limits{Fuel: 10_000_000}},
			check: func(t *testing.T, r Result, err error) {
				if r.FuelUsed < 10_000_000 || r.FuelUsed > 10_000_100 {
					t.Fatalf("fuel used %d", r.FuelUsed)
				}
			}},
		{name: "infinite recursion", want: ErrStackOverflow,
			job: Job{Module: wasmtest.WAT(t, "recurse")},
			check: func(t *testing.T, r Result, err error) {
				if !errors.Is(err, ErrMemory) {
					t.Fatal("a stack overflow does not match ErrMemory")
				}
			}},
		{name: "memory.grow loop", want: ErrMemory,
			job: Job{Module: wasmtest.WAT(t, "grow"), Limits: Limits{MemoryPages: 100}},
			check: func(t *testing.T, r Result, err error) {
				if r.PeakMemoryBytes != 100<<16 {
					t.Fatalf("peak memory %d", r.PeakMemoryBytes)
				}
			}},
		{name: "go memory hog", want: ErrMemory,
			job: Job{Module: goCorpus, Args: []string{"hog", "200"}, Limits: Limits{MemoryPages: 1024}}},
		{name: "output", want: ErrOutputTooLarge,
			job: Job{Module: wasmtest.WAT(t, "output"), Limits: Limits{MaxOutputBytes: 10000}},
			check: func(t *testing.T, r Result, err error) {
				if len(r.Stdout) != 10000 {
					t.Fatalf("stdout kept %d bytes", len(r.Stdout))
				}
			}},
		{name: "forbidden import", want: ErrForbiddenImport, job: Job{Module: wasmtest.WAT(t, "forbidden")}},
		{name: "wrong WASI signature", want: ErrForbiddenImport, job: Job{Module: wasmtest.WAT(t, "badsig")}},
		{name: "garbage", want: ErrInvalidModule, job: Job{Module: []byte("not wasm")},
			check: func(t *testing.T, r Result, err error) {
				if _, ok := errors.AsType[*fuel.ModuleError](err); !ok {
					t.Fatal("no *fuel.ModuleError in the chain")
				}
			}},
		{name: "ill-typed", want: ErrInvalidModule,
			// (func (result i32) i64.const 0)
			job: Job{Module: []byte("\x00asm\x01\x00\x00\x00\x01\x05\x01\x60\x00\x01\x7f\x03\x02\x01\x00\x0a\x06\x01\x04\x00\x42\x00\x0b")}},
		{name: "no _start", want: ErrInvalidModule, job: Job{Module: noStart}},
		{name: "initial memory over the limit", want: ErrMemory, job: Job{Module: bigMemory, Limits: Limits{MemoryPages: 16}}},
		{name: "non-zero exit is not an error", job: Job{Module: wasmtest.WAT(t, "exit")},
			check: func(t *testing.T, r Result, err error) {
				if r.ExitCode != 3 {
					t.Fatalf("exit code %d", r.ExitCode)
				}
			}},
		{name: "no filesystem", job: Job{Module: goCorpus, Args: []string{"open", "/etc/passwd"}},
			check: func(t *testing.T, r Result, err error) {
				if r.ExitCode != 1 || len(r.Stderr) == 0 {
					t.Fatalf("exit %d, stderr %q", r.ExitCode, r.Stderr)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := e.Run(context.Background(), tc.job)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
			if tc.check != nil {
				tc.check(t, r, err)
			}
		})
	}
}

// blockingReader blocks until closed, like a stdin that never delivers.
type blockingReader struct{ closed chan struct{} }

func (b *blockingReader) Read([]byte) (int, error) {
	<-b.closed
	return 0, io.EOF
}

// TestTimeout: the wall-clock backstop stops a module blocked in a host
// call (a sleep, a stdin that never answers) and one spinning with all the
// fuel in the world, near the deadline.
func TestTimeout(t *testing.T) {
	e := newEngine(t)
	const timeout = 300 * time.Millisecond
	lim := Limits{Timeout: timeout, Fuel: fuel.MaxFuel}
	for _, tc := range []struct {
		name  string
		job   Job
		stdin io.Reader
	}{
		{"wat sleep", Job{Module: wasmtest.WAT(t, "sleep")}, nil},
		{"go sleep", Job{Module: wasmtest.Corpus(t), Args: []string{"sleep", "3600000"}}, nil},
		{"blocked stdin", Job{Module: wasmtest.WAT(t, "stdin")}, &blockingReader{closed: make(chan struct{})}},
		{"spinning", Job{Module: wasmtest.WAT(t, "infinite")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.job.Limits = lim
			en, err := e.module(context.Background(), "", tc.job.Module) // compile outside the measured time
			if err != nil {
				t.Fatal(err)
			}
			e.release(en)
			stdin := tc.stdin
			if stdin == nil {
				stdin = bytes.NewReader(nil)
			}
			t0 := time.Now()
			_, err = e.run(context.Background(), tc.job, stdin)
			took := time.Since(t0)
			if b, ok := tc.stdin.(*blockingReader); ok {
				close(b.closed)
			}
			if !errors.Is(err, ErrTimeout) {
				t.Fatalf("error %v", err)
			}
			if took < timeout || took > timeout+time.Second {
				t.Fatalf("stopped after %v with a timeout of %v", took, timeout)
			}
		})
	}
}

func TestCancel(t *testing.T) {
	e := newEngine(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err := e.Run(ctx, Job{Module: wasmtest.WAT(t, "sleep")})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("error %v", err)
	}
}

// TestClose: Close stops the runs in flight; later runs fail.
func TestClose(t *testing.T) {
	e, err := New()
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		_, err := e.Run(context.Background(), Job{Module: wasmtest.WAT(t, "infinite"), Limits: Limits{Fuel: fuel.MaxFuel}})
		errc <- err
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e.mu.Lock()
		n := len(e.active)
		e.mu.Unlock()
		if n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the run never started")
		}
		time.Sleep(time.Millisecond)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Fatalf("run in flight: %v", err)
	}
	if _, err := e.Run(context.Background(), Job{Module: wasmtest.WAT(t, "exit")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("run after close: %v", err)
	}
	if err := e.Close(context.Background()); err != nil {
		t.Fatalf("second close: %v", err)
	}
}

// TestCache: one compilation per key however many runs, concurrent or not;
// the least recently used module is evicted; a failed compilation of an
// invalid module is cached.
func TestCache(t *testing.T) {
	e := newEngine(t, WithCacheSize(2))
	loop := wasmtest.WAT(t, "loop")
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := e.Run(context.Background(), Job{Key: "loop", Module: loop, Stdin: le64(uint64(1000 * i))})
			if err != nil || len(r.Stdout) != 17 {
				t.Errorf("run %d: %v %q", i, err, r.Stdout)
			}
		}()
	}
	wg.Wait()
	if n := e.compiles.Load(); n != 1 {
		t.Fatalf("%d compilations for one key", n)
	}
	for _, k := range []string{"a", "b", "a", "loop", "a"} {
		if _, err := e.Run(context.Background(), Job{Key: k, Module: loop}); err != nil {
			t.Fatal(err)
		}
	}
	// loop was evicted by b, then compiled again, evicting b; a stayed.
	if n := e.compiles.Load(); n != 4 {
		t.Fatalf("%d compilations, want 4", n)
	}
	for range 2 {
		if _, err := e.Run(context.Background(), Job{Key: "bad", Module: []byte("bad")}); !errors.Is(err, ErrInvalidModule) {
			t.Fatal(err)
		}
	}
	if n := e.compiles.Load(); n != 5 {
		t.Fatalf("%d compilations, want 5", n)
	}
}

// TestOnlyTheRunThatCompilesReportsCompileTime: Result.Compile is positive
// for the one run of concurrent runs that compiled the module, zero for
// the others and for later runs, positive again after an eviction, and
// positive for a compilation that failed (cached: once).
func TestOnlyTheRunThatCompilesReportsCompileTime(t *testing.T) {
	e := newEngine(t, WithCacheSize(1))
	loop := wasmtest.WAT(t, "loop")
	var compiled sync.WaitGroup
	var mu sync.Mutex
	n := 0
	for i := range 6 {
		compiled.Go(func() {
			r, err := e.Run(context.Background(), Job{Key: "loop", Module: loop, Stdin: le64(uint64(i))})
			if err != nil {
				t.Errorf("run %d: %v", i, err)
			}
			if r.Compile > 0 {
				mu.Lock()
				n++
				mu.Unlock()
			}
		})
	}
	compiled.Wait()
	if n != 1 {
		t.Fatalf("%d runs report a compilation, want 1", n)
	}
	if r, err := e.Run(context.Background(), Job{Key: "loop", Module: loop}); err != nil || r.Compile != 0 {
		t.Fatalf("cached run: compile %v, %v", r.Compile, err)
	}
	exit := wasmtest.WAT(t, "exit")
	if r, err := e.Run(context.Background(), Job{Key: "exit", Module: exit}); err != nil || r.Compile <= 0 {
		t.Fatalf("another module: compile %v, %v", r.Compile, err)
	}
	if r, err := e.Run(context.Background(), Job{Key: "loop", Module: loop}); err != nil || r.Compile <= 0 {
		t.Fatalf("evicted module: compile %v, %v", r.Compile, err)
	}
	c, err := e.Call(context.Background(), Call{Key: "bad", Module: []byte("bad"), Function: "f"})
	if !errors.Is(err, ErrInvalidModule) || c.Compile <= 0 {
		t.Fatalf("invalid module: compile %v, %v", c.Compile, err)
	}
	if c, err := e.Call(context.Background(), Call{Key: "bad", Module: []byte("bad"), Function: "f"}); !errors.Is(err, ErrInvalidModule) || c.Compile != 0 {
		t.Fatalf("cached invalid module: compile %v, %v", c.Compile, err)
	}
}

// TestCorpusAssembled: the committed .wasm files are what wat2wasm makes
// of the .wat sources (skipped without wabt).
func TestCorpusAssembled(t *testing.T) {
	wat2wasm, err := exec.LookPath("wat2wasm")
	if err != nil {
		t.Fatal("wat2wasm is not installed: run `make test-deps` (Debian package wabt)")
	}
	dir := wasmtest.WATDir(t)
	srcs, _ := filepath.Glob(filepath.Join(dir, "*.wat"))
	if len(srcs) < 10 {
		t.Fatalf("%d WAT sources", len(srcs))
	}
	for _, src := range srcs {
		out := filepath.Join(t.TempDir(), "m.wasm")
		if b, err := exec.Command(wat2wasm, src, "-o", out).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", src, err, b)
		}
		got, _ := os.ReadFile(out)
		want, err := os.ReadFile(strings.TrimSuffix(src, ".wat") + ".wasm")
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: the committed .wasm is stale (%v)", src, err)
		}
	}
}
