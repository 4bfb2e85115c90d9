package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/intercooperative-network/icn-go/services/store"
)

// Run runs the conformance suite. open must return a new, empty store for
// each call and arrange for it to be closed when the test ends (closing a
// store twice is part of the contract, so t.Cleanup(s.Close) is fine even
// for the subtests that close it themselves).
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"PutGetHas", testPutGetHas},
		{"Missing", testMissing},
		{"Delete", testDelete},
		{"Overwrite", testOverwrite},
		{"LastWriteInBatchWins", testLastWriteInBatchWins},
		{"InvalidKeys", testInvalidKeys},
		{"ScanOrder", testScanOrder},
		{"ScanPrefixAndStart", testScanPrefixAndStart},
		{"ScanEarlyStop", testScanEarlyStop},
		{"ScanSnapshot", testScanSnapshot},
		{"BatchAtomicity", testBatchAtomicity},
		{"BatchLimits", testBatchLimits},
		{"EmptyBatch", testEmptyBatch},
		{"BatchReuse", testBatchReuse},
		{"CopySemantics", testCopySemantics},
		{"Closed", testClosed},
		{"ConcurrentCommits", testConcurrentCommits},
		{"CancelledContext", testCancelledContext},
		{"AgainstModel", testAgainstModel},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

func commit(t *testing.T, s store.Store, b *store.Batch) {
	t.Helper()
	if err := s.Commit(t.Context(), b); err != nil {
		t.Fatalf("Commit(%v) = %v", b, err)
	}
}

func put(t *testing.T, s store.Store, kv ...string) {
	t.Helper()
	var b store.Batch
	for i := 0; i+1 < len(kv); i += 2 {
		b.Put([]byte(kv[i]), []byte(kv[i+1]))
	}
	commit(t, s, &b)
}

func mustGet(t *testing.T, s store.Store, key string) []byte {
	t.Helper()
	v, err := s.Get(t.Context(), []byte(key))
	if err != nil {
		t.Fatalf("Get(%q) = %v", key, err)
	}
	return v
}

func wantValue(t *testing.T, s store.Store, key, want string) {
	t.Helper()
	if got := mustGet(t, s, key); string(got) != want {
		t.Fatalf("Get(%q) = %q, want %q", key, got, want)
	}
}

func wantMissing(t *testing.T, s store.Store, key string) {
	t.Helper()
	if v, err := s.Get(t.Context(), []byte(key)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%q) = %q, %v; want ErrNotFound", key, v, err)
	}
	if ok, err := s.Has(t.Context(), []byte(key)); ok || err != nil {
		t.Fatalf("Has(%q) = %v, %v; want false, nil", key, ok, err)
	}
}

type kv struct{ k, v string }

// scan collects a Scan's pairs, copying them as the contract requires.
func scan(t *testing.T, s store.Store, prefix, start []byte) []kv {
	t.Helper()
	var out []kv
	err := s.Scan(t.Context(), prefix, start, func(k, v []byte) error {
		out = append(out, kv{string(k), string(v)})
		return nil
	})
	if err != nil {
		t.Fatalf("Scan(%q, %q) = %v", prefix, start, err)
	}
	return out
}

func keysOf(pairs []kv) []string {
	ks := make([]string, len(pairs))
	for i, p := range pairs {
		ks[i] = p.k
	}
	return ks
}

func testPutGetHas(t *testing.T, s store.Store) {
	cases := []struct{ name, key, value string }{
		{"ascii", "ledger/acct/alice", "100"},
		{"binary key", "\x00\xff\x01\x80", "bin"},
		{"single byte key", "k", "v"},
		{"empty value", "empty", ""},
		{"binary value", "bv", "\x00\x00\xff"},
		{"large value", "large", strings.Repeat("x", 1<<20+7)},
		{"max key", strings.Repeat("k", store.MaxKeySize), "longkey"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			put(t, s, c.key, c.value)
			got := mustGet(t, s, c.key)
			if string(got) != c.value {
				t.Fatalf("Get = %d bytes %.20q, want %d bytes %.20q", len(got), got, len(c.value), c.value)
			}
			if got == nil {
				t.Fatalf("Get returned a nil slice; want a non-nil (possibly empty) value")
			}
			if ok, err := s.Has(t.Context(), []byte(c.key)); !ok || err != nil {
				t.Fatalf("Has = %v, %v; want true, nil", ok, err)
			}
		})
	}
}

