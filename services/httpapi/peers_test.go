package httpapi

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/asynkron/protoactor-go/actor"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/actors/peers"
	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/identity/keyringtest"
	"github.com/intercooperative-network/icn-go/services/network/memnet"
	"github.com/intercooperative-network/icn-go/services/runtest"
)

// newFabric is a memnet fabric closed at the end of the test (after the
// nodes on it, whose cleanups run first).
func newFabric(t *testing.T) *memnet.Fabric {
	t.Helper()
	f := memnet.NewFabric()
	t.Cleanup(func() { _ = f.Close() })
	return f
}

// startNet starts a memnet network for a new identity on fabric, stopped at
// the end of the test (after a tree started later has stopped).
func startNet(t *testing.T, reg prometheus.Registerer, fabric *memnet.Fabric) (*identity.Identity, *memnet.Network) {
	t.Helper()
	id, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	n, err := memnet.New(fabric, id, memnet.Options{}, reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	runtest.Start(t, n)
	return id, n
}

// newPeers is the real peer manager's producer over a new node's memnet
// network, which it stores in *net.
func newPeers(t *testing.T, reg prometheus.Registerer, fabric *memnet.Fabric, net **memnet.Network) (*identity.Identity, func() actor.Actor) {
	t.Helper()
	id, n := startNet(t, reg, fabric)
	m, err := peers.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	producer, err := peers.New(peers.Deps{Network: n, Identity: id, Clock: clock.Real{}, Metrics: m, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	*net = n
	return id, producer
}

// otherNode starts a bare node (a network, no actors) on the fixture's
// fabric: a peer to dial and to partition from.
func (f *fixture) otherNode(t *testing.T) (*identity.Identity, *memnet.Network) {
	t.Helper()
	return startNet(t, prometheus.NewRegistry(), f.fabric)
}

// adminAPI is api on the admin listener, with the admin token.
func (f *fixture) adminAPI(t *testing.T, method, path, body string, status int, out any) *httptest.ResponseRecorder {
	t.Helper()
	c := call{method: method, path: path, token: adminToken, body: body}
	if body != "" {
		c.contentType = "application/json"
	}
	rec := f.do(t, f.srv.Admin(), c)
	if f.adminRouter == nil {
		f.adminRouter = openAPIRouter(t, f.srv.Admin())
	}
	checkAnswer(t, f.adminRouter, c, rec)
	if rec.Code != status {
		t.Fatalf("%s %s: status %d, want %d: %s", method, path, rec.Code, status, rec.Body)
	}
	if out != nil {
		reflect.ValueOf(out).Elem().SetZero()
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, rec.Body)
		}
	}
	return rec
}

// peerRowOf is the fixture node's row for p, if it has one.
func (f *fixture) peerRowOf(t *testing.T, p string) (Peer, bool) {
	t.Helper()
	var l PeerList
	f.api(t, "GET", "/api/v1/peers", "", 200, &l)
	for _, row := range l.Peers {
		if row.PeerID == p {
			return row, true
		}
	}
	return Peer{}, false
}

func (f *fixture) blocked(t *testing.T) []string {
	t.Helper()
	var fl Faults
	f.adminAPI(t, "GET", "/admin/faults", "", 200, &fl)
	return fl.Blocked
}

func connectedTo(n *memnet.Network, p peer.ID) bool { return slices.Contains(n.Connected(), p) }

// TestPeersAndPartitionRoutes drives the peers and fault routes into the
// real peer manager over a memnet network with a second node: dial, the
// table, a partition that really disconnects, and a heal the node redials
// after; every answer is checked against the OpenAPI documents.
func TestPeersAndPartitionRoutes(t *testing.T) {
	f := newFixture(t)
	otherID, other := f.otherNode(t)
	op := other.ID().String()
	var l PeerList
	f.api(t, "GET", "/api/v1/peers", "", 200, &l)
	if len(l.Peers) != 0 {
		t.Fatalf("a node that dialled nobody knows peers: %+v", l)
	}

	var p Peer
	f.api(t, "POST", "/api/v1/peers", `{"addr": "`+other.Addr().String()+`"}`, 201, &p)
	if p.PeerID != op || p.DID != otherID.DID().String() || !p.Connected || p.Since == "" || p.LastSeen == "" ||
		p.Breaker != "closed" || len(p.Addrs) == 0 {
		t.Fatalf("connect: %+v", p)
	}
	if _, err := time.Parse(time.RFC3339Nano, p.Since); err != nil {
		t.Fatalf("since %q: %v", p.Since, err)
	}
	if !connectedTo(other, f.net.ID()) {
		t.Fatal("the other node is not connected to the fixture's")
	}
	f.api(t, "GET", "/api/v1/peers", "", 200, &l)
	if len(l.Peers) != 1 || l.Peers[0].PeerID != op || !l.Peers[0].Connected || l.Peers[0].DID != p.DID {
		t.Fatalf("peers after the dial: %+v", l)
	}
	// Dialling a connected peer again is no error.
	f.api(t, "POST", "/api/v1/peers", `{"addr": "`+other.Addr().String()+`"}`, 201, &p)

	// Partition: the connection closes, and neither side can dial.
	var fl Faults
	f.adminAPI(t, "POST", "/admin/faults/partition", `{"peers": ["`+op+`"]}`, 200, &fl)
	if !slices.Equal(fl.Blocked, []string{op}) {
		t.Fatalf("partition answered %+v", fl)
	}
	waitFor(t, "the partition to disconnect", func() bool {
		row, ok := f.peerRowOf(t, op)
		return ok && !row.Connected && row.Since == "" && !connectedTo(other, f.net.ID())
	})
	if got := f.blocked(t); !slices.Equal(got, []string{op}) {
		t.Fatalf("faults: %v", got)
	}
	rec := f.api(t, "POST", "/api/v1/peers", `{"addr": "`+other.Addr().String()+`"}`, 502, nil)
	if eb := errorBody(t, rec); eb.Code != CodePeerUnreachable {
		t.Fatalf("dial of a blocked peer: %+v", eb)
	}
	if err := other.Connect(t.Context(), f.net.Addr()); err == nil {
		t.Fatal("the blocked peer could dial the node")
	}

	// Heal by ?peer=: the node redials the peer by itself.
	f.adminAPI(t, "DELETE", "/admin/faults/partition?peer="+op, "", 200, &fl)
	if len(fl.Blocked) != 0 || fl.Blocked == nil {
		t.Fatalf("heal answered %s", mustJSON(t, fl))
	}
	waitFor(t, "the node to redial the healed peer", func() bool {
		row, ok := f.peerRowOf(t, op)
		return ok && row.Connected && connectedTo(other, f.net.ID())
	})

	// Two peers blocked (one never seen); heal one by body, then all.
	_, stranger := f.otherNode(t)
	sp := stranger.ID().String()
	f.adminAPI(t, "POST", "/admin/faults/partition", `{"peers": ["`+sp+`", "`+op+`"]}`, 200, &fl)
	if want := slices.Sorted(slices.Values([]string{op, sp})); !slices.Equal(fl.Blocked, want) {
		t.Fatalf("partition of two: %v, want %v", fl.Blocked, want)
	}
	f.adminAPI(t, "DELETE", "/admin/faults/partition", `{"peers": ["`+sp+`"]}`, 200, &fl)
	if !slices.Equal(fl.Blocked, []string{op}) {
		t.Fatalf("heal of one by body: %v", fl.Blocked)
	}
	f.adminAPI(t, "DELETE", "/admin/faults/partition", "", 200, &fl)
	if len(fl.Blocked) != 0 || len(f.blocked(t)) != 0 {
		t.Fatalf("heal of all: %v", fl.Blocked)
	}
}

// TestPeersRefusals: every malformed or refused request gets its stable
// code, and blocks nobody.
func TestPeersRefusals(t *testing.T) {
	f := newFixture(t)
	self := f.net.ID().String()
	unstarted, gone := keyringtest.NewPeer(t)
	long := `{"peers": ["` + strings.Repeat("1", peersBodyLimit) + `"]}`
	tests := []struct {
		name, method, path, body, contentType string
		admin                                 bool
		status                                int
		code                                  string
	}{
		{"dial of nonsense", "POST", "/api/v1/peers", `{"addr": "nonsense"}`, "", false, 400, CodeInvalidPeer},
		{"dial without a peer ID", "POST", "/api/v1/peers", `{"addr": "/ip4/127.0.0.1/tcp/4001"}`, "", false, 400, CodeInvalidPeer},
		{"dial of nobody", "POST", "/api/v1/peers", `{"addr": "/ip4/127.0.0.1/tcp/4001/p2p/` + gone.String() + `"}`, "", false, 502, CodePeerUnreachable},
		{"dial without an address", "POST", "/api/v1/peers", `{"addr": " "}`, "", false, 400, CodeBadRequest},
		{"dial with an unknown field", "POST", "/api/v1/peers", `{"addr": "x", "force": true}`, "", false, 400, CodeBadRequest},
		{"dial with an empty body", "POST", "/api/v1/peers", ``, "application/json", false, 400, CodeBadRequest},
		{"dial, not JSON", "POST", "/api/v1/peers", `{"addr": "x"}`, "text/plain", false, 415, CodeUnsupported},
		{"dial, too large", "POST", "/api/v1/peers", `{"addr": "` + strings.Repeat("a", peersBodyLimit) + `"}`, "", false, 413, CodeTooLarge},
		{"peers without a token", "GET", "/api/v1/peers", "", "", false, 401, CodeUnauthorized},
		{"partition of nonsense", "POST", "/admin/faults/partition", `{"peers": ["nonsense"]}`, "", true, 400, CodeInvalidPeer},
		{"partition of a DID", "POST", "/admin/faults/partition", `{"peers": ["` + unstarted.DID().String() + `"]}`, "", true, 400, CodeInvalidPeer},
		{"partition from itself", "POST", "/admin/faults/partition", `{"peers": ["` + self + `"]}`, "", true, 400, CodeInvalidPeer},
		{"partition of a valid and an invalid peer", "POST", "/admin/faults/partition", `{"peers": ["` + gone.String() + `", ""]}`, "", true, 400, CodeInvalidPeer},
		{"partition of nobody", "POST", "/admin/faults/partition", `{"peers": []}`, "", true, 400, CodeBadRequest},
		{"partition without peers", "POST", "/admin/faults/partition", `{}`, "", true, 400, CodeBadRequest},
		{"partition with an empty body", "POST", "/admin/faults/partition", ``, "application/json", true, 400, CodeBadRequest},
		{"partition, peers not a list", "POST", "/admin/faults/partition", `{"peers": "` + gone.String() + `"}`, "", true, 400, CodeBadRequest},
		{"partition, too large", "POST", "/admin/faults/partition", long, "", true, 413, CodeTooLarge},
		{"heal of nonsense", "DELETE", "/admin/faults/partition?peer=nonsense", "", "", true, 400, CodeInvalidPeer},
		{"heal both ways at once", "DELETE", "/admin/faults/partition?peer=" + gone.String(), `{"peers": ["` + gone.String() + `"]}`, "", true, 400, CodeBadRequest},
		{"heal with an unknown field", "DELETE", "/admin/faults/partition", `{"peer": "x"}`, "", true, 400, CodeBadRequest},
		{"heal, not JSON", "DELETE", "/admin/faults/partition", `{"peers": []}`, "text/plain", true, 415, CodeUnsupported},
		{"partition with the api token", "POST", "/admin/faults/partition", `{"peers": ["` + gone.String() + `"]}`, "", true, 401, CodeUnauthorized},
	}
	public, admin := openAPIRouter(t, f.srv.Public()), openAPIRouter(t, f.srv.Admin())
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, router, token := f.srv.Public(), public, apiToken
			if tt.admin {
				h, router, token = f.srv.Admin(), admin, adminToken
			}
			c := call{method: tt.method, path: tt.path, token: token, body: tt.body, contentType: tt.contentType}
			if tt.status == 401 {
				c.token = apiToken
				if !tt.admin {
					c.token = ""
				}
			}
			if c.contentType == "" && tt.body != "" {
				c.contentType = "application/json"
			}
			rec := f.do(t, h, c)
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if eb := errorBody(t, rec); eb.Code != tt.code {
				t.Fatalf("code %q, want %q (%s)", eb.Code, tt.code, eb.Error)
			}
			checkAnswer(t, router, c, rec)
		})
	}
	if got := f.blocked(t); len(got) != 0 {
		t.Fatalf("refused requests blocked %v", got)
	}
	var l PeerList
	f.api(t, "GET", "/api/v1/peers", "", 200, &l)
	for _, p := range l.Peers {
		if p.Connected {
			t.Fatalf("refused requests connected %+v", p)
		}
	}
}

