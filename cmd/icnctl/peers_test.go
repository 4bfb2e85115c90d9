package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/actors/peers"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/httpapi"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/network/memnet"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// Canned peers: one connected, one gone with its breaker open.
const (
	peerA = "12D3KooWLRPJAA5o6r6ubmUHdXFwGuxYsUUxWyFsmDVbJq4W8Xpr"
	peerB = "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo"
	addrA = "/ip4/192.0.2.7/tcp/4001/p2p/" + peerA
)

func cannedPeers() httpapi.PeerList {
	return httpapi.PeerList{Peers: []httpapi.Peer{
		{PeerID: peerA, DID: didLocal, Addrs: []string{"/ip4/192.0.2.7/tcp/4001"}, Connected: true, Since: "2026-11-27T13:59:00.5Z",
			LastSeen: "2026-11-27T14:00:01Z", RTTMS: 1.25, MessagesIn: 12, MessagesOut: 7, Breaker: "closed"},
		{PeerID: peerB, DID: didRemote, Addrs: []string{}, LastSeen: "2026-11-27T13:00:00Z", MessagesIn: 3, MessagesOut: 5, Breaker: "open"},
	}}
}

func TestPeersReads(t *testing.T) {
	n := newNode(t, false)
	n.api.mux.HandleFunc("GET /api/v1/peers", reply(http.StatusOK, cannedPeers()))
	n.admin.mux.HandleFunc("GET /admin/faults", reply(http.StatusOK, httpapi.Faults{Blocked: []string{peerA, peerB}}))
	table := func(a, b string) string {
		pad := strings.Repeat(" ", len([]rune(a))-len("PEER"))
		return "PEER" + pad + "  DID" + strings.Repeat(" ", len(didLocal)-len("DID")) + "  CONNECTED  SINCE                 RTT     IN/OUT  BREAKER\n" +
			a + "  " + didLocal + "  yes        2026-11-27T13:59:00Z  1.25ms  12/7    closed\n" +
			b + "  " + didRemote + "  no         -                     -       3/5     open\n"
	}
	tests := []struct {
		name     string
		args     []string
		listener *fake
		stdout   string
		req      string
	}{
		{"the table, peer IDs shortened", []string{"peers"}, n.api, table("12D3KooW…4W8Xpr", "12D3KooW…CVe2Xo"), "GET /api/v1/peers"},
		{"the table, peer IDs whole", []string{"peers", "--full"}, n.api, table(peerA, peerB), "GET /api/v1/peers"},
		{"faults", []string{"faults", "list"}, n.admin, "blocked (2 peers):\n  " + peerA + "\n  " + peerB + "\n", "GET /admin/faults"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(tt.listener.requests())
			r := runCmd(t, n.flags(tt.args...)...)
			if r.code != exitOK || r.stdout != tt.stdout || r.stderr != "" {
				t.Fatalf("exit %d, stderr %q\ngot:\n%s\nwant:\n%s", r.code, r.stderr, r.stdout, tt.stdout)
			}
			token := apiToken
			if tt.listener == n.admin {
				token = adminToken
			}
			reqs := tt.listener.requests()[before:]
			if len(reqs) != 1 || reqs[0].method+" "+reqs[0].uri != tt.req || reqs[0].auth != "Bearer "+token || reqs[0].body != "" {
				t.Fatalf("requests: %+v", reqs)
			}
		})
	}
	for _, tt := range []struct {
		args []string
		want any
	}{
		{[]string{"peers"}, cannedPeers()},
		{[]string{"faults", "list"}, httpapi.Faults{Blocked: []string{peerA, peerB}}},
	} {
		r := runCmd(t, n.flags(append([]string{"-o", "json"}, tt.args...)...)...)
		if r.code != exitOK || normalize(t, []byte(r.stdout)) != normalize(t, mustJSON(t, tt.want)) {
			t.Fatalf("-o json %s: exit %d: %s%s", strings.Join(tt.args, " "), r.code, r.stdout, r.stderr)
		}
	}

	empty := newNode(t, false)
	empty.api.mux.HandleFunc("GET /api/v1/peers", reply(http.StatusOK, httpapi.PeerList{Peers: []httpapi.Peer{}}))
	empty.admin.mux.HandleFunc("GET /admin/faults", reply(http.StatusOK, httpapi.Faults{Blocked: []string{}}))
	if r := runCmd(t, empty.flags("peers")...); r.code != exitOK || r.stdout != "no peers (icnctl peers connect ADDR dials one)\n" {
		t.Fatalf("no peers: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r := runCmd(t, empty.flags("faults", "list")...); r.code != exitOK || r.stdout != "no peers blocked\n" {
		t.Fatalf("no faults: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
}

func TestPeersWrites(t *testing.T) {
	row := cannedPeers().Peers[0]
	invalidAddr := `peers: invalid peer: "nonsense": failed to parse multiaddr "nonsense": must begin with / (want /ip4/.../tcp/.../p2p/<peer id>)`
	unreachable := "peers: request to peer failed: dial " + peerB + ": network: peer unreachable: no addresses"
	tests := []struct {
		name    string
		admin   bool // the fake route is on the admin listener
		args    []string
		pattern string // the fake's route
		answer  http.HandlerFunc
		code    int
		stdout  string
		stderr  string
		req     string // method, URI and body; "" when nothing may be sent
	}{
		{"connect", false, []string{"peers", "connect", addrA}, "POST /api/v1/peers", reply(http.StatusCreated, row), exitOK,
			"connected to " + peerA + " (" + didLocal + ")\n", "", `POST /api/v1/peers {"addr":"` + addrA + `"}`},
		{"connect to nonsense", false, []string{"peers", "connect", "nonsense"}, "POST /api/v1/peers",
			failure(http.StatusBadRequest, httpapi.CodeInvalidPeer, invalidAddr, ""), exitError, "",
			"icnctl: " + invalidAddr + " (invalid_peer)\n" +
				"  ADDR is a multiaddr ending in the peer's ID, such as /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW...; icnctl node on the other node lists its addresses.\n",
			`POST /api/v1/peers {"addr":"nonsense"}`},
		{"connect to a node that is gone", false, []string{"peers", "connect", "/ip4/192.0.2.8/tcp/4001/p2p/" + peerB}, "POST /api/v1/peers",
			failure(http.StatusBadGateway, httpapi.CodePeerUnreachable, unreachable, ""), exitError, "",
			"icnctl: " + unreachable + " (peer_unreachable)\n" +
				"  Is the other node running, and is its address reachable from this node (listen address, firewall, NAT)?\n" +
				"  A peer cut off by a partition cannot be dialled either: icnctl faults list.\n",
			`POST /api/v1/peers {"addr":"/ip4/192.0.2.8/tcp/4001/p2p/` + peerB + `"}`},
		{"connect to a peer whose breaker is open", false, []string{"peers", "connect", addrA}, "POST /api/v1/peers",
			failure(http.StatusServiceUnavailable, httpapi.CodePeerUnavailable, "peers: "+peerA+" is unavailable (breaker open); retry after 3s", "3"), exitError, "",
			"icnctl: peers: " + peerA + " is unavailable (breaker open); retry after 3s (peer_unavailable), retry after 3s\n" +
				"  The peer failed repeatedly, so its breaker fails requests at once; icnctl peers shows it. It is probed again after the delay above.\n",
			`POST /api/v1/peers {"addr":"` + addrA + `"}`},
		{"connect while the peer manager's breaker is open", false, []string{"peers", "connect", addrA}, "POST /api/v1/peers",
			func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "2")
				reply(http.StatusServiceUnavailable, httpapi.ErrorBody{Error: "supervisors: /icn/peers is unavailable (breaker open)",
					Code: httpapi.CodeUnavailable, Details: map[string]any{"actor": "/icn/peers", "state": "open"}})(w, nil)
			}, exitError, "",
			"icnctl: supervisors: /icn/peers is unavailable (breaker open) (unavailable), retry after 2s\n" +
				"  The peer manager is restarting or its breaker is open; icnctl actors /icn/peers shows its state.\n",
			`POST /api/v1/peers {"addr":"` + addrA + `"}`},
		{"connect to nothing", false, []string{"peers", "connect", " "}, "", nil, exitUsage, "",
			"icnctl: ADDR is empty: want a multiaddr such as /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW...\nRun 'icnctl peers connect --help' for usage.\n", ""},
		{"connect without an address", false, []string{"peers", "connect"}, "", nil, exitUsage, "",
			"icnctl: accepts 1 arg(s), received 0\nRun 'icnctl peers connect --help' for usage.\n", ""},
		{"partition", true, []string{"faults", "partition", peerA, peerB}, "POST /admin/faults/partition",
			reply(http.StatusOK, httpapi.Faults{Blocked: []string{peerA, peerB}}), exitOK,
			"partitioned from 2 peers: connections closed, no dial either way until healed\nblocked (2 peers):\n  " + peerA + "\n  " + peerB + "\n", "",
			`POST /admin/faults/partition {"peers":["` + peerA + `","` + peerB + `"]}`},
		{"partition from a DID", true, []string{"faults", "partition", didLocal}, "POST /admin/faults/partition",
			failure(http.StatusBadRequest, httpapi.CodeInvalidPeer, "peers: invalid peer: peer ID \""+didLocal+"\": failed to parse peer ID", ""), exitError, "",
			"icnctl: peers: invalid peer: peer ID \"" + didLocal + "\": failed to parse peer ID (invalid_peer)\n" +
				"  PEER is another node's peer ID (12D3KooW..., not a DID or an address); icnctl peers --full lists them.\n",
			`POST /admin/faults/partition {"peers":["` + didLocal + `"]}`},
		{"partition from nobody", true, []string{"faults", "partition"}, "", nil, exitUsage, "",
			"icnctl: requires at least 1 arg(s), only received 0\nRun 'icnctl faults partition --help' for usage.\n", ""},
		{"partition from an empty peer", true, []string{"faults", "partition", peerA, ""}, "", nil, exitUsage, "",
			"icnctl: PEER is empty: want a peer ID such as 12D3KooW... (icnctl peers --full)\nRun 'icnctl faults partition --help' for usage.\n", ""},
		{"heal one", true, []string{"faults", "heal", peerA}, "DELETE /admin/faults/partition",
			reply(http.StatusOK, httpapi.Faults{Blocked: []string{peerB}}), exitOK,
			"healed 1 peer; the node redials them\nblocked (1 peer):\n  " + peerB + "\n", "",
			"DELETE /admin/faults/partition?peer=" + peerA + " "},
		{"heal two", true, []string{"faults", "heal", peerA, peerB}, "DELETE /admin/faults/partition",
			reply(http.StatusOK, httpapi.Faults{Blocked: []string{}}), exitOK,
			"healed 2 peers; the node redials them\nno peers blocked\n", "",
			"DELETE /admin/faults/partition?peer=" + peerA + "&peer=" + peerB + " "},
		{"heal all", true, []string{"faults", "heal"}, "DELETE /admin/faults/partition",
			reply(http.StatusOK, httpapi.Faults{Blocked: []string{}}), exitOK,
			"healed every partition; the node redials the peers\nno peers blocked\n", "", "DELETE /admin/faults/partition "},
		{"heal nonsense", true, []string{"faults", "heal", "nonsense"}, "DELETE /admin/faults/partition",
			failure(http.StatusBadRequest, httpapi.CodeInvalidPeer, `peers: invalid peer: peer ID "nonsense": failed to parse peer ID`, ""), exitError, "",
			"icnctl: peers: invalid peer: peer ID \"nonsense\": failed to parse peer ID (invalid_peer)\n" +
				"  PEER is another node's peer ID (12D3KooW..., not a DID or an address); icnctl peers --full lists them.\n",
			"DELETE /admin/faults/partition?peer=nonsense "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t, false)
			listener, token := n.api, apiToken
			if tt.admin {
				listener, token = n.admin, adminToken
			}
			if tt.pattern != "" {
				listener.mux.HandleFunc(tt.pattern, tt.answer)
			}
			r := runCmd(t, n.flags(tt.args...)...)
			r.expect(t, tt.code, tt.stdout, tt.stderr)
			sentOne(t, append(n.api.requests(), n.admin.requests()...), tt.req, token)
		})
	}

	// -o json prints the node's answer as it is.
	n := newNode(t, false)
	n.api.mux.HandleFunc("POST /api/v1/peers", reply(http.StatusCreated, row))
	n.admin.mux.HandleFunc("POST /admin/faults/partition", reply(http.StatusOK, httpapi.Faults{Blocked: []string{peerA}}))
	for _, tt := range []struct {
		args []string
		want any
	}{
		{[]string{"peers", "connect", addrA}, row},
		{[]string{"faults", "partition", peerA}, httpapi.Faults{Blocked: []string{peerA}}},
	} {
		r := runCmd(t, n.flags(append([]string{"-o", "json"}, tt.args...)...)...)
		if r.code != exitOK || normalize(t, []byte(r.stdout)) != normalize(t, mustJSON(t, tt.want)) {
			t.Fatalf("-o json %s: exit %d: %s%s", strings.Join(tt.args, " "), r.code, r.stdout, r.stderr)
		}
	}
}