func testMissing(t *testing.T, s store.Store) {
	wantMissing(t, s, "nope")
	put(t, s, "a", "1")
	wantMissing(t, s, "a\x00") // a longer key sharing the prefix
	wantMissing(t, s, "b")
}

func testDelete(t *testing.T, s store.Store) {
	put(t, s, "a", "1", "b", "2")
	var b store.Batch
	b.Delete([]byte("a"))
	b.Delete([]byte("never-written")) // not an error
	commit(t, s, &b)
	wantMissing(t, s, "a")
	wantValue(t, s, "b", "2")
	if got := keysOf(scan(t, s, nil, nil)); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("Scan after delete = %q, want [b]", got)
	}
}

func testOverwrite(t *testing.T, s store.Store) {
	put(t, s, "k", "first value, long")
	put(t, s, "k", "2nd")
	wantValue(t, s, "k", "2nd")
	put(t, s, "k", "")
	wantValue(t, s, "k", "")
	if got := scan(t, s, nil, nil); !slices.Equal(got, []kv{{"k", ""}}) {
		t.Fatalf("Scan = %q, want one pair k=\"\"", got)
	}
}

func testLastWriteInBatchWins(t *testing.T, s store.Store) {
	put(t, s, "deleted-then-put", "old", "put-then-deleted", "old")
	var b store.Batch
	b.Put([]byte("twice"), []byte("1"))
	b.Put([]byte("twice"), []byte("2"))
	b.Delete([]byte("deleted-then-put"))
	b.Put([]byte("deleted-then-put"), []byte("new"))
	b.Put([]byte("put-then-deleted"), []byte("new"))
	b.Delete([]byte("put-then-deleted"))
	commit(t, s, &b)
	wantValue(t, s, "twice", "2")
	wantValue(t, s, "deleted-then-put", "new")
	wantMissing(t, s, "put-then-deleted")
}

func testInvalidKeys(t *testing.T, s store.Store) {
	bad := []struct{ name, key string }{
		{"empty", ""},
		{"too long", strings.Repeat("k", store.MaxKeySize+1)},
		{"reserved prefix", store.ReservedPrefix + "head"},
		{"reserved prefix alone", store.ReservedPrefix},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			if _, err := s.Get(t.Context(), []byte(c.key)); !errors.Is(err, store.ErrInvalidKey) {
				t.Errorf("Get = %v, want ErrInvalidKey", err)
			}
			if _, err := s.Has(t.Context(), []byte(c.key)); !errors.Is(err, store.ErrInvalidKey) {
				t.Errorf("Has = %v, want ErrInvalidKey", err)
			}
			for _, del := range []bool{false, true} {
				var b store.Batch
				b.Put([]byte("valid"), []byte("v"))
				if del {
					b.Delete([]byte(c.key))
				} else {
					b.Put([]byte(c.key), []byte("v"))
				}
				if err := s.Commit(t.Context(), &b); !errors.Is(err, store.ErrInvalidKey) {
					t.Errorf("Commit (delete=%v) = %v, want ErrInvalidKey", del, err)
				}
			}
			wantMissing(t, s, "valid")
		})
	}
	// Nearly reserved keys are fine.
	near := strings.TrimSuffix(store.ReservedPrefix, "!")
	put(t, s, near, "ok", "!", "ok")
	wantValue(t, s, near, "ok")
}

func testScanOrder(t *testing.T, s store.Store) {
	keys := []string{"b", "a", "\x00", "\xff\xff", "ab", "a\x00", "aa", "ba", "\xff", "c", "B", "A"}
	var b store.Batch
	for _, k := range keys {
		b.Put([]byte(k), []byte("v:"+k))
	}
	commit(t, s, &b)
	got := scan(t, s, nil, nil)
	want := slices.Clone(keys)
	slices.Sort(want) // byte order
	if !slices.Equal(keysOf(got), want) {
		t.Fatalf("Scan order = %q, want %q", keysOf(got), want)
	}
	for _, p := range got {
		if p.v != "v:"+p.k {
			t.Fatalf("Scan value of %q = %q", p.k, p.v)
		}
	}
}

