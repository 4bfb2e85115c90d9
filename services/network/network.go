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
	"context"

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

// Endpoint holds a node's host once started; both implementations embed it
// for the accessors and the stop they share.
type Endpoint struct {
	peerID peer.ID
	host   host.Host
}

// NewEndpoint is the endpoint of peer id, not yet started.
func NewEndpoint(id peer.ID) Endpoint { return Endpoint{peerID: id} }

// Attach records the started host.
func (e *Endpoint) Attach(h host.Host) { e.host = h }

// ID implements Network.
func (e *Endpoint) ID() peer.ID { return e.peerID }

// Addrs implements Network.
func (e *Endpoint) Addrs() []ma.Multiaddr {
	if e.host == nil {
		return nil
	}
	return e.host.Addrs()
}

// Host implements Network.
func (e *Endpoint) Host() host.Host { return e.host }

// Stop closes the host; stopping twice (or before start) is a no-op.
func (e *Endpoint) Stop(context.Context) error {
	if e.host == nil {
		return nil
	}
	err := e.host.Close()
	e.host = nil
	return err
}
