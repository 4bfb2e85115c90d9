package wasm

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/intercooperative-network/icn-go/services/wasm/fuel"
	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
)

// withCostTableVersion keys the engine's caches by v instead of
// fuel.CostTableVersion (the rewrite itself is the current table's).
func withCostTableVersion(v int) Option { return func(o *options) { o.version = v } }

// engineOn makes an engine on its own cache directory dir.
func engineOn(t *testing.T, dir string, opts ...Option) *Engine {
	t.Helper()
	e, err := New(append([]Option{WithCacheDir(dir)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return e
}

// rewriteFile is the disk cache entry of key under version in dir.
func rewriteFile(dir string, version int, key string) string {
	return filepath.Join(dir, fmt.Sprintf("icn-fuel-v%d-r%d", version, fuel.RewriteVersion), fmt.Sprintf("%x", sha256.Sum256([]byte(key))))
}

func runSieve(t *testing.T, e *Engine, key string, src []byte) Result {
	t.Helper()
	r, err := e.Run(context.Background(), Job{Key: key, Module: src, Stdin: le64(10000)})
	if err != nil || r.ExitCode != 0 || len(r.Stdout) == 0 {
		t.Fatalf("run: %+v, %v", r, err)
	}
	return r
}

func sameRun(t *testing.T, got, want Result) {
	t.Helper()
	if string(got.Stdout) != string(want.Stdout) || got.ExitCode != want.ExitCode || got.FuelUsed != want.FuelUsed ||
		got.CostTableVersion != want.CostTableVersion || got.PeakMemoryBytes != want.PeakMemoryBytes {
		t.Fatalf("run differs: %q exit %d fuel %d (v%d), want %q exit %d fuel %d (v%d)", got.Stdout, got.ExitCode, got.FuelUsed,
			got.CostTableVersion, want.Stdout, want.ExitCode, want.FuelUsed, want.CostTableVersion)
	}
}

// An engine on the cache directory of one that ran a module, as after a
// restart, compiles it without rewriting it again, and runs it the same.
func TestRewritesOutliveTheEngine(t *testing.T) {
	dir := t.TempDir()
	src := wasmtest.WAT(t, "sieve")
	first := engineOn(t, dir)
	want := runSieve(t, first, "sieve", src)
	if n := first.instruments.Load(); n != 1 {
		t.Fatalf("%d rewrites on an empty cache, want 1", n)
	}
	if want.CostTableVersion != fuel.CostTableVersion {
		t.Fatalf("cost table version %d, want %d", want.CostTableVersion, fuel.CostTableVersion)
	}
	if _, err := os.Stat(rewriteFile(dir, fuel.CostTableVersion, "sieve")); err != nil {
		t.Fatalf("no entry on disk: %v", err)
	}
	if err := first.Close(context.Background()); err != nil {
		t.Fatal(err)
	}

	for range 2 {
		again := engineOn(t, dir)
		sameRun(t, runSieve(t, again, "sieve", src), want)
		if n, c := again.instruments.Load(), again.compiles.Load(); n != 0 || c != 1 {
			t.Fatalf("%d rewrites and %d compilations, want 0 and 1", n, c)
		}
	}
	// With no key, the engine's (the module's SHA-256) is the key on disk too.
	for i := range 2 {
		e := engineOn(t, dir)
		sameRun(t, runSieve(t, e, "", src), want)
		if n := e.instruments.Load(); n != int64(1-i) {
			t.Fatalf("run %d without a key: %d rewrites", i, n)
		}
	}

	// A key reused for other bytes is not served the first module.
	other := engineOn(t, dir)
	r, err := other.Run(context.Background(), Job{Key: "sieve", Module: wasmtest.WAT(t, "exit")})
	if err != nil || r.ExitCode != 3 {
		t.Fatalf("another module under the key: %+v, %v", r, err)
	}
	if n := other.instruments.Load(); n != 1 {
		t.Fatalf("%d rewrites of a module never seen, want 1", n)
	}
}

// The cost-table version is part of the key: an engine on another version
// rewrites the module again, in its own directory, and an entry of one
// version moved into another's directory is refused.
func TestRewritesAreKeyedByTheCostTableVersion(t *testing.T) {
	dir := t.TempDir()
	src := wasmtest.WAT(t, "sieve")
	want := runSieve(t, engineOn(t, dir), "sieve", src)

	next := fuel.CostTableVersion + 1
	e := engineOn(t, dir, withCostTableVersion(next))
	r := runSieve(t, e, "sieve", src)
	if n := e.instruments.Load(); n != 1 {
		t.Fatalf("%d rewrites under version %d, want 1", n, next)
	}
	if r.CostTableVersion != next {
		t.Fatalf("cost table version %d, want %d", r.CostTableVersion, next)
	}
	if _, err := os.Stat(rewriteFile(dir, next, "sieve")); err != nil {
		t.Fatalf("no entry for version %d: %v", next, err)
	}

	// The current version's entry under the next version's name.
	b, err := os.ReadFile(rewriteFile(dir, fuel.CostTableVersion, "sieve"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rewriteFile(dir, next, "sieve"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	moved := engineOn(t, dir, withCostTableVersion(next))
	runSieve(t, moved, "sieve", src)
	if n := moved.instruments.Load(); n != 1 {
		t.Fatalf("an entry of version %d served under %d (%d rewrites)", fuel.CostTableVersion, next, n)
	}
	sameRun(t, runSieve(t, engineOn(t, dir), "sieve", src), want)
}

// A damaged entry is a miss: the module is rewritten, runs as before, and
// the entry is replaced by a good one.
func TestADamagedRewriteIsAMiss(t *testing.T) {
	dir := t.TempDir()
	src := wasmtest.WAT(t, "sieve")
	other := wasmtest.WAT(t, "exit")
	want := runSieve(t, engineOn(t, dir), "sieve", src)
	if _, err := engineOn(t, dir).Run(context.Background(), Job{Key: "exit", Module: other}); err != nil {
		t.Fatal(err)
	}
	path := rewriteFile(dir, fuel.CostTableVersion, "sieve")
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := os.ReadFile(rewriteFile(dir, fuel.CostTableVersion, "exit"))
	if err != nil {
		t.Fatal(err)
	}
	flipped := func(i int) []byte {
		b := append([]byte(nil), good...)
		b[i] ^= 1
		return b
	}
	for name, b := range map[string][]byte{
		"empty":                 {},
		"truncated":             good[:len(good)/2],
		"header only":           good[:rewritesHeader],
		"bad magic":             flipped(0),
		"bad source length":     flipped(len(rewritesMagic) + 11),
		"bad payload length":    flipped(len(rewritesMagic) + 23),
		"bad metadata length":   flipped(rewritesHeader + 3),
		"a flipped payload bit": flipped(len(good) - 1),
		"a flipped CRC bit":     flipped(rewritesHeader - 1),
		"trailing bytes":        append(append([]byte(nil), good...), 0),
		"another module's":      foreign, // a key reused for other bytes
	} {
		t.Run(name, func(t *testing.T) {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
			e := engineOn(t, dir)
			sameRun(t, runSieve(t, e, "sieve", src), want)
			if n := e.instruments.Load(); n != 1 {
				t.Fatalf("%d rewrites, want 1", n)
			}
			again := engineOn(t, dir)
			sameRun(t, runSieve(t, again, "sieve", src), want)
			if n := again.instruments.Load(); n != 0 {
				t.Fatalf("the entry was not replaced: %d rewrites", n)
			}
		})
	}
}

// Without a cache directory nothing is written and every engine rewrites.
func TestNoCacheDirNoRewriteCache(t *testing.T) {
	src := wasmtest.WAT(t, "sieve")
	for range 2 {
		e, err := New()
		if err != nil {
			t.Fatal(err)
		}
		runSieve(t, e, "sieve", src)
		n := e.instruments.Load()
		if err := e.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		if n != 1 {
			t.Fatalf("%d rewrites, want 1", n)
		}
	}
}