// startNetNode starts a memnet network for a new identity on fabric,
// stopped at the end of the test (after a tree started later).
func startNetNode(t *testing.T, fabric *memnet.Fabric, reg prometheus.Registerer) (*identity.Identity, *memnet.Network) {
	t.Helper()
	id, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	n, err := memnet.New(fabric, id, memnet.Options{}, reg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = n.Stop(context.Background()) })
	return id, n
}

// startRealPeersNode runs services/httpapi over a tree holding the real
// peer manager, on a memnet network on fabric; it returns the data dir and
// the node's network.
func startRealPeersNode(t *testing.T, fabric *memnet.Fabric) (string, *memnet.Network) {
	t.Helper()
	reg := prometheus.NewRegistry()
	id, net := startNetNode(t, fabric, reg)
	m, err := peers.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	producer, err := peers.New(peers.Deps{Network: net, Identity: id, Clock: clock.Real{}, Metrics: m, Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	d := supervisors.ProductionDefaults()
	d.Backoff.Initial, d.Backoff.Max = time.Millisecond, 5*time.Millisecond
	d.Shutdown = time.Second
	tree, err := supervisors.New(supervisors.Spec{Name: "icn", Children: []supervisors.ChildSpec{
		{Name: peers.Name, Restart: supervisors.Permanent, New: producer},
	}}, log, reg, supervisors.WithDefaults(d))
	if err != nil {
		t.Fatal(err)
	}
	if err := tree.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tree.Stop(context.Background()) })
	dataDir := serveTree(t, tree, reg, 4<<20, func() httpapi.NodeInfo {
		return httpapi.NodeInfo{DID: id.DID().String(), PeerID: net.ID().String(), Addrs: []string{net.Addr().String()},
			Version: "real", Profile: "test", StartedAt: testNow.Add(-time.Hour)}
	})
	return dataDir, net
}

