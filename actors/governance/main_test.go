package governance

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/intercooperative-network/icn-go/actors/dag"
	"github.com/intercooperative-network/icn-go/ccl/runtime"
	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/clock/clocktest"
	"github.com/intercooperative-network/icn-go/services/store/memstore"
	"github.com/intercooperative-network/icn-go/supervisors"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		goleak.IgnoreAnyFunction("github.com/asynkron/protoactor-go/actor.NewDeadLetter.NewThrottle.func4.1"),
		goleak.IgnoreAnyFunction("github.com/golang/glog.(*fileSink).flushDaemon"),
	)
}

var t0 = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

// node is a tree with the dag and governance actors over a memstore.
type node struct {
	tree *supervisors.Tree
}

// startNode launches a node whose runtime has the given options; it stops
// when the test ends.
func startNode(t testing.TB, opts ...runtime.Option) *node {
	t.Helper()
	rt, err := runtime.New(opts...)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	dm, err := dag.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	clk := clocktest.New(t0)
	d := supervisors.ProductionDefaults()
	d.Backoff.Initial, d.Backoff.Max = time.Millisecond, 5*time.Millisecond
	tree, err := supervisors.New(supervisors.Spec{Name: "icn", Children: []supervisors.ChildSpec{
		{Name: dag.Name, Restart: supervisors.Permanent, New: dag.New(dag.Deps{Store: memstore.New(), Clock: clk,
			Config: dag.Config{MaxBlockSize: 1 << 20, GCGrace: time.Hour}, Metrics: dm, Logger: discard()})},
		{Name: Name, Restart: supervisors.Permanent, New: New(Deps{Clock: clk, Runtime: rt, Logger: discard()})},
	}}, discard(), reg, supervisors.WithDefaults(d))
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := tree.Stop(context.Background()); err != nil {
			t.Error(err)
		}
		if err := rt.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return &node{tree: tree}
}

func (n *node) request(msg any) (any, error) {
	return n.tree.Request(context.Background(), Name, msg)
}

func (n *node) publish(t testing.TB, filename, src string) *messages.ContractInfo {
	t.Helper()
	r, err := supervisors.Ask[*messages.ContractInfo](context.Background(), n.tree, Name,
		&messages.PublishContract{Filename: filename, Source: []byte(src)})
	if err != nil {
		t.Fatalf("publish %s: %v", filename, err)
	}
	return r
}

// corpusRow is one row of the acceptance corpus table of docs/ccl.md.
type corpusRow struct {
	line                                  int
	file, entry, snapshot, args, expected string
}

// readCorpus parses the table under "## The acceptance corpus", as
// ccl/runtime's corpus test does: the node must give the same answers as
// the runtime alone.
func readCorpus(t *testing.T) []corpusRow {
	t.Helper()
	b, err := os.ReadFile("../../docs/ccl.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []corpusRow
	in := false
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "## "):
			in = line == "## The acceptance corpus"
			continue
		case !in || !strings.HasPrefix(line, "|") || strings.HasPrefix(line, "| file |") || strings.HasPrefix(line, "|---"):
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), " | ")
		if len(cells) != 5 {
			t.Fatalf("docs/ccl.md:%d: %d cells, want 5", n, len(cells))
		}
		for i, c := range cells {
			c = strings.TrimSpace(c)
			c = strings.TrimSuffix(strings.TrimPrefix(c, "`"), "`")
			if c == "—" {
				c = ""
			}
			cells[i] = c
		}
		out = append(out, corpusRow{line: n, file: cells[0], entry: cells[1], snapshot: cells[2], args: cells[3], expected: cells[4]})
	}
	if len(out) < 40 {
		t.Fatalf("docs/ccl.md: only %d corpus rows", len(out))
	}
	return out
}
