// Package memnet is the test profile's network: a libp2p host on an
// in-process mocknet shared by every node of a test, so multi-node tests run
// real libp2p protocols without sockets. Production must never use it.
package memnet

import (
	"context"
	"fmt"
	"net"

	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/network"
)

// Network is one node's host on a shared mocknet.
type Network struct {
	mn mocknet.Mocknet
	id *identity.Identity
	network.Endpoint
}

// New prepares a host for id on mn; it joins the mocknet at Start.
func New(mn mocknet.Mocknet, id *identity.Identity) (*Network, error) {
	pid, err := id.PeerID()
	if err != nil {
		return nil, err
	}
	return &Network{mn: mn, id: id, Endpoint: network.NewEndpoint(pid)}, nil
}

// Start adds the host to the mocknet, at an address derived from the peer ID
// (as mocknet's own GenPeer does).
func (n *Network) Start(context.Context) error {
	key, err := n.id.Libp2pKey()
	if err != nil {
		return err
	}
	ip := make(net.IP, net.IPv6len)
	ip[0] = 0x01 // 100::/64, the discard prefix: never routable
	suffix := []byte(n.ID())
	copy(ip[8:], suffix[len(suffix)-8:])
	addr, err := ma.NewMultiaddr(fmt.Sprintf("/ip6/%s/tcp/4001", ip))
	if err != nil {
		return err
	}
	h, err := n.mn.AddPeer(key, addr)
	if err != nil {
		return fmt.Errorf("memnet: add peer: %w", err)
	}
	n.Attach(h)
	return nil
}
