package wasm

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
)

// TestJobExamples builds the Go jobs of examples/jobs for GOOS=wasip1 (as
// `make examples` does) and runs each through the engine, checking the
// outcome docs/jobs.md promises for it. It compiles six Go programs and six
// modules, so -short skips it.
func TestJobExamples(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds and compiles the Go examples")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to build the examples: %v", err)
	}
	root := wasmtest.Root(t)
	bin := t.TempDir()
	// One go build for all of them: the builds share the cache and the
	// cores, and a directory as -o takes every main package.
	cmd := exec.Command(goBin, "build", "-o", bin+string(filepath.Separator), "./examples/jobs/...")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building examples/jobs: %v\n%s", err, out)
	}
	module := func(t *testing.T, name string) []byte {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(bin, name))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	e := newEngine(t)
	input := []byte("hello, cooperative world\n")
	sum := sha256.Sum256(input)
	for _, c := range []struct {
		name   string
		job    Job
		err    error  // the run's error (nil: a clean exit)
		exit   uint32 // with a clean exit
		stdout string // with a clean exit
	}{
		{name: "echo-upper", job: Job{Stdin: input}, stdout: strings.ToUpper(string(input))},
		{name: "sha256", job: Job{Stdin: input}, stdout: hex.EncodeToString(sum[:]) + "\n"},
		{name: "primes", job: Job{Args: []string{"100000"}}, stdout: "9592\n"},
		{name: "primes", job: Job{Args: []string{"x"}}, exit: 2},
		// The loop meets whichever limit comes first: fuel here, then the
		// wall clock with fuel to spare.
		{name: "loop", job: Job{Limits: Limits{Fuel: 200_000_000}}, err: ErrOutOfFuel},
		{name: "loop", job: Job{Limits: Limits{Timeout: 300 * time.Millisecond}}, err: ErrTimeout},
		{name: "hog", job: Job{Limits: Limits{MemoryPages: 64 << 4}}, err: ErrMemory}, // 64 MiB
		{name: "openfile", job: Job{}, exit: 1},
	} {
		name := c.name
		if len(c.job.Args) > 0 {
			name += "_" + strings.Join(c.job.Args, "_")
		}
		t.Run(name, func(t *testing.T) {
			j := c.job
			j.Key, j.Module = c.name, module(t, c.name)
			res, err := e.Run(t.Context(), j)
			if c.err != nil {
				if !errors.Is(err, c.err) {
					t.Fatalf("err %v, want %v (exit %d, stderr %q)", err, c.err, res.ExitCode, res.Stderr)
				}
				return
			}
			if err != nil {
				t.Fatalf("run: %v (stderr %q)", err, res.Stderr)
			}
			if res.ExitCode != c.exit || c.exit == 0 && string(res.Stdout) != c.stdout {
				t.Fatalf("exit %d, stdout %q (stderr %q); want exit %d, %q", res.ExitCode, res.Stdout, res.Stderr, c.exit, c.stdout)
			}
			if c.exit != 0 && len(res.Stderr) == 0 {
				t.Fatalf("exit %d without a word on stderr", res.ExitCode)
			}
			t.Logf("exit %d, fuel %d, %s, stderr %q", res.ExitCode, res.FuelUsed, res.Wall, res.Stderr)
		})
	}
}