func testScanPrefixAndStart(t *testing.T, s store.Store) {
	put(t, s,
		"a", "-", "a/", "-", "a/1", "-", "a/2", "-", "a/20", "-", "a/3", "-",
		"a0", "-", "ab", "-", "b/1", "-", "`z", "-")
	cases := []struct {
		name          string
		prefix, start []byte
		want          []string
	}{
		{"all", nil, nil, []string{"`z", "a", "a/", "a/1", "a/2", "a/20", "a/3", "a0", "ab", "b/1"}},
		{"empty non-nil prefix", []byte{}, nil, []string{"`z", "a", "a/", "a/1", "a/2", "a/20", "a/3", "a0", "ab", "b/1"}},
		{"prefix", []byte("a/"), nil, []string{"a/", "a/1", "a/2", "a/20", "a/3"}},
		{"prefix equal to a key", []byte("a"), nil, []string{"a", "a/", "a/1", "a/2", "a/20", "a/3", "a0", "ab"}},
		{"no match", []byte("zz"), nil, nil},
		{"start inclusive", []byte("a/"), []byte("a/2"), []string{"a/2", "a/20", "a/3"}},
		{"start between keys", []byte("a/"), []byte("a/21"), []string{"a/3"}},
		{"empty start means prefix", []byte("a/"), []byte{}, []string{"a/", "a/1", "a/2", "a/20", "a/3"}},
		{"start before prefix", []byte("a/"), []byte("a"), []string{"a/", "a/1", "a/2", "a/20", "a/3"}},
		{"start far before prefix", []byte("a/"), []byte("\x00"), []string{"a/", "a/1", "a/2", "a/20", "a/3"}},
		{"start after prefix range", []byte("a/"), []byte("a0"), nil},
		{"start past last key", nil, []byte("c"), nil},
		{"start without prefix", nil, []byte("a0"), []string{"a0", "ab", "b/1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := keysOf(scan(t, s, c.prefix, c.start)); !slices.Equal(got, c.want) {
				t.Fatalf("Scan(%q, %q) = %q, want %q", c.prefix, c.start, got, c.want)
			}
		})
	}
}

var errStop = errors.New("storetest: stop")

type wrappedStop struct{ n int }

func (w *wrappedStop) Error() string { return fmt.Sprintf("stopped after %d", w.n) }

func testScanEarlyStop(t *testing.T, s store.Store) {
	var b store.Batch
	for i := range 50 {
		b.Put(fmt.Appendf(nil, "k%03d", i), []byte("v"))
	}
	commit(t, s, &b)

	calls := 0
	err := s.Scan(t.Context(), []byte("k"), nil, func(k, v []byte) error {
		calls++
		if calls == 7 {
			return errStop
		}
		return nil
	})
	if err != errStop { // returned unchanged, not merely wrapped
		t.Fatalf("Scan = %v, want errStop itself", err)
	}
	if calls != 7 {
		t.Fatalf("fn called %d times after stopping at 7", calls)
	}

	calls = 0
	err = s.Scan(t.Context(), nil, []byte("k010"), func(k, v []byte) error {
		calls++
		return &wrappedStop{n: calls}
	})
	var ws *wrappedStop
	if !errors.As(err, &ws) || ws.n != 1 || calls != 1 {
		t.Fatalf("Scan = %v after %d calls, want the typed error from the first call", err, calls)
	}
}

