package wasmtest

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
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

// Shifted returns module with a branch that is never taken, over k
// moves of a new global, at the start of its first defined function: the
// same program, with every function after that one placed further along
// in wazero's machine code (one step of k moves it by about 16 bytes).
// Where a hot loop falls relative to 64-byte lines moves its time by up to
// a quarter, so benchmarks compare variants across several k. It fails
// on modules it cannot read (it reads only what it must change).
func Shifted(module []byte, k int) ([]byte, error) {
	if len(module) < 8 {
		return nil, errors.New("wasmtest: not a module")
	}
	type section struct {
		id      byte
		payload []byte
	}
	var secs []section
	for p := 8; p < len(module); {
		id := module[p]
		size, n := binary.Uvarint(module[p+1:])
		start := p + 1 + n
		if n <= 0 || start+int(size) > len(module) {
			return nil, errors.New("wasmtest: bad section")
		}
		secs = append(secs, section{id, module[start : start+int(size)]})
		p = start + int(size)
	}
	r := func(b []byte, p *int) uint64 {
		v, n := binary.Uvarint(b[*p:])
		*p += n
		return v
	}
	// The new global's index: after the imported and defined ones.
	var global uint64
	for _, s := range secs {
		b, p := s.payload, 0
		switch s.id {
		case 2: // imports
			for range r(b, &p) {
				p += int(r(b, &p))
				p += int(r(b, &p))
				kind := b[p]
				p++
				switch kind {
				case 0: // func
					r(b, &p)
				case 1, 2: // table (reftype, limits), memory (limits)
					if kind == 1 {
						p++
					}
					flags := b[p]
					p++
					r(b, &p)
					if flags&1 != 0 {
						r(b, &p)
					}
				case 3: // global
					p += 2
					global++
				case 4: // tag
					p++
					r(b, &p)
				default:
					return nil, fmt.Errorf("wasmtest: import kind %d", kind)
				}
			}
		case 6:
			global += r(b, &p)
		}
	}
	newGlobal := []byte{0x7F, 1, 0x41, 0, 0x0B} // (mut i32) (i32.const 0)
	get := append([]byte{0x23}, binary.AppendUvarint(nil, global)...)
	set := append([]byte{0x24}, binary.AppendUvarint(nil, global)...)
	pad := append(append([]byte{}, get...), 0x04, 0x40) // if
	for range k {
		pad = append(append(pad, get...), set...)
	}
	pad = append(pad, 0x0B) // end
	hasGlobals := false
	var out []section
	for _, s := range secs {
		switch s.id {
		case 6:
			hasGlobals = true
			b, p := s.payload, 0
			n := r(b, &p)
			s.payload = append(append(binary.AppendUvarint(nil, n+1), b[p:]...), newGlobal...)
		case 7, 8, 9, 10, 11, 12: // the sections that follow globals
			if !hasGlobals {
				out = append(out, section{6, append([]byte{1}, newGlobal...)})
				hasGlobals = true
			}
			if s.id == 10 {
				b, p := s.payload, 0
				n := r(b, &p)
				size := int(r(b, &p))
				body := b[p : p+size]
				q := 0
				for range r(body, &q) { // locals
					r(body, &q)
					q++
				}
				nb := append(append(append([]byte{}, body[:q]...), pad...), body[q:]...)
				pl := binary.AppendUvarint(nil, n)
				pl = binary.AppendUvarint(pl, uint64(len(nb)))
				s.payload = append(append(pl, nb...), b[p+size:]...)
			}
		}
		out = append(out, s)
	}
	b := append([]byte{}, module[:8]...)
	for _, s := range out {
		b = append(b, s.id)
		b = binary.AppendUvarint(b, uint64(len(s.payload)))
		b = append(b, s.payload...)
	}
	return b, nil
}
