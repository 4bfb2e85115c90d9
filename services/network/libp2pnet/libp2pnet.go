// Package libp2pnet is the production network: a libp2p host with the node
// key (stable peer ID), TCP and QUIC, Noise, Yamux, a connection manager and
// the fault-injection connection gater, running the network stack (private
// DHT, redial loop, gossipsub, /icn/rpc/1), optionally mDNS, with all
// metrics on the node's private registry. It must not be used by the test
// profile (memnet is), and like the rest of network it must not interpret
// the bytes it carries.
package libp2pnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/libp2p/go-libp2p"
	corenet "github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	"github.com/libp2p/go-libp2p/p2p/muxer/yamux"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	noise "github.com/libp2p/go-libp2p/p2p/security/noise"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/network"
	"github.com/intercooperative-network/icn-go/services/network/internal/stack"
)

// MDNSServiceName is the mDNS service nodes announce and look for on the
// local link (only when Options.MDNS is set).
const MDNSServiceName = "_icn._udp"

// Options are what an operator sets for the host.
type Options struct {
	// Listen are multiaddrs to listen on (config p2p.listen,
	// --p2p-listen); the production default is /ip4/0.0.0.0/tcp/4001 and
	// /ip4/0.0.0.0/udp/4001/quic-v1.
	Listen []string
	// Bootstrap are peers to dial at start and keep connected, multiaddrs
	// ending in /p2p/<peer id> (config p2p.bootstrap, --bootstrap).
	Bootstrap []string
	// MDNS finds and dials peers on the local link; off by default, on in
	// the dev profile.
	MDNS bool
}

// Network is a libp2p host started by Start and closed by Stop.
type Network struct {
	id   *identity.Identity
	opts Options
	reg  prometheus.Registerer
	log  *slog.Logger
	mdns mdns.Service
	// mdnsStop ends the dials of the peers mDNS found (mdnsNotifee).
	mdnsStop context.CancelFunc
	*stack.Stack
}

var _ network.Network = (*Network)(nil)

// New checks the options and registers the metrics; nothing listens until
// Start.
func New(id *identity.Identity, opts Options, reg prometheus.Registerer, logger *slog.Logger) (*Network, error) {
	pid, err := id.PeerID()
	if err != nil {
		return nil, err
	}
	if len(opts.Listen) == 0 {
		return nil, errors.New("libp2pnet: no listen address")
	}
	for _, a := range opts.Listen {
		m, err := ma.NewMultiaddr(a)
		if err != nil {
			return nil, fmt.Errorf("libp2pnet: listen address %q: %w", a, err)
		}
		if _, err := m.ValueForProtocol(ma.P_P2P); err == nil {
			return nil, fmt.Errorf("libp2pnet: listen address %q must not name a peer", a)
		}
	}
	bootstrap, err := stack.ParseBootstrap(opts.Bootstrap)
	if err != nil {
		return nil, fmt.Errorf("libp2pnet: %w", err)
	}
	log := logger.With("component", "network")
	st, err := stack.New(pid, stack.Config{Bootstrap: bootstrap}, reg, log)
	if err != nil {
		return nil, err
	}
	return &Network{id: id, opts: opts, reg: reg, log: log, Stack: st}, nil
}

// Start opens the listeners and starts the network stack.
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
		libp2p.ConnectionGater(n.Gater()),
		libp2p.PrometheusRegisterer(n.reg),
		libp2p.UserAgent("icnd"),
	)
	if err != nil {
		return fmt.Errorf("libp2pnet: start host: %w", err)
	}
	if err := n.Stack.Start(h); err != nil {
		return fmt.Errorf("libp2pnet: %w", err)
	}
	if n.opts.MDNS {
		ctx, stop := context.WithCancel(context.Background())
		n.mdnsStop = stop
		n.mdns = mdns.NewMdnsService(h, MDNSServiceName, mdnsNotifee{n: n, ctx: ctx})
		if err := n.mdns.Start(); err != nil {
			return errors.Join(fmt.Errorf("libp2pnet: start mdns: %w", err), n.Stop(context.Background()))
		}
	}
	return nil
}

// Stop closes mDNS, the stack and the host; stopping twice is a no-op.
func (n *Network) Stop(ctx context.Context) error {
	var errs []error
	if n.mdns != nil {
		n.mdnsStop()
		errs = append(errs, n.mdns.Close())
		n.mdns = nil
	}
	errs = append(errs, n.Stack.Stop(ctx))
	return errors.Join(errs...)
}

// mdnsNotifee dials each peer mDNS finds; once connected the redial loop
// keeps it as a recently seen peer.
type mdnsNotifee struct {
	n   *Network
	ctx context.Context // done when the network stops
}

// mdnsDialAttempts bounds the dials of a peer mDNS found. mDNS reports a
// peer once per lookup, and its next query may be a minute away, so a
// dial that fails because the peer (or this node) was busy starting is
// tried again, after 1, 2 and 4 s.
const mdnsDialAttempts = 4

// HandlePeerFound runs in its own goroutine (one per peer found).
func (m mdnsNotifee) HandlePeerFound(ai peer.AddrInfo) {
	h := m.n.Host()
	if h == nil || ai.ID == h.ID() {
		return
	}
	wait := time.Second
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(m.ctx, network.DefaultRPCTimeout)
		if attempt > 1 {
			// past the swarm's backoff after the failed dial (5 s)
			ctx = corenet.WithForceDirectDial(ctx, "mdns: dial again")
		}
		err := h.Connect(ctx, ai)
		cancel()
		if err == nil {
			return
		}
		m.n.log.Debug("mdns peer not reachable", "peer", ai.ID.String(), "attempt", attempt, "err", err)
		if attempt == mdnsDialAttempts {
			return
		}
		select {
		case <-m.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait *= 2
	}
}