func testScanSnapshot(t *testing.T, s store.Store) {
	put(t, s, "s/1", "one", "s/3", "three", "s/5", "five")
	var seen []string
	err := s.Scan(t.Context(), []byte("s/"), nil, func(k, v []byte) error {
		seen = append(seen, string(k))
		if string(k) == "s/1" {
			// Reads and commits from inside the callback work...
			wantValue(t, s, "s/3", "three")
			var b store.Batch
			b.Put([]byte("s/2"), []byte("two"))
			b.Put([]byte("s/4"), []byte("four"))
			b.Delete([]byte("s/5"))
			b.Put([]byte("s/3"), []byte("THREE"))
			commit(t, s, &b)
		}
		if string(k) == "s/3" && string(v) != "three" {
			t.Errorf("scan saw s/3 = %q, want the snapshot's value", v)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Scan = %v", err)
	}
	// ...but the scan keeps visiting the snapshot it started with.
	if want := []string{"s/1", "s/3", "s/5"}; !slices.Equal(seen, want) {
		t.Fatalf("Scan visited %q, want the snapshot %q", seen, want)
	}
	if got := keysOf(scan(t, s, []byte("s/"), nil)); !slices.Equal(got, []string{"s/1", "s/2", "s/3", "s/4"}) {
		t.Fatalf("Scan after the commit = %q", got)
	}
}

func testBatchAtomicity(t *testing.T, s store.Store) {
	put(t, s, "keep", "original")
	var b store.Batch
	for i := range 100 {
		b.Put(fmt.Appendf(nil, "atom/%03d", i), []byte("v"))
	}
	b.Delete([]byte("keep"))
	b.Put(nil, []byte("invalid key at the end"))
	err := s.Commit(t.Context(), &b)
	if !errors.Is(err, store.ErrInvalidKey) {
		t.Fatalf("Commit = %v, want ErrInvalidKey", err)
	}
	if got := scan(t, s, []byte("atom/"), nil); len(got) != 0 {
		t.Fatalf("a refused batch wrote %d keys", len(got))
	}
	wantValue(t, s, "keep", "original")
}

func testBatchLimits(t *testing.T, s store.Store) {
	t.Run("max ops fits", func(t *testing.T) {
		var b store.Batch
		for i := range store.MaxBatchOps {
			b.Put(fmt.Appendf(nil, "ops/%05d", i), nil)
		}
		commit(t, s, &b)
		if got := scan(t, s, []byte("ops/"), nil); len(got) != store.MaxBatchOps {
			t.Fatalf("Scan found %d keys, want %d", len(got), store.MaxBatchOps)
		}
	})
	t.Run("max bytes fits", func(t *testing.T) {
		var b store.Batch
		for i := 0; b.Size() < store.MaxBatchBytes; i++ {
			key := fmt.Appendf(nil, "bytes/%02d", i)
			b.Put(key, bytes.Repeat([]byte{byte(i)}, min(store.LargeValue-1, store.MaxBatchBytes-b.Size()-len(key))))
		}
		if b.Size() != store.MaxBatchBytes {
			t.Fatalf("Size = %d", b.Size())
		}
		commit(t, s, &b)
		if got := mustGet(t, s, "bytes/00"); len(got) != store.LargeValue-1 || got[len(got)-1] != 0 {
			t.Fatalf("Get returned %d bytes", len(got))
		}
	})
	t.Run("large values fit", func(t *testing.T) {
		var b store.Batch
		for i, n := range []int{store.LargeValue - 1, store.LargeValue, 4 << 20} {
			b.Put(fmt.Appendf(nil, "large/%d", i), bytes.Repeat([]byte{byte(i + 1)}, n))
		}
		commit(t, s, &b)
		for i, n := range []int{store.LargeValue - 1, store.LargeValue, 4 << 20} {
			if got := mustGet(t, s, fmt.Sprintf("large/%d", i)); len(got) != n || got[0] != byte(i+1) || got[n-1] != byte(i+1) {
				t.Fatalf("large/%d: %d bytes, want %d", i, len(got), n)
			}
		}
	})
	tooLarge := []struct {
		name       string
		fill       func(b *store.Batch)
		ops, bytes int
	}{
		{"too many ops", func(b *store.Batch) {
			for i := range store.MaxBatchOps + 1 {
				b.Put(fmt.Appendf(nil, "big/%05d", i), nil)
			}
		}, store.MaxBatchOps + 1, 9 * (store.MaxBatchOps + 1)},
		{"too many bytes", func(b *store.Batch) {
			for i := range 33 {
				b.Put(fmt.Appendf(nil, "big/%02d", i), make([]byte, store.LargeValue-6))
			}
		}, 33, store.MaxBatchBytes + store.LargeValue},
		{"too many deletes", func(b *store.Batch) {
			for i := range store.MaxBatchOps + 1 {
				b.Delete(fmt.Appendf(nil, "big/%05d", i))
			}
		}, store.MaxBatchOps + 1, 9 * (store.MaxBatchOps + 1)},
	}
	for _, c := range tooLarge {
		t.Run(c.name, func(t *testing.T) {
			var b store.Batch
			c.fill(&b)
			err := s.Commit(t.Context(), &b)
			tl, ok := errors.AsType[*store.BatchTooLargeError](err)
			if !ok {
				t.Fatalf("Commit = %v, want *BatchTooLargeError", err)
			}
			if tl.Ops != c.ops || tl.Bytes != c.bytes {
				t.Fatalf("error says %d ops, %d bytes; want %d, %d", tl.Ops, tl.Bytes, c.ops, c.bytes)
			}
			if got := scan(t, s, []byte("big/"), nil); len(got) != 0 {
				t.Fatalf("a refused batch wrote %d keys", len(got))
			}
		})
	}
}

func testEmptyBatch(t *testing.T, s store.Store) {
	if err := s.Commit(t.Context(), &store.Batch{}); err != nil {
		t.Fatalf("Commit(empty) = %v", err)
	}
	if err := s.Commit(t.Context(), nil); err != nil {
		t.Fatalf("Commit(nil) = %v", err)
	}
	if got := scan(t, s, nil, nil); len(got) != 0 {
		t.Fatalf("store not empty: %q", got)
	}
}

func testBatchReuse(t *testing.T, s store.Store) {
	var b store.Batch
	b.Put([]byte("r/1"), []byte("one"))
	commit(t, s, &b)
	commit(t, s, &b) // committing the same batch twice is harmless
	b.Reset()
	if b.Len() != 0 || b.Size() != 0 {
		t.Fatalf("after Reset: Len %d, Size %d", b.Len(), b.Size())
	}
	b.Put([]byte("r/2"), []byte("two"))
	commit(t, s, &b)
	if got := scan(t, s, []byte("r/"), nil); !slices.Equal(got, []kv{{"r/1", "one"}, {"r/2", "two"}}) {
		t.Fatalf("Scan = %q", got)
	}
}

func testCopySemantics(t *testing.T, s store.Store) {
	key := []byte("copy/key")
	val := []byte("value")
	var b store.Batch
	b.Put(key, val)
	dkey := []byte("copy/del")
	put(t, s, string(dkey), "x")
	b.Delete(dkey)
	// Mutate the caller's buffers between Put and Commit.
	key[0], val[0] = 'X', 'X'
	dkey[0] = 'X'
	commit(t, s, &b)
	wantValue(t, s, "copy/key", "value")
	wantMissing(t, s, "copy/del")
	wantMissing(t, s, "Xopy/key")

	got := mustGet(t, s, "copy/key")
	got[0] = 'Z'
	_ = append(got[:1], "tail-that-might-overwrite"...)
	wantValue(t, s, "copy/key", "value")

	// Scan values must not alias what a later Get returns.
	var scanned []byte
	if err := s.Scan(t.Context(), []byte("copy/"), nil, func(k, v []byte) error {
		scanned = append(scanned, v...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if string(scanned) != "value" {
		t.Fatalf("scanned %q", scanned)
	}
}

func testClosed(t *testing.T, s store.Store) {
	put(t, s, "k", "v")
	if err := s.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	ctx := t.Context()
	if _, err := s.Get(ctx, []byte("k")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Get after Close = %v", err)
	}
	if _, err := s.Has(ctx, []byte("k")); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Has after Close = %v", err)
	}
	called := false
	if err := s.Scan(ctx, nil, nil, func(k, v []byte) error { called = true; return nil }); !errors.Is(err, store.ErrClosed) || called {
		t.Errorf("Scan after Close = %v (fn called: %v)", err, called)
	}
	var b store.Batch
	b.Put([]byte("k2"), []byte("v"))
	if err := s.Commit(ctx, &b); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Commit after Close = %v", err)
	}
	if err := s.Commit(ctx, &store.Batch{}); !errors.Is(err, store.ErrClosed) {
		t.Errorf("Commit(empty) after Close = %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
}

func testConcurrentCommits(t *testing.T, s store.Store) {
	const goroutines, batches = 16, 25
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := range goroutines {
		wg.Go(func() {
			for i := range batches {
				var b store.Batch
				for j := range 3 {
					b.Put(fmt.Appendf(nil, "c/%02d/%03d/%d", g, i, j), fmt.Appendf(nil, "%d-%d-%d", g, i, j))
				}
				if err := s.Commit(t.Context(), &b); err != nil {
					errs <- fmt.Errorf("goroutine %d batch %d: %w", g, i, err)
					return
				}
				// Our own commit is visible as soon as Commit returns.
				if ok, err := s.Has(t.Context(), fmt.Appendf(nil, "c/%02d/%03d/2", g, i)); !ok || err != nil {
					errs <- fmt.Errorf("goroutine %d batch %d not visible after Commit: %v, %v", g, i, ok, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	got := scan(t, s, []byte("c/"), nil)
	if len(got) != goroutines*batches*3 {
		t.Fatalf("Scan found %d keys, want %d", len(got), goroutines*batches*3)
	}
	for _, p := range got {
		var g, i, j int
		if _, err := fmt.Sscanf(p.k, "c/%02d/%03d/%d", &g, &i, &j); err != nil || p.v != fmt.Sprintf("%d-%d-%d", g, i, j) {
			t.Fatalf("unexpected pair %q=%q", p.k, p.v)
		}
	}
}

func testCancelledContext(t *testing.T, s store.Store) {
	put(t, s, "k", "v", "k2", "v2")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	var b store.Batch
	b.Put([]byte("cancelled"), []byte("v"))
	if err := s.Commit(ctx, &b); !errors.Is(err, context.Canceled) {
		t.Errorf("Commit = %v, want context.Canceled", err)
	}
	wantMissing(t, s, "cancelled")
	if _, err := s.Get(ctx, []byte("k")); !errors.Is(err, context.Canceled) {
		t.Errorf("Get = %v, want context.Canceled", err)
	}
	if _, err := s.Has(ctx, []byte("k")); !errors.Is(err, context.Canceled) {
		t.Errorf("Has = %v, want context.Canceled", err)
	}
	calls := 0
	if err := s.Scan(ctx, nil, nil, func(k, v []byte) error { calls++; return nil }); !errors.Is(err, context.Canceled) || calls != 0 {
		t.Errorf("Scan = %v after %d calls, want context.Canceled before any", err, calls)
	}

	// Cancelled during the scan: it stops before the next key.
	ctx, cancel = context.WithCancel(t.Context())
	defer cancel()
	calls = 0
	err := s.Scan(ctx, nil, nil, func(k, v []byte) error {
		calls++
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || calls != 1 {
		t.Errorf("Scan = %v after %d calls, want context.Canceled after 1", err, calls)
	}
}

// testAgainstModel applies random batches to the store and to a map, and
// compares random scans and reads.
func testAgainstModel(t *testing.T, s store.Store) {
	rng := rand.New(rand.NewPCG(1, 2))
	model := map[string]string{}
	alphabet := []byte{0x00, 'a', 'b', 0xff}
	randKey := func() []byte {
		k := make([]byte, 1+rng.IntN(4))
		for i := range k {
			k[i] = alphabet[rng.IntN(len(alphabet))]
		}
		return k
	}
	randPrefix := func() []byte {
		k := randKey()
		return k[:rng.IntN(min(3, len(k)+1))]
	}
	for round := range 200 {
		var b store.Batch
		staged := map[string]*string{}
		for range 1 + rng.IntN(8) {
			k := randKey()
			if rng.IntN(3) == 0 {
				b.Delete(k)
				staged[string(k)] = nil
			} else {
				v := fmt.Sprintf("r%d-%d", round, rng.IntN(1000))
				b.Put(k, []byte(v))
				staged[string(k)] = &v
			}
		}
		commit(t, s, &b)
		for k, v := range staged {
			if v == nil {
				delete(model, k)
			} else {
				model[k] = *v
			}
		}

		prefix, start := randPrefix(), randKey()
		if rng.IntN(2) == 0 {
			start = nil
		}
		var want []kv
		for k, v := range model {
			if strings.HasPrefix(k, string(prefix)) && k >= string(start) {
				want = append(want, kv{k, v})
			}
		}
		slices.SortFunc(want, func(a, b kv) int { return strings.Compare(a.k, b.k) })
		if got := scan(t, s, prefix, start); !slices.Equal(got, want) {
			t.Fatalf("round %d: Scan(%q, %q) = %q, want %q", round, prefix, start, got, want)
		}
		k := randKey()
		v, err := s.Get(t.Context(), k)
		mv, ok := model[string(k)]
		switch {
		case ok && (err != nil || string(v) != mv):
			t.Fatalf("round %d: Get(%q) = %q, %v; want %q", round, k, v, err, mv)
		case !ok && !errors.Is(err, store.ErrNotFound):
			t.Fatalf("round %d: Get(%q) = %q, %v; want ErrNotFound", round, k, v, err)
		}
	}
}
