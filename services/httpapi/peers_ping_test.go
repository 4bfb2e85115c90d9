package httpapi

import (
	"context"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/identity/keyringtest"
	"github.com/intercooperative-network/icn-go/services/network/memnet"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// otherPeersNode starts a second node on the fixture's fabric with a real
// peer manager, which answers pings; the fixture's node is connected to
// it.
func (f *fixture) otherPeersNode(t *testing.T) (*identity.Identity, *memnet.Network) {
	t.Helper()
	reg := prometheus.NewRegistry()
	var n *memnet.Network
	id, producer := newPeers(t, reg, f.fabric, &n)
	tree, err := supervisors.New(supervisors.Spec{Name: "icn", Children: []supervisors.ChildSpec{
		{Name: peersActor, Restart: supervisors.Permanent, New: producer},
	}}, slog.New(slog.DiscardHandler), reg)
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tree.Stop(context.Background()) })
	f.api(t, "POST", "/api/v1/peers", `{"addr": "`+n.Addr().String()+`"}`, 201, nil)
	return id, n
}

func pingPath(peer, query string) string {
	return "/api/v1/peers/" + url.PathEscape(peer) + "/ping" + query
}

// TestPingRoute: round trips to a node whose peer manager answers, named
// by peer ID or DID; the answer matches the OpenAPI document.
func TestPingRoute(t *testing.T) {
	f := newFixture(t)
	id, other := f.otherPeersNode(t)
	tests := []struct {
		name, peer, query string
		count             int
	}{
		{"by peer ID", other.ID().String(), "?count=20", 20},
		{"by DID", id.DID().String(), "?count=1", 1},
		{"the default count", other.ID().String(), "", messages.DefaultPingCount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r PingResult
			f.api(t, "POST", pingPath(tt.peer, tt.query), "", 200, &r)
			rtt := r.RTTMS
			if r.PeerID != other.ID().String() || r.DID != id.DID().String() || r.Count != tt.count || r.Failed != 0 ||
				rtt.Min <= 0 || rtt.Min > rtt.P50 || rtt.P50 > rtt.P99 || rtt.P99 > rtt.Max {
				t.Fatalf("ping: %+v", r)
			}
		})
	}
}

// TestPingRouteRefusals: a bad count, a peer that is not one, a peer never
// known, one that went away and then one whose breaker is open, each with
// its code.
func TestPingRouteRefusals(t *testing.T) {
	f := newFixture(t)
	_, other := f.otherPeersNode(t)
	op := other.ID().String()
	stranger, sp := keyringtest.NewPeer(t)
	tests := []struct {
		name, path string
		gone       bool // stop the other node first
		status     int
		code       string
	}{
		{"count 0", pingPath(op, "?count=0"), false, 400, CodeBadRequest},
		{"count over the limit", pingPath(op, "?count=1001"), false, 400, CodeBadRequest},
		{"count not a number", pingPath(op, "?count=many"), false, 400, CodeBadRequest},
		{"nonsense", pingPath("nonsense", ""), false, 400, CodeInvalidPeer},
		{"this node", pingPath(f.net.ID().String(), ""), false, 400, CodeInvalidPeer},
		{"a peer never known", pingPath(sp.String(), ""), false, 404, CodeNotFound},
		{"a DID never known", pingPath(stranger.DID().String(), ""), false, 404, CodeNotFound},
		// The default breaker opens after 3 failures in a row: the series
		// fails, and the next one fails fast.
		{"a peer gone", pingPath(op, "?count=10"), true, 502, CodePeerUnreachable},
		{"a peer whose breaker is open", pingPath(op, ""), true, 503, CodePeerUnavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.gone { // stopping twice is a no-op
				if err := other.Stop(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			began := time.Now()
			rec := f.api(t, "POST", tt.path, "", tt.status, nil)
			if eb := errorBody(t, rec); eb.Code != tt.code {
				t.Fatalf("code %q, want %q (%s)", eb.Code, tt.code, eb.Error)
			}
			if tt.status == 503 && (rec.Header().Get("Retry-After") == "" || time.Since(began) > time.Second) {
				t.Fatalf("breaker open: Retry-After %q after %s", rec.Header().Get("Retry-After"), time.Since(began))
			}
		})
	}
}

func TestPingResultPercentiles(t *testing.T) {
	ms := func(ns ...int) []time.Duration {
		out := make([]time.Duration, len(ns))
		for i, n := range ns {
			out[i] = time.Duration(n) * time.Millisecond
		}
		return out
	}
	hundred := make([]int, 100)
	for i := range hundred {
		hundred[i] = i + 1
	}
	tests := []struct {
		name string
		rtts []time.Duration
		want RTTSummary
	}{
		{"none", nil, RTTSummary{}},
		{"one", ms(7), RTTSummary{7, 7, 7, 7}},
		{"two", ms(1, 9), RTTSummary{1, 1, 9, 9}},
		{"a hundred", ms(hundred...), RTTSummary{1, 50, 99, 100}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := pingResult(&messages.PingReport{Peer: "p", DID: "d", Count: 100, RTTs: tt.rtts, Failed: 100 - len(tt.rtts)})
			if r.RTTMS != tt.want || r.PeerID != "p" || r.DID != "d" || r.Count != 100 || r.Failed != 100-len(tt.rtts) {
				t.Fatalf("%+v, want rtt_ms %+v", r, tt.want)
			}
		})
	}
}
