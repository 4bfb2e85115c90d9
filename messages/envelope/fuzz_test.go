package envelope

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite testdata/fuzz/FuzzOpen from fuzzSeeds")

// fuzzSeeds are the committed seed corpus of FuzzOpen, by file name: valid
// envelopes (sealed by key(1) at t0, as FuzzOpen's verifier expects) and
// near misses of each kind. They are deterministic, and
// TestFuzzSeedsCommitted keeps the files equal to them.
func fuzzSeeds(t testing.TB) map[string][]byte {
	alice, bob := key(1), key(2)
	rand := &nonces{}
	broadcast := seal(t, alice, "test.ping", "", []byte("hello"), t0, rand)
	addressed := seal(t, alice, "jobs.bid", string(bob.DID()), []byte{0xa1, 0x61, 'x', 0x01}, t0, rand)
	e := mustDecode(t, addressed)
	kvs := entries(t, e)
	tampered := e
	tampered.Body = []byte{0xa1, 0x61, 'x', 0x02}
	return map[string][]byte{
		"valid-broadcast":  broadcast,
		"valid-addressed":  addressed,
		"valid-empty-body": seal(t, alice, "test.ping", "", nil, t0, rand),
		"bad-signature":    mustMarshal(t, tampered),
		"wrong-sender":     seal(t, bob, "test.ping", "", []byte("hello"), t0, rand),
		"unknown-type":     seal(t, alice, "test.nope", "", nil, t0, rand),
		"too-old":          seal(t, alice, "test.ping", "", nil, t0.Add(-DefaultSkew-1), rand),
		"trailing-byte":    append(slices.Clone(broadcast), 0),
		"duplicate-key":    cmap(t, append(slices.Clone(kvs), kv{"b", enc(t, []byte("x"))})),
		"indefinite-map":   append(append([]byte{0xbf}, addressed[1:]...), 0xff),
		"non-canonical":    cmap(t, edit(kvs, "v", func(kv) []kv { return []kv{{"v", []byte{0x18, 0x01}}} })),
		"version-2":        cmap(t, []kv{{"v", enc(t, 2)}, {"new", enc(t, []any{1, "two"})}}),
		"empty":            {},
		"array":            {0x80},
	}
}

// FuzzOpen feeds arbitrary bytes to Open and decode: nothing panics, every
// refusal is a proper rejection, and whatever is accepted re-encodes to the
// same bytes (so a signature covers exactly what was decoded) and is then
// refused as a replay.
func FuzzOpen(f *testing.F) {
	for _, s := range fuzzSeeds(f) {
		f.Add(s)
	}
	sender := string(key(1).DID())
	reasons := Reasons()
	f.Fuzz(func(t *testing.T, data []byte) {
		if e, err := decode(data); err == nil {
			if again := mustMarshal(t, e); !bytes.Equal(again, data) {
				t.Fatalf("decoded, but re-encodes differently:\n%x\n%x", data, again)
			}
		}
		v, _ := newVerifier(t, WithMaxBody(1<<10)) // fresh: nothing seen before
		e, err := v.Open(data, sender)
		if err != nil {
			re, ok := errors.AsType[*RejectError](err)
			if !ok || !errors.Is(err, ErrRejected) || !slices.Contains(reasons, re.Reason) {
				t.Fatalf("not a proper rejection: %T %v", err, err)
			}
			return
		}
		if again := mustMarshal(t, e); !bytes.Equal(again, data) {
			t.Fatalf("accepted, but re-encodes differently:\n%x\n%x", data, again)
		}
		if _, err := v.Open(data, sender); reason(t, err) != ReasonReplay {
			t.Fatalf("opened twice: %v", err)
		}
	})
}

// TestFuzzSeedsCommitted checks the committed corpus against fuzzSeeds
// (go test -run TestFuzzSeedsCommitted -update-seeds rewrites it) and that
// the valid seeds are accepted, so the fuzzer starts from inside Open's
// last check.
func TestFuzzSeedsCommitted(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzOpen")
	for name, data := range fuzzSeeds(t) {
		want := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		path := filepath.Join(dir, name)
		if *updateSeeds {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update-seeds)", err)
		}
		if string(got) != want {
			t.Errorf("%s is stale (run with -update-seeds)", path)
		}
		v, _ := newVerifier(t, WithMaxBody(1<<10))
		_, err = v.Open(data, string(key(1).DID()))
		if valid := err == nil; valid != strings.HasPrefix(name, "valid-") {
			t.Errorf("seed %s: %v", name, err)
		}
	}
}