// TestPeersAgainstTheRealServer runs the peers and faults commands against
// the real handlers and the real peer manager, with a second node on the
// same memnet fabric: connect, the table, a partition that disconnects, a
// heal after which the node redials.
func TestPeersAgainstTheRealServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an actor system and a mocknet")
	}
	fabric := memnet.NewFabric()
	t.Cleanup(func() { _ = fabric.Close() })
	dataDir, self := startRealPeersNode(t, fabric)
	otherID, other := startNetNode(t, fabric, prometheus.NewRegistry())
	op := other.ID().String()
	icnctl := func(args ...string) result {
		t.Helper()
		return runCmd(t, append([]string{"--data-dir", dataDir}, args...)...)
	}
	ok := func(r result, what string) string {
		t.Helper()
		if r.code != exitOK || r.stderr != "" {
			t.Fatalf("%s: exit %d: %s%s", what, r.code, r.stderr, r.stdout)
		}
		return r.stdout
	}
	connected := func() (bool, bool) {
		t.Helper()
		var l httpapi.PeerList
		if err := json.Unmarshal([]byte(ok(icnctl("-o", "json", "peers"), "peers -o json")), &l); err != nil {
			t.Fatal(err)
		}
		for _, p := range l.Peers {
			if p.PeerID == op {
				return true, p.Connected
			}
		}
		return false, false
	}

	if got := ok(icnctl("peers"), "peers"); got != "no peers (icnctl peers connect ADDR dials one)\n" {
		t.Fatalf("peers of a lone node: %q", got)
	}
	if got := ok(icnctl("node"), "node"); !strings.Contains(got, "Peer ID  "+self.ID().String()+"\n") || !strings.Contains(got, "/p2p/"+self.ID().String()+"\n") {
		t.Fatalf("node:\n%s", got)
	}
	addr := other.Addr().String()
	if got := ok(icnctl("peers", "connect", addr), "connect"); got != "connected to "+op+" ("+otherID.DID().String()+")\n" {
		t.Fatalf("connect: %q", got)
	}
	table := ok(icnctl("peers"), "peers")
	lines := strings.Split(strings.TrimSuffix(table, "\n"), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "PEER ") || !strings.HasPrefix(lines[1], shortPeerID(op)+"  "+otherID.DID().String()+"  yes  ") ||
		!strings.HasSuffix(lines[1], "  closed") {
		t.Fatalf("peers:\n%s", table)
	}
	if full := ok(icnctl("peers", "--full"), "peers --full"); !strings.Contains(full, "\n"+op+"  ") {
		t.Fatalf("peers --full:\n%s", full)
	}

	// Partition: the node really disconnects, and cannot dial.
	if got := ok(icnctl("faults", "partition", op), "partition"); got !=
		"partitioned from 1 peer: connections closed, no dial either way until healed\nblocked (1 peer):\n  "+op+"\n" {
		t.Fatalf("partition: %q", got)
	}
	waitFor(t, "the partition to disconnect", func() bool {
		known, up := connected()
		return known && !up && !slices.Contains(other.Connected(), self.ID())
	})
	if got := ok(icnctl("faults", "list"), "faults list"); got != "blocked (1 peer):\n  "+op+"\n" {
		t.Fatalf("faults list: %q", got)
	}
	r := icnctl("peers", "connect", addr)
	if r.code != exitError || !strings.HasPrefix(r.stderr, "icnctl: peers: request to peer failed: ") ||
		!strings.HasSuffix(r.stderr, "(peer_unreachable)\n  Is the other node running, and is its address reachable from this node (listen address, firewall, NAT)?\n"+
			"  A peer cut off by a partition cannot be dialled either: icnctl faults list.\n") {
		t.Fatalf("connect to a blocked peer: exit %d %q", r.code, r.stderr)
	}
	// The node's refusals.
	for _, tt := range []struct {
		args   []string
		prefix string
		suffix string
	}{
		{[]string{"faults", "partition", self.ID().String()}, "icnctl: peers: invalid peer: ", "is this node (invalid_peer)\n" +
			"  PEER is another node's peer ID (12D3KooW..., not a DID or an address); icnctl peers --full lists them.\n"},
		{[]string{"faults", "heal", "nonsense"}, "icnctl: peers: invalid peer: peer ID \"nonsense\"", "icnctl peers --full lists them.\n"},
		{[]string{"peers", "connect", "/ip4/127.0.0.1/tcp/4001"}, "icnctl: peers: invalid peer: ", "icnctl node on the other node lists its addresses.\n"},
	} {
		r := icnctl(tt.args...)
		if r.code != exitError || r.stdout != "" || !strings.HasPrefix(r.stderr, tt.prefix) || !strings.HasSuffix(r.stderr, tt.suffix) {
			t.Fatalf("%s: exit %d, stdout %q\nstderr %q\nwant   %q ... %q", strings.Join(tt.args, " "), r.code, r.stdout, r.stderr, tt.prefix, tt.suffix)
		}
	}

	// Heal: the node redials the peer by itself.
	if got := ok(icnctl("faults", "heal"), "heal"); got != "healed every partition; the node redials the peers\nno peers blocked\n" {
		t.Fatalf("heal: %q", got)
	}
	waitFor(t, "the node to redial the healed peer", func() bool {
		_, up := connected()
		return up && slices.Contains(other.Connected(), self.ID())
	})
}

