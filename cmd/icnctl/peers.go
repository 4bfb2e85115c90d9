package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/services/httpapi"
)

// The network API (services/httpapi/peers.go).
const (
	peersPath     = "/api/v1/peers"
	faultsPath    = "/admin/faults"
	partitionPath = "/admin/faults/partition"
)

func (a *app) peersCmd() *cobra.Command {
	var full bool
	cmd := &cobra.Command{
		Use:   "peers",
		Short: "The peer table: the nodes this one knows, connected or not, with round trip, traffic and breaker",
		Long: `peers lists every peer the node has seen (GET /api/v1/peers), connected ones
first: its peer ID, its DID, whether it is connected and since when, the
last round trip measured, the messages received from and sent to it, and
the breaker of the node's requests to it (closed; open after repeated
failures, when requests to it fail at once; half_open while one probes).

Peer IDs are shortened to their first 8 and last 6 characters; --full (or
-o json) shows them whole, as "icnctl faults partition" wants them.

"icnctl peers connect ADDR" dials a node; "icnctl peers ping PEER" measures
round trips to one.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var l httpapi.PeerList
			return explainPeers(a.show(cmd, apiListener(), peersPath, true, &l, func(w io.Writer) { renderPeers(w, l, full) }))
		},
	}
	cmd.Flags().BoolVar(&full, "full", false, "show whole peer IDs")
	cmd.AddCommand(a.peersConnectCmd(), a.peersPingCmd())
	return cmd
}

func (a *app) peersPingCmd() *cobra.Command {
	var count int
	cmd := &cobra.Command{
		Use:   "ping PEER",
		Short: "Measure signed RPC round trips to a peer (a peer ID or a node's DID)",
		Long: `ping asks the node for N round trips to PEER, one after another (POST
/api/v1/peers/PEER/ping): each a signed request over /icn/rpc/1 that the
other node's peer manager checks and answers, timed from sealing the
request to checking the reply. It prints the fastest, median, 99th
percentile and slowest round trip, and how many failed.

PEER is a peer ID (12D3KooW...; "icnctl peers --full" lists them) or a
node's DID. A series stops early when failures open the peer's breaker, or
after 8 s; the round trips not tried count as failed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := peerArgs(args); err != nil {
				return err
			}
			if count < 1 || count > messages.MaxPingCount {
				return usageErrorf("-n %d: want 1 to %d", count, messages.MaxPingCount)
			}
			path := withQuery(peersPath+"/"+url.PathEscape(args[0])+"/ping", url.Values{"count": {strconv.Itoa(count)}})
			c, err := a.client(cmd, apiListener())
			if err != nil {
				return err
			}
			ans, err := c.call(cmd.Context(), http.MethodPost, path, nil, true)
			if err != nil {
				return explainPeers(err)
			}
			var r httpapi.PingResult
			if err := decodeAnswer(http.MethodPost, path, ans.Body, &r); err != nil {
				return err
			}
			if a.json() {
				return writeJSON(cmd.OutOrStdout(), ans.Body)
			}
			renderPing(cmd.OutOrStdout(), r)
			return nil
		},
	}
	cmd.Flags().IntVarP(&count, "count", "n", messages.DefaultPingCount, "round trips, 1 to "+strconv.Itoa(messages.MaxPingCount))
	return cmd
}

// renderPing prints a ping series: who answered, then the spread.
func renderPing(w io.Writer, r httpapi.PingResult) {
	fmt.Fprintf(w, "%s (%s): %s, %d failed\n", clean(r.PeerID), dash(clean(r.DID)), countLabel(uint64(r.Count), "round trip"), r.Failed)
	if r.Failed < r.Count {
		t := r.RTTMS
		fmt.Fprintf(w, "rtt min %s  p50 %s  p99 %s  max %s\n", rtt(t.Min), rtt(t.P50), rtt(t.P99), rtt(t.Max))
	}
}

func (a *app) peersConnectCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "connect ADDR",
		Short: "Dial a node at ADDR, a multiaddr ending in /p2p/<peer id>",
		Long: `connect asks the node to dial ADDR, a multiaddr ending in the other node's
peer ID, such as /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW... ("icnctl node" on
the other node lists its addresses in that form). It prints the peer once
connected; a peer already connected is no error.

The node gives up a dial after 10 s: raise --timeout above that to see its
answer for a slow or silent address. The node keeps a peer it dialled
connected, redialling it when the connection drops.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(args[0]) == "" {
				return usageErrorf("ADDR is empty: want a multiaddr such as /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW...")
			}
			c, err := a.client(cmd, apiListener())
			if err != nil {
				return err
			}
			ans, err := c.call(cmd.Context(), http.MethodPost, peersPath, httpapi.ConnectRequest{Addr: args[0]}, true, http.StatusCreated)
			if err != nil {
				return explainPeers(err)
			}
			var p httpapi.Peer
			if err := decodeAnswer(http.MethodPost, peersPath, ans.Body, &p); err != nil {
				return err
			}
			if a.json() {
				return writeJSON(cmd.OutOrStdout(), ans.Body)
			}
			renderConnected(cmd.OutOrStdout(), p)
			return nil
		},
	}
}

func (a *app) faultsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "faults",
		Short: "Network fault injection: partition this node from peers, heal, list",
		Long: `faults injects network faults through the admin API (/admin/faults), to
