package runtime_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/intercooperative-network/icn-go/ccl"
	"github.com/intercooperative-network/icn-go/ccl/runtime"
	"github.com/intercooperative-network/icn-go/ccl/wasmenc"
)

const (
	docPath    = "../../docs/ccl.md"
	corpusDir  = "../../examples/ccl"
	corpusHead = "## The acceptance corpus"
	handMadeAt = "(hand-made) "
)

// corpusCase is one row of the corpus table of docs/ccl.md.
type corpusCase struct {
	line                                  int
	file, entry, snapshot, args, expected string
}

// readCorpusTable parses the table under corpusHead.
func readCorpusTable(t testing.TB) []corpusCase {
	t.Helper()
	b, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatal(err)
	}
	var out []corpusCase
	in, header := false, false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == corpusHead
			continue
		case !in || !strings.HasPrefix(line, "|"):
			if header && len(out) > 0 {
				in = false
			}
			continue
		case strings.HasPrefix(line, "| file |"):
			header = true
			continue
		case strings.HasPrefix(line, "|---"):
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) != 5 {
			t.Fatalf("%s:%d: %d cells, want 5: %s", docPath, n, len(cells), line)
		}
		for i, c := range cells {
			c = strings.TrimSpace(c)
			c = strings.TrimSuffix(strings.TrimPrefix(c, "`"), "`")
			if c == "—" {
				c = ""
			}
			cells[i] = c
		}
		out = append(out, corpusCase{line: n, file: cells[0], entry: cells[1], snapshot: cells[2], args: cells[3], expected: cells[4]})
	}
	if len(out) < 40 {
		t.Fatalf("%s: found %d corpus rows under %q", docPath, len(out), corpusHead)
	}
	return out
}

// TestCorpusTable runs every row of the corpus table of docs/ccl.md.
func TestCorpusTable(t *testing.T) {
	r := newRuntime(t)
	ctx := context.Background()
	for _, tc := range readCorpusTable(t) {
		t.Run(fmt.Sprintf("%d_%s_%s", tc.line, tc.file, tc.entry), func(t *testing.T) {
			t.Logf("docs/ccl.md:%d", tc.line)
			var (
				p   *runtime.Policy
				err error
			)
			if name, ok := strings.CutPrefix(tc.file, handMadeAt); ok {
				mod, fn, _ := strings.Cut(name, ".")
				p, err = r.Load(handMade(mod, fn, nil, []wasmenc.ValType{wasmenc.I64}))
			} else {
				src, rerr := os.ReadFile(filepath.Join(corpusDir, tc.file))
				if rerr != nil {
					t.Fatal(rerr)
				}
				p, err = r.Compile(tc.file, src)
			}
			if want, ok := strings.CutPrefix(tc.expected, "error "); ok {
				list, isList := errors.AsType[ccl.ErrorList](err)
				if !isList || list[0].Error() != want {
					t.Fatalf("compile: %v\nwant the first error %s", err, want)
				}
				return
			}
			if want, ok := strings.CutPrefix(tc.expected, "load "); ok {
				e, isErr := errors.AsType[*runtime.Error](err)
				if !isErr || string(e.Kind) != want {
					t.Fatalf("load: %v, want %s", err, want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var snap *runtime.Frozen
			if tc.snapshot != "" {
				b, err := os.ReadFile(filepath.Join(corpusDir, "snapshots", tc.snapshot))
				if err != nil {
					t.Fatal(err)
				}
				if snap, err = runtime.ParseSnapshot(b); err != nil {
					t.Fatal(err)
				}
			}
			e, ok := p.Entry(tc.entry)
			if !ok {
				t.Fatalf("no entry point %q", tc.entry)
			}
			var args []runtime.Value
			if tc.args != "" {
				parts := strings.Split(tc.args, ",")
				if len(parts) != len(e.Params) {
					t.Fatalf("%d args, %s takes %d", len(parts), tc.entry, len(e.Params))
				}
				for i, s := range parts {
					v, err := runtime.ParseValue(e.Params[i], strings.TrimSpace(s))
					if err != nil {
						t.Fatal(err)
					}
					args = append(args, v)
				}
			}
			var fuel []uint64
			for range 2 {
				res, err := p.Call(ctx, tc.entry, snap, args...)
				fuel = append(fuel, res.FuelUsed)
				var got string
				if tr, ok := errors.AsType[*runtime.Trap](err); ok {
					got = "trap " + tr.Error()
				} else if err != nil {
					t.Fatal(err)
				} else {
					got = res.Value.String()
				}
				if got != tc.expected {
					t.Fatalf("%s(%s) = %s, want %s", tc.entry, tc.args, got, tc.expected)
				}
			}
			if fuel[0] != fuel[1] || fuel[0] == 0 {
				t.Errorf("fuel used %v: want the same, twice", fuel)
			}
		})
	}
}

// contractIDs is what identifies a compiled program: the SHA-256 of its
// module and the CIDs of the three blocks a node publishes.
func contractIDs(t testing.TB, src []byte, out *ccl.Output) string {
	t.Helper()
	sb, wb, mb, _, err := ccl.Pack(src, out)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(out.WASM)
	return fmt.Sprintf("sha256:%s source:%s wasm:%s manifest:%s", hex.EncodeToString(sum[:]), sb.CID(), wb.CID(), mb.CID())
}

// corpusHashes compiles every program of examples/ccl (errors/ aside)
// twice and returns the contractIDs of each, by file.
func corpusHashes(t testing.TB) map[string]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(corpusDir, "*.ccl"))
	if err != nil || len(files) < 8 {
		t.Fatalf("corpus %v: %v", files, err)
	}
	out := map[string]string{}
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := filepath.Base(f)
		a, err := ccl.Compile(name, src)
		if err != nil {
			t.Fatal(err)
		}
		b, err := ccl.Compile(name, src)
		if err != nil {
			t.Fatal(err)
		}
		ida, idb := contractIDs(t, src, a), contractIDs(t, src, b)
		if !bytes.Equal(a.WASM, b.WASM) || ida != idb {
			t.Errorf("%s: two compilations differ: %s and %s", name, ida, idb)
		}
		out[name] = ida
	}
	return out
}

func formatHashes(m map[string]string) string {
	var names []string
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s %s\n", n, m[n])
	}
	return b.String()
}

// TestCorpusDeterminism compiles the corpus twice here and once in
// another process (this test binary, run again): the module bytes, and
// the source, module and manifest CIDs, agree.
func TestCorpusDeterminism(t *testing.T) {
	here := formatHashes(corpusHashes(t))
	if os.Getenv("CCL_CORPUS_HASHES") == "1" {
		fmt.Print("HASHES\n" + here)
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCorpusDeterminism$")
	cmd.Env = append(os.Environ(), "CCL_CORPUS_HASHES=1")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("the second process: %v\n%s", err, out)
	}
	_, there, ok := strings.Cut(string(out), "HASHES\n")
	if !ok || !strings.HasPrefix(there, here) {
		t.Fatalf("the processes disagree:\nhere:\n%s\nthere:\n%s", here, out)
	}
}