// TestPeerErrorsMapToStableCodes: the peer manager's errors, as the actor
// wraps them, get their codes; an open peer breaker is a 503 with the
// peer and Retry-After, a dial that timed out a 502 (the peer's fault, not
// the node's).
func TestPeerErrorsMapToStableCodes(t *testing.T) {
	open := fmt.Errorf("ask: %w", &messages.PeerUnavailableError{Peer: "12D3KooWpeer", RetryAfter: 1500 * time.Millisecond})
	tests := []struct {
		err        error
		status     int
		code       string
		retryAfter string
		details    string
	}{
		{open, 503, CodePeerUnavailable, "2", "map[peer:12D3KooWpeer]"},
		{fmt.Errorf("x: %w", messages.ErrPeerUnavailable), 503, CodePeerUnavailable, "1", "map[]"},
		{fmt.Errorf("%w: dial x: %w", messages.ErrPeerFailed, context.DeadlineExceeded), 502, CodePeerUnreachable, "", "map[]"},
		{fmt.Errorf("%w: %q: bad", messages.ErrInvalidPeer, "x"), 400, CodeInvalidPeer, "", "map[]"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		writeError(rec, tt.err)
		eb := errorBody(t, rec)
		if rec.Code != tt.status || eb.Code != tt.code || rec.Header().Get("Retry-After") != tt.retryAfter || fmt.Sprint(eb.Details) != tt.details {
			t.Errorf("%v: %d %q Retry-After %q details %v", tt.err, rec.Code, eb.Code, rec.Header().Get("Retry-After"), eb.Details)
		}
		if !errors.Is(statusOf(tt.err), tt.err) {
			t.Errorf("%v: the cause is lost", tt.err)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
