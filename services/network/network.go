// Package network is the node's connection to the federation: the interface
// actors use to reach other nodes, with a production implementation over
// libp2p (libp2pnet) and an in-process one over libp2p's mocknet (memnet) for
// the test profile. Both give a real libp2p host.Host, keyed by the node key,
// so the peer ID is the node's own and stable across restarts.
//
// Discovery, gossip, direct RPC and the per-peer breakers arrive with the
// network issue. The package holds no domain state and must not interpret
// messages: the peers actor does.
package network

import (
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// Network is a started libp2p host of this node.
type Network interface {
	// ID is the node's peer ID (derived from the node key).
	ID() peer.ID
	// Addrs are the addresses the host listens on.
	Addrs() []ma.Multiaddr
	// Host is the underlying libp2p host, nil before start.
	Host() host.Host
}
