package stack

import (
	"slices"
	"sync"

	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
)

// gate is the fault-injection block list and the libp2p connection gater
// that enforces it: a blocked peer is neither dialed nor accepted (once its
// identity is known, after the security handshake).
type gate struct {
	mu      sync.RWMutex
	blocked map[peer.ID]struct{}
}

func newGate() *gate { return &gate{blocked: map[peer.ID]struct{}{}} }

func (g *gate) isBlocked(p peer.ID) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	_, ok := g.blocked[p]
	return ok
}

func (g *gate) block(ps []peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range ps {
		g.blocked[p] = struct{}{}
	}
}

func (g *gate) unblock(ps []peer.ID) {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range ps {
		delete(g.blocked, p)
	}
}

func (g *gate) list() []peer.ID {
	g.mu.RLock()
	defer g.mu.RUnlock()
	out := make([]peer.ID, 0, len(g.blocked))
	for p := range g.blocked {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// InterceptPeerDial implements connmgr.ConnectionGater.
func (g *gate) InterceptPeerDial(p peer.ID) bool { return !g.isBlocked(p) }

// InterceptAddrDial implements connmgr.ConnectionGater.
func (g *gate) InterceptAddrDial(p peer.ID, _ ma.Multiaddr) bool { return !g.isBlocked(p) }

// InterceptAccept implements connmgr.ConnectionGater: the remote peer is
// not known yet, InterceptSecured decides.
func (g *gate) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured implements connmgr.ConnectionGater.
func (g *gate) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	return !g.isBlocked(p)
}

// InterceptUpgraded implements connmgr.ConnectionGater.
func (g *gate) InterceptUpgraded(c network.Conn) (bool, control.DisconnectReason) {
	return !g.isBlocked(c.RemotePeer()), 0
}
