// Package memnet is the test profile's network: a libp2p host on an
// in-process mocknet (a Fabric) shared by every node of a test, running the
// same protocol stack as production (DHT, redial loop, gossipsub, RPC), so
// multi-node tests exercise real libp2p protocols without sockets, and can
// partition and heal the nodes. Production must never use it.
package memnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/network"
	"github.com/intercooperative-network/icn-go/services/network/internal/stack"
)

// Options are the test node's network settings.
type Options struct {
	// Bootstrap are peers to dial at start and keep connected, multiaddrs
	// ending in /p2p/<peer id> (a memnet node's are Addr).
	Bootstrap []string
}

// Network is one node's host on a shared fabric.
type Network struct {
	fabric *Fabric
	id     *identity.Identity
	addr   ma.Multiaddr
	*stack.Stack
}

var _ network.Network = (*Network)(nil)

// New prepares a node for id on f and registers its metrics on reg; it
// joins the fabric at Start.
func New(f *Fabric, id *identity.Identity, opts Options, reg prometheus.Registerer, logger *slog.Logger) (*Network, error) {
	pid, err := id.PeerID()
	if err != nil {
		return nil, err
	}
	bootstrap, err := stack.ParseBootstrap(opts.Bootstrap)
	if err != nil {
		return nil, fmt.Errorf("memnet: %w", err)
	}
	cut := func(p peer.ID) bool { return f.isCut(pid, p) }
	st, err := stack.New(pid, stack.Config{Bootstrap: bootstrap, Cut: cut}, reg, logger.With("component", "network"))
	if err != nil {
		return nil, err
	}
	return &Network{fabric: f, id: id, addr: addrOf(pid), Stack: st}, nil
}

// addrOf is the node's mocknet address, derived from the peer ID as
// mocknet's own GenPeer does: 100::/64 is the discard prefix, never routed.
func addrOf(p peer.ID) ma.Multiaddr {
	ip := make(net.IP, net.IPv6len)
	ip[0] = 0x01
	suffix := []byte(p)
	copy(ip[8:], suffix[len(suffix)-8:])
	return ma.StringCast(fmt.Sprintf("/ip6/%s/tcp/4001", ip))
}

// Addr is the node's full address, /ip6/…/tcp/4001/p2p/<peer id>, usable
// as another node's bootstrap address.
func (n *Network) Addr() ma.Multiaddr {
	return n.addr.Encapsulate(ma.StringCast("/p2p/" + n.ID().String()))
}

// Start adds the host to the mocknet, links it to the fabric's running
// nodes, and starts the network stack.
func (n *Network) Start(context.Context) error {
	key, err := n.id.Libp2pKey()
	if err != nil {
		return err
	}
	h, err := n.fabric.mn.AddPeer(key, n.addr)
	if err != nil {
		return fmt.Errorf("memnet: add peer: %w", err)
	}
	if err := n.fabric.join(n.ID()); err != nil {
		return errors.Join(fmt.Errorf("memnet: link: %w", err), h.Close(), n.fabric.leave(n.ID()))
	}
	if err := n.Stack.Start(guard(h)); err != nil {
		return errors.Join(fmt.Errorf("memnet: %w", err), n.fabric.leave(n.ID()))
	}
	return nil
}

// Stop unlinks the node from the fabric and stops the stack; stopping
// twice is a no-op.
func (n *Network) Stop(ctx context.Context) error {
	if n.Host() == nil {
		return nil
	}
	return errors.Join(n.fabric.leave(n.ID()), n.Stack.Stop(ctx))
}

// Block implements network.Faults: the pairs are also cut in the fabric,
// so the peers cannot dial this node either.
func (n *Network) Block(peers ...peer.ID) error {
	if err := n.Stack.Block(peers...); err != nil {
		return err
	}
	if err := n.fabric.block(n.ID(), peers); err != nil {
		return fmt.Errorf("memnet: block: %w", err)
	}
	return nil
}

// Unblock implements network.Faults.
func (n *Network) Unblock(peers ...peer.ID) error {
	if err := n.fabric.unblock(n.ID(), peers); err != nil {
		return fmt.Errorf("memnet: unblock: %w", err)
	}
	return n.Stack.Unblock(peers...)
}
