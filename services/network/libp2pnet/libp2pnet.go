// Package libp2pnet is the production network: a libp2p host with the node
// key (stable peer ID), TCP and QUIC, Noise, Yamux and a connection manager,
// its metrics on the node's private registry. It must not be used by the test
// profile (memnet is).
package libp2pnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	noise "github.com/libp2p/go-libp2p/p2p/security/noise"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/network"
)

// Options are what an operator sets for the host.
type Options struct {
	Listen []string // multiaddrs
}

// Network is a libp2p host started by Start and closed by Stop.
type Network struct {
	id   *identity.Identity
	opts Options
	reg  prometheus.Registerer
	log  *slog.Logger
	network.Endpoint
}

// New checks the options; nothing listens until Start.
func New(id *identity.Identity, opts Options, reg prometheus.Registerer, logger *slog.Logger) (*Network, error) {
	pid, err := id.PeerID()
	if err != nil {
		return nil, err
	}
	if len(opts.Listen) == 0 {
		return nil, errors.New("libp2pnet: no listen address")
	}
	for _, a := range opts.Listen {
		if _, err := ma.NewMultiaddr(a); err != nil {
			return nil, fmt.Errorf("libp2pnet: listen address %q: %w", a, err)
		}
	}
	return &Network{id: id, opts: opts, reg: reg, log: logger.With("component", "network"), Endpoint: network.NewEndpoint(pid)}, nil
}

// Start opens the listeners.
func (n *Network) Start(context.Context) error {
	key, err := n.id.Libp2pKey()
	if err != nil {
		return err
	}
	cm, err := connmgr.NewConnManager(64, 256)
	if err != nil {
		return err
	}
	h, err := libp2p.New(
		libp2p.Identity(key),
		libp2p.ListenAddrStrings(n.opts.Listen...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.Security(noise.ID, noise.New),
		libp2p.Muxer(yamux.ID, yamux.DefaultTransport),
		libp2p.ConnectionManager(cm),
		libp2p.PrometheusRegisterer(n.reg),
		libp2p.UserAgent("icnd"),
	)
	if err != nil {
		return fmt.Errorf("libp2pnet: start host: %w", err)
	}
	n.Attach(h)
	n.log.Info("libp2p host listening", "peer_id", h.ID().String(), "addrs", fmt.Sprint(h.Addrs()))
	return nil
}
