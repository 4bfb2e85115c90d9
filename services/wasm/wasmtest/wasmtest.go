package wasmtest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Root returns the repository root (found from this file's location).
func Root(tb testing.TB) string {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("wasmtest: cannot locate the source tree")
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "..")
}

// WATDir is the directory of the WAT corpus: each name.wat and the
// name.wasm assembled from it with
//
//	wat2wasm name.wat -o name.wasm
//
// (wat2wasm 1.0.32 from Debian's wabt package; TestCorpusAssembled in
// services/wasm checks that the two agree).
func WATDir(tb testing.TB) string {
	return filepath.Join(Root(tb), "services", "wasm", "testdata", "wat")
}

// WAT returns the assembled module testdata/wat/name.wasm.
func WAT(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(WATDir(tb), name+".wasm"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// WATNames lists the WAT corpus.
func WATNames(tb testing.TB) []string {
	tb.Helper()
	m, err := filepath.Glob(filepath.Join(WATDir(tb), "*.wasm"))
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, p := range m {
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".wasm"))
	}
	return names
}

// Corpus returns examples/wasm/corpus built with
// GOOS=wasip1 GOARCH=wasm go build. The binary is kept in the system's
// temporary directory under a name derived from the source and the Go
// version, so it is built once, not once per test binary; nothing is
// committed.
func Corpus(tb testing.TB) []byte {
	tb.Helper()
	root := Root(tb)
	src, err := os.ReadFile(filepath.Join(root, "examples", "wasm", "corpus", "main.go"))
	if err != nil {
		tb.Fatal(err)
	}
	h := sha256.New()
	h.Write(src)
	h.Write([]byte(runtime.Version()))
	dir := filepath.Join(os.TempDir(), "icn-wasmtest")
	out := filepath.Join(dir, "corpus-"+hex.EncodeToString(h.Sum(nil))[:16]+".wasm")
	if b, err := os.ReadFile(out); err == nil {
		return b
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	tmp, err := os.CreateTemp(dir, "build-*.wasm")
	if err != nil {
		tb.Fatal(err)
	}
	_ = tmp.Close()
	defer os.Remove(tmp.Name())
	goBin, err := exec.LookPath("go")
	if err != nil {
		tb.Skipf("wasmtest: no go command to build the Go corpus: %v", err)
	}
	cmd := exec.Command(goBin, "build", "-o", tmp.Name(), "./examples/wasm/corpus")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("wasmtest: building the Go corpus: %v\n%s", err, b)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		tb.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// CacheDir returns a wazero compilation cache directory shared by the
// tests of every package and run (in the system's temporary directory;
// wazero writes its entries atomically), so the Go corpus compiles once.
func CacheDir(tb testing.TB) string {
	tb.Helper()
	dir := filepath.Join(os.TempDir(), "icn-wasmtest", "wazero-cache")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// Padded returns module with a custom section of n bytes appended: the
// same program, n bytes larger (for tests of modules bigger than a block).
func Padded(module []byte, n int) []byte {
	name := "icn-padding"
	body := binary.AppendUvarint(nil, uint64(len(name)))
	body = append(body, name...)
	body = append(body, make([]byte, n)...)
	out := append([]byte{}, module...)
	out = append(out, 0) // custom section
	out = binary.AppendUvarint(out, uint64(len(body)))
	return append(out, body...)
}
