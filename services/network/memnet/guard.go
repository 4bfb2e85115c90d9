package memnet

import (
	"context"
	"errors"
	"sync"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// errConnClosed: a stream was opened on a connection that is closing.
var errConnClosed = errors.New("memnet: connection closed")

// guardedHost makes mocknet streams die with their connection, as a real
// swarm's do. Mocknet lets a stream be opened on a connection that is being
// closed; such a stream is never reset (the close already reset the streams
// it knew), so it works across a partition and outlives the hosts, leaving
// its protocol handler blocked forever. The guard tracks the streams the
// stack's protocols open and serve, resets any on a closed connection when
// it appears and whenever a peer disconnects, and resets all at Stop.
type guardedHost struct {
	host.Host

	mu      sync.Mutex
	closed  bool
	streams map[network.Stream]struct{}
	notify  *network.NotifyBundle
}

func guard(h host.Host) *guardedHost {
	g := &guardedHost{Host: h, streams: map[network.Stream]struct{}{}}
	g.notify = &network.NotifyBundle{DisconnectedF: func(network.Network, network.Conn) { g.sweep() }}
	h.Network().Notify(g.notify)
	return g
}

// track registers s, or resets it if its connection is already closed (or
// the guard is); false when s was reset.
func (g *guardedHost) track(s network.Stream) bool {
	g.mu.Lock()
	if g.closed || s.Conn().IsClosed() {
		g.mu.Unlock()
		_ = s.Reset()
		return false
	}
	g.streams[s] = struct{}{}
	g.mu.Unlock()
	return true
}

// sweep resets and forgets the streams whose connection has closed.
func (g *guardedHost) sweep() {
	var dead []network.Stream
	g.mu.Lock()
	for s := range g.streams {
		if s.Conn().IsClosed() {
			dead = append(dead, s)
			delete(g.streams, s)
		}
	}
	g.mu.Unlock()
	for _, s := range dead {
		_ = s.Reset()
	}
}

// NewStream implements host.Host.
func (g *guardedHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	s, err := g.Host.NewStream(ctx, p, pids...)
	if err != nil {
		return nil, err
	}
	if !g.track(s) {
		return nil, errConnClosed
	}
	return s, nil
}

func (g *guardedHost) wrap(h network.StreamHandler) network.StreamHandler {
	return func(s network.Stream) {
		if g.track(s) {
			h(s)
		}
	}
}

// SetStreamHandler implements host.Host.
func (g *guardedHost) SetStreamHandler(pid protocol.ID, h network.StreamHandler) {
	g.Host.SetStreamHandler(pid, g.wrap(h))
}

// SetStreamHandlerMatch implements host.Host.
func (g *guardedHost) SetStreamHandlerMatch(pid protocol.ID, match func(protocol.ID) bool, h network.StreamHandler) {
	g.Host.SetStreamHandlerMatch(pid, match, g.wrap(h))
}

// Close closes the host, then resets every stream still tracked.
func (g *guardedHost) Close() error {
	g.Host.Network().StopNotify(g.notify)
	err := g.Host.Close()
	g.mu.Lock()
	g.closed = true
	streams := g.streams
	g.streams = map[network.Stream]struct{}{}
	g.mu.Unlock()
	for s := range streams {
		_ = s.Reset()
	}
	return err
}