see how the node and its federation behave when peers go away:

  icnctl faults partition PEER...   cut the node off from these peers
  icnctl faults heal [PEER...]      lift the cut (all of it without PEER)
  icnctl faults list                the peers cut off now

A partition closes the connections to the peers, and neither side can
dial the other until it is healed; the node then redials them. PEER is a
peer ID (12D3KooW...; "icnctl peers --full" lists them). Faults last until
healed or until the node restarts.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	cmd.AddCommand(a.faultsListCmd(), a.faultsPartitionCmd(), a.faultsHealCmd())
	return cmd
}

func (a *app) faultsListCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "The network faults in force: the peers this node is cut off from",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var f httpapi.Faults
			return explainPeers(a.show(cmd, adminListener(), faultsPath, true, &f, func(w io.Writer) { renderFaults(w, f) }))
		},
	}
}

func (a *app) faultsPartitionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "partition PEER...",
		Short: "Cut this node off from peers (connections closed, no dial either way) until healed",
		Long: `partition blocks the peers (peer IDs): the node closes its connections to
them, and neither side can dial the other until "icnctl faults heal". An
invalid peer ID, or the node's own, blocks nothing. It prints every peer
blocked now.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := peerArgs(args); err != nil {
				return err
			}
			var f httpapi.Faults
			return a.fault(cmd, http.MethodPost, partitionPath, httpapi.PartitionRequest{Peers: args}, &f, func(w io.Writer) {
				fmt.Fprintf(w, "partitioned from %s: connections closed, no dial either way until healed\n", countLabel(uint64(len(args)), "peer"))
				renderFaults(w, f)
			})
		},
	}
}

func (a *app) faultsHealCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "heal [PEER...]",
		Short: "Lift a partition: unblock the peers given, or every blocked peer; the node redials them",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := peerArgs(args); err != nil {
				return err
			}
			path := partitionPath
			if len(args) > 0 {
				path = withQuery(path, url.Values{"peer": args})
			}
			var f httpapi.Faults
			return a.fault(cmd, http.MethodDelete, path, nil, &f, func(w io.Writer) {
				if len(args) == 0 {
					fmt.Fprintln(w, "healed every partition; the node redials the peers")
				} else {
					fmt.Fprintf(w, "healed %s; the node redials them\n", countLabel(uint64(len(args)), "peer"))
				}
				renderFaults(w, f)
			})
		},
	}
}

// peerArgs refuses an empty PEER argument (the node would refuse it too,
// but "" is a slip of the shell, not a peer ID).
func peerArgs(args []string) error {
	for _, p := range args {
		if strings.TrimSpace(p) == "" {
			return usageErrorf("PEER is empty: want a peer ID such as 12D3KooW... (icnctl peers --full)")
		}
	}
	return nil
}

// fault sends a fault injection to the admin listener and prints the
// faults in force it answers.
func (a *app) fault(cmd *cobra.Command, method, path string, body any, out *httpapi.Faults, render func(io.Writer)) error {
	c, err := a.client(cmd, adminListener())
	if err != nil {
		return err
	}
	ans, err := c.call(cmd.Context(), method, path, body, true)
	if err != nil {
		return explainPeers(err)
	}
	if err := decodeAnswer(method, path, ans.Body, out); err != nil {
		return err
	}
	if a.json() {
		return writeJSON(cmd.OutOrStdout(), ans.Body)
	}
	render(cmd.OutOrStdout())
	return nil
}

// pinging says whether path is a ping's.
func pinging(path string) bool {
	return strings.HasPrefix(path, peersPath+"/") && strings.Contains(path, "/ping")
}

// explainPeers adds advice to the peer manager's refusals.
func explainPeers(err error) error {
	return withAdvice(err, func(ae *APIError) (lines []string) {
		switch ae.Body.Code {
		case httpapi.CodeInvalidPeer:
			switch {
			case pinging(ae.Path):
				lines = append(lines, "PEER is another node's peer ID (12D3KooW...) or DID; icnctl peers --full lists them.")
			case ae.Path == peersPath:
				lines = append(lines, "ADDR is a multiaddr ending in the peer's ID, such as /ip4/192.0.2.7/tcp/4001/p2p/12D3KooW...; icnctl node on the other node lists its addresses.")
			default:
				lines = append(lines, "PEER is another node's peer ID (12D3KooW..., not a DID or an address); icnctl peers --full lists them.")
			}
		case httpapi.CodeNotFound:
			if pinging(ae.Path) {
				lines = append(lines, "The node does not know PEER: icnctl peers lists the peers it knows; icnctl peers connect ADDR dials one.")
			}
		case httpapi.CodePeerUnreachable:
			lines = append(lines, "Is the other node running, and is its address reachable from this node (listen address, firewall, NAT)?",
				"A peer cut off by a partition cannot be dialled either: icnctl faults list.")
		case httpapi.CodePeerUnavailable:
			lines = append(lines, "The peer failed repeatedly, so its breaker fails requests at once; icnctl peers shows it. It is probed again after the delay above.")
		case httpapi.CodeUnavailable:
			if actor, _ := ae.Body.Details["actor"].(string); strings.HasSuffix(actor, "peers") {
				lines = append(lines, "The peer manager is restarting or its breaker is open; icnctl actors /icn/peers shows its state.")
			}
		}
		return lines
	})
}
