package governance

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"

	"github.com/intercooperative-network/icn-go/ccl/runtime"
	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// BenchmarkWarmEval is one evaluation of supermajority_2_3's passes on a
// 1,000-member snapshot through the actor, the policy already loaded
// (the goal: under 1 ms warm). The snapshot is parsed on every
// call, as a request's would be.
func BenchmarkWarmEval(b *testing.B) {
	n := startNode(b)
	src, err := os.ReadFile(corpusDir + "/supermajority_2_3.ccl")
	if err != nil {
		b.Fatal(err)
	}
	info := n.publish(b, "supermajority_2_3.ccl", string(src))
	s := runtime.Snapshot{Votes: map[string]runtime.Vote{}}
	for i := range 1000 {
		d := fmt.Sprintf("did:key:z6Mk%04d", i)
		s.Members = append(s.Members, d)
		if i%3 != 0 {
			s.Votes[d] = runtime.VoteYes
		}
	}
	snap, err := json.Marshal(s)
	if err != nil {
		b.Fatal(err)
	}
	msg := &messages.EvalContract{CID: info.Manifest, Entry: "passes", Snapshot: snap}
	ctx := context.Background()
	for b.Loop() {
		r, err := supervisors.Ask[*messages.EvalResult](ctx, n.tree, Name, msg)
		if err != nil || !r.Bool {
			b.Fatalf("%+v, %v", r, err)
		}
	}
}
