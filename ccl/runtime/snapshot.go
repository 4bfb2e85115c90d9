package runtime

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/intercooperative-network/icn-go/ccl"
)

// Vote is a ballot option, as vote_count and vote_of number them.
type Vote int64

// The options. Their numbers are part of the host ABI.
const (
	VoteYes     Vote = 1 // yes, consent, agree
	VoteNo      Vote = 2 // no, objection, disagree
	VoteAbstain Vote = 3 // abstain, stand-aside
	VoteVeto    Vote = 4 // veto, block
)

// voteNames maps each spelling of an option to it.
func voteByName(s string) (Vote, bool) {
	switch strings.ToLower(s) {
	case "yes", "consent", "agree":
		return VoteYes, true
	case "no", "objection", "object", "disagree":
		return VoteNo, true
	case "abstain", "stand-aside", "stand_aside":
		return VoteAbstain, true
	case "veto", "block":
		return VoteVeto, true
	}
	return 0, false
}

// String returns the option's first name.
func (v Vote) String() string {
	switch v {
	case VoteYes:
		return "yes"
	case VoteNo:
		return "no"
	case VoteAbstain:
		return "abstain"
	case VoteVeto:
		return "veto"
	}
	return strconv.FormatInt(int64(v), 10)
}

// MarshalJSON writes the option's name.
func (v Vote) MarshalJSON() ([]byte, error) {
	if v < VoteYes || v > VoteVeto {
		return nil, fmt.Errorf("runtime: vote option %d: want 1 to 4", int64(v))
	}
	return json.Marshal(v.String())
}

// UnmarshalJSON reads an option's name (any spelling: "consent",
// "objection", "stand-aside", "block"...) or its number, 1 to 4.
func (v *Vote) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		o, ok := voteByName(s)
		if !ok {
			return fmt.Errorf("runtime: vote %q: want yes, no, abstain or veto (or consent, objection, stand-aside, block, agree, disagree)", s)
		}
		*v = o
		return nil
	}
	var n int64
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("runtime: vote %s: want an option name or 1 to 4", b)
	}
	if n < 1 || n > 4 {
		return fmt.Errorf("runtime: vote option %d: want 1 to 4", n)
	}
	*v = Vote(n)
	return nil
}

// Snapshot is the state a policy is evaluated against, as JSON. Every
// field may be left out (zero: no members, no votes, time 0, empty DIDs).
//
//	{
//	  "members": ["did:key:z6MkA", "did:key:z6MkB"],
//	  "votes": {"did:key:z6MkA": "yes", "did:key:z6MkB": "objection"},
//	  "delegations": {"did:key:z6MkC": "did:key:z6MkA"},
//	  "balances": {"did:key:z6MkA": 40},
//	  "reputation": {"did:key:z6MkA": 9},
//	  "now": 1700000000,
//	  "proposal_created": 1699900000,
//	  "voting_ends": 1700086400,
//	  "proposer": "did:key:z6MkA",
//	  "caller": "did:key:z6MkB",
//	  "params": {"amount": 250},
//	  "treasury": "did:key:z6MkTreasury"
//	}
type Snapshot struct {
	// Members are the members' DIDs, in any order (the runtime sorts them
	// and drops duplicates).
	Members []string `json:"members,omitempty"`
	// Votes are the ballots cast, by DID: an option name or number.
	Votes map[string]Vote `json:"votes,omitempty"`
	// Delegations map a DID to the DID it delegates its vote to. A DID
	// that did not vote takes the vote of the end of its chain (cycles
	// and chains that reach no vote give no vote).
	Delegations map[string]string `json:"delegations,omitempty"`
	// Balances and Reputation are by DID; a DID not listed has 0.
	Balances   map[string]int64 `json:"balances,omitempty"`
	Reputation map[string]int64 `json:"reputation,omitempty"`
	// Now, ProposalCreated and VotingEnds are Timestamps: seconds since
	// the Unix epoch. Now is the evaluation time, what now() returns.
	Now             int64 `json:"now"`
	ProposalCreated int64 `json:"proposal_created"`
	VotingEnds      int64 `json:"voting_ends"`
	// Proposer, Caller and Treasury are DIDs.
	Proposer string `json:"proposer,omitempty"`
	Caller   string `json:"caller,omitempty"`
	Treasury string `json:"treasury,omitempty"`
	// Params are the proposal's numeric parameters (proposal_param).
	Params map[string]int64 `json:"params,omitempty"`
}

// ParseSnapshot decodes a snapshot's JSON, refusing unknown fields, and
// freezes it.
func ParseSnapshot(b []byte) (*Frozen, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var s Snapshot
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("runtime: snapshot: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("runtime: snapshot: data after the JSON object")
	}
	return s.Freeze()
}

// Frozen is an immutable snapshot, ready for any number of concurrent
// calls.
type Frozen struct {
	members  []string // sorted, unique
	isMember map[string]bool
	votes    map[string]Vote // effective votes, delegations resolved
	counts   [5]int64        // by option
	snap     Snapshot        // the scalar fields and the maps (read only)
}

// Freeze checks the snapshot and makes the immutable form the host
// functions read. It copies what it keeps.
func (s Snapshot) Freeze() (*Frozen, error) {
	checkDid := func(what, d string, empty bool) error {
		if d == "" && empty {
			return nil
		}
		if !strings.HasPrefix(d, "did:") || len(d) > ccl.MaxHostBytes {
			return fmt.Errorf("runtime: snapshot: %s %q: want a DID (did:method:id) of at most %d bytes", what, d, ccl.MaxHostBytes)
		}
		return nil
	}
	f := &Frozen{isMember: map[string]bool{}, votes: map[string]Vote{}}
	for _, m := range s.Members {
		if err := checkDid("member", m, false); err != nil {
			return nil, err
		}
		if !f.isMember[m] {
			f.isMember[m] = true
			f.members = append(f.members, m)
		}
	}
	slices.Sort(f.members)
	for _, d := range []struct{ what, v string }{{"proposer", s.Proposer}, {"caller", s.Caller}, {"treasury", s.Treasury}} {
		if err := checkDid(d.what, d.v, true); err != nil {
			return nil, err
		}
	}
	for d, v := range s.Votes {
		if v < VoteYes || v > VoteVeto {
			return nil, fmt.Errorf("runtime: snapshot: vote of %s: option %d: want 1 to 4", d, int64(v))
		}
		f.votes[d] = v
	}
	for d := range s.Delegations {
		if _, voted := s.Votes[d]; voted {
			continue
		}
		seen := map[string]bool{d: true}
		for to, ok := s.Delegations[d]; ok && !seen[to]; to, ok = s.Delegations[to] {
			if v, voted := s.Votes[to]; voted {
				f.votes[d] = v
				break
			}
			seen[to] = true
		}
	}
	for _, v := range f.votes {
		f.counts[v]++
	}
	f.snap = Snapshot{
		Now: s.Now, ProposalCreated: s.ProposalCreated, VotingEnds: s.VotingEnds,
		Proposer: s.Proposer, Caller: s.Caller, Treasury: s.Treasury,
		Balances: copyMap(s.Balances), Reputation: copyMap(s.Reputation), Params: copyMap(s.Params),
	}
	return f, nil
}

func copyMap(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Members returns the members in the order member_at indexes them.
func (f *Frozen) Members() []string { return slices.Clone(f.members) }

// VoteOf returns a DID's effective vote, 0 when it has none.
func (f *Frozen) VoteOf(did string) Vote { return f.votes[did] }