func TestPeersPing(t *testing.T) {
	answer := httpapi.PingResult{PeerID: peerA, DID: didLocal, Count: 100, Failed: 2,
		RTTMS: httpapi.RTTSummary{Min: 0.25, P50: 0.5, P99: 1.75, Max: 3}}
	allFailed := httpapi.PingResult{PeerID: peerA, DID: didLocal, Count: 3, Failed: 3}
	unknown := "peers: unknown peer: " + peerB + " is not in this node's peer table"
	open := "peers: " + peerA + " is unavailable (breaker open); retry after 2s"
	invalid := `peers: invalid peer: "nonsense" is neither a peer ID nor a node's DID: failed to parse peer ID`
	didPath := "/api/v1/peers/" + url.PathEscape(didLocal) + "/ping?count=3"
	tests := []struct {
		name   string
		args   []string
		answer http.HandlerFunc
		code   int
		stdout string
		stderr string
		req    string // method and URI; "" when nothing may be sent
	}{
		{"a hundred round trips", []string{"peers", "ping", peerA, "-n", "100"}, reply(http.StatusOK, answer), exitOK,
			peerA + " (" + didLocal + "): 100 round trips, 2 failed\nrtt min 250µs  p50 500µs  p99 1.75ms  max 3ms\n", "",
			"POST /api/v1/peers/" + peerA + "/ping?count=100"},
		{"the default count, by DID", []string{"peers", "ping", didLocal}, reply(http.StatusOK, answer), exitOK,
			peerA + " (" + didLocal + "): 100 round trips, 2 failed\nrtt min 250µs  p50 500µs  p99 1.75ms  max 3ms\n", "", "POST " + didPath},
		{"every round trip failed", []string{"peers", "ping", peerA}, reply(http.StatusOK, allFailed), exitOK,
			peerA + " (" + didLocal + "): 3 round trips, 3 failed\n", "", "POST /api/v1/peers/" + peerA + "/ping?count=3"},
		{"a peer never known", []string{"peers", "ping", peerB}, failure(http.StatusNotFound, httpapi.CodeNotFound, unknown, ""), exitError, "",
			"icnctl: " + unknown + " (not_found)\n" +
				"  The node does not know PEER: icnctl peers lists the peers it knows; icnctl peers connect ADDR dials one.\n",
			"POST /api/v1/peers/" + peerB + "/ping?count=3"},
		{"a peer whose breaker is open", []string{"peers", "ping", peerA}, failure(http.StatusServiceUnavailable, httpapi.CodePeerUnavailable, open, "2"), exitError, "",
			"icnctl: " + open + " (peer_unavailable), retry after 2s\n" +
				"  The peer failed repeatedly, so its breaker fails requests at once; icnctl peers shows it. It is probed again after the delay above.\n",
			"POST /api/v1/peers/" + peerA + "/ping?count=3"},
		{"nonsense", []string{"peers", "ping", "nonsense"}, failure(http.StatusBadRequest, httpapi.CodeInvalidPeer, invalid, ""), exitError, "",
			"icnctl: " + invalid + " (invalid_peer)\n  PEER is another node's peer ID (12D3KooW...) or DID; icnctl peers --full lists them.\n",
			"POST /api/v1/peers/nonsense/ping?count=3"},
		{"no round trips", []string{"peers", "ping", peerA, "-n", "0"}, nil, exitUsage, "",
			"icnctl: -n 0: want 1 to 1000\nRun 'icnctl peers ping --help' for usage.\n", ""},
		{"too many round trips", []string{"peers", "ping", peerA, "--count", "1001"}, nil, exitUsage, "",
			"icnctl: -n 1001: want 1 to 1000\nRun 'icnctl peers ping --help' for usage.\n", ""},
		{"an empty peer", []string{"peers", "ping", " "}, nil, exitUsage, "",
			"icnctl: PEER is empty: want a peer ID such as 12D3KooW... (icnctl peers --full)\nRun 'icnctl peers ping --help' for usage.\n", ""},
		{"no peer", []string{"peers", "ping"}, nil, exitUsage, "",
			"icnctl: accepts 1 arg(s), received 0\nRun 'icnctl peers ping --help' for usage.\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := newNode(t, false)
			if tt.answer != nil {
				n.api.mux.HandleFunc("POST /api/v1/peers/{peer}/ping", tt.answer)
			}
			r := runCmd(t, n.flags(tt.args...)...)
			r.expect(t, tt.code, tt.stdout, tt.stderr)
			sentOne(t, n.api.requests(), tt.req, apiToken)
		})
	}

	// -o json prints the node's answer as it is.
	n := newNode(t, false)
	n.api.mux.HandleFunc("POST /api/v1/peers/{peer}/ping", reply(http.StatusOK, answer))
	r := runCmd(t, n.flags("-o", "json", "peers", "ping", peerA, "-n", "100")...)
	if r.code != exitOK || normalize(t, []byte(r.stdout)) != normalize(t, mustJSON(t, answer)) {
		t.Fatalf("-o json: exit %d: %s%s", r.code, r.stdout, r.stderr)
	}
}
