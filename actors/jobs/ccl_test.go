package jobs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/intercooperative-network/icn-go/actors/dag"
	"github.com/intercooperative-network/icn-go/ccl"
	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/messages/block"
	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
)

// A CCL program compiled with --wasi (ccl.CompileWASI) is an ordinary mesh
// job: it runs metered on the pool, prints run()'s value, and a trap is a
// failed job whose log names it.
func TestCCLProgramRunsAsAJob(t *testing.T) {
	n := startNode(t, 1, Config{})
	loops, err := os.ReadFile(filepath.Join(wasmtest.Root(t), "ccl", "testdata", "corpus", "loops.ccl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, src string
		output    string // of a completed job
		trap      string // in the log of a failed one
	}{
		{name: "corpus loops", src: string(loops), output: "5530\n"},
		{name: "overflow", src: `fn run() -> Integer { let x = 9223372036854775807; return x + 1; }`, trap: "trap overflow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			module, err := ccl.CompileWASI(tc.name+".ccl", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			b, err := block.NewRaw(module.WASM)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := n.tree.Request(ctx(t), dag.Name, &messages.PutBlocks{Blocks: []block.Block{b}}); err != nil {
				t.Fatal(err)
			}
			s, err := n.submit(t, messages.JobSpec{Module: b.CID()})
			if err != nil {
				t.Fatal(err)
			}
			done := n.wait(t, s.ID)
			if tc.trap == "" {
				if done.State != messages.JobCompleted || done.Receipt == nil || done.Receipt.FuelUsed == 0 {
					t.Fatalf("state %s (%s), receipt %+v", done.State, done.Reason, done.Receipt)
				}
				if got := string(n.block(t, done.Receipt.Output)); got != tc.output {
					t.Fatalf("output %q, want %q", got, tc.output)
				}
				return
			}
			if done.State != messages.JobFailed || done.Reason != messages.ReasonExitCode+": 1" || done.Receipt == nil ||
				!strings.Contains(string(done.Receipt.Stderr), tc.trap) {
				t.Fatalf("state %s (%s), receipt %+v, want failed exit_code: 1 with %q in the log", done.State, done.Reason, done.Receipt, tc.trap)
			}
		})
	}
}
