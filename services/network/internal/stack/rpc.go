package stack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	libnet "github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/peerstore"

	"github.com/intercooperative-network/icn-go/services/network"
)

// Handle implements network.RPC.
func (s *Stack) Handle(h network.Handler) {
	if h == nil {
		s.handler.Store(nil)
		return
	}
	s.handler.Store(&h)
}

// Request implements network.RPC.
func (s *Stack) Request(ctx context.Context, p peer.ID, data []byte) ([]byte, error) {
	r := s.current()
	if r == nil {
		return nil, network.ErrNotStarted
	}
	if p == s.self {
		return nil, fmt.Errorf("%w: request to %s", network.ErrSelf, p)
	}
	if len(data) > s.cfg.MaxRPCSize {
		return nil, fmt.Errorf("%w: request of %d bytes to %s, limit %d", network.ErrTooLarge, len(data), p, s.cfg.MaxRPCSize)
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, s.cfg.RPCTimeout)
		defer cancel()
	}
	return r.request(ctx, p, data)
}

func (r *run) request(ctx context.Context, p peer.ID, data []byte) ([]byte, error) {
	s := r.s
	if s.blocked(p) {
		return nil, fmt.Errorf("%w: %s is blocked", network.ErrPeerUnreachable, p)
	}
	r.locate(ctx, p)
	str, err := r.h.NewStream(ctx, p, network.ProtocolRPC)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
			return nil, fmt.Errorf("%w: %s: %w (%w)", network.ErrPeerUnreachable, p, err, cerr)
		}
		return nil, fmt.Errorf("%w: %s: %w", network.ErrPeerUnreachable, p, err)
	}
	// A context cancelled without a deadline must still end the exchange.
	stop := context.AfterFunc(ctx, func() { _ = str.Reset() })
	defer stop()
	if dl, ok := ctx.Deadline(); ok {
		_ = str.SetDeadline(dl)
	}
	if err := writeFrame(str, kindRequest, data); err != nil {
		_ = str.Reset()
		return nil, broken(ctx, p, err)
	}
	s.m.count(topicRPC, dirOut, len(data))
	if err := str.CloseWrite(); err != nil {
		_ = str.Reset()
		return nil, broken(ctx, p, err)
	}
	kind, body, err := readFrame(bufio.NewReader(str), s.cfg.MaxRPCSize)
	if err != nil {
		_ = str.Reset()
		if errors.Is(err, network.ErrTooLarge) || errors.Is(err, network.ErrProtocol) {
			return nil, fmt.Errorf("reply from %s: %w", p, err)
		}
		return nil, broken(ctx, p, err)
	}
	_ = str.Close()
	s.m.count(topicRPC, dirIn, len(body))
	switch kind {
	case kindReply:
		return body, nil
	case kindError:
		code, msg, err := parseErrorBody(body)
		if err != nil {
			return nil, fmt.Errorf("reply from %s: %w", p, err)
		}
		return nil, &network.RemoteError{Peer: p, Code: code, Message: msg}
	}
	return nil, fmt.Errorf("%w: %s answered with a request frame", network.ErrProtocol, p)
}

// locate asks the DHT for the addresses of a peer we are not connected to
// and know no address of (a peer found through a provider record or named
// in a message, say). Failure is left to the dial that follows.
func (r *run) locate(ctx context.Context, p peer.ID) {
	if r.h.Network().Connectedness(p) == libnet.Connected || len(r.h.Peerstore().Addrs(p)) > 0 {
		return
	}
	ai, err := r.dht.FindPeer(ctx, p)
	if err != nil {
		r.s.log.Debug("peer not found in the dht", "peer", p.String(), "err", err)
		return
	}
	r.h.Peerstore().AddAddrs(p, ai.Addrs, peerstore.TempAddrTTL)
}

// broken classifies an error in the middle of an exchange: the caller's
// deadline or cancellation if that is what ended it, else a broken stream.
func broken(ctx context.Context, p peer.ID, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("network: request to %s: %w", p, cerr)
	}
	// The stream's deadline is the context's: it may fire a moment first.
	var ne net.Error
	if errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("network: request to %s: %w (%w)", p, context.DeadlineExceeded, err)
	}
	return fmt.Errorf("%w (%w): %s: %w", network.ErrStreamBroken, network.ErrPeerUnreachable, p, err)
}

// serve answers one request stream.
func (r *run) serve(str libnet.Stream) {
	if !r.track.enter() {
		_ = str.Reset()
		return
	}
	defer r.track.leave()
	s := r.s
	from := str.Conn().RemotePeer()
	if s.blocked(from) {
		_ = str.Reset()
		return
	}
	// The deadline bounds reading the request, the handler and writing the
	// reply; a transport without deadlines (mocknet) gets the reset.
	ctx, cancel := context.WithTimeout(r.ctx, s.cfg.RPCTimeout)
	defer cancel()
	_ = str.SetDeadline(time.Now().Add(s.cfg.RPCTimeout))
	stop := context.AfterFunc(ctx, func() { _ = str.Reset() })
	defer stop()
	kind, body, err := readFrame(bufio.NewReader(str), s.cfg.MaxRPCSize)
	switch {
	case errors.Is(err, network.ErrTooLarge):
		s.log.Debug("rpc request too large", "peer", from.String(), "err", err)
		r.answer(str, kindError, errorBody(network.RemoteTooLarge, err.Error()))
		return
	case err != nil:
		s.log.Debug("rpc request unreadable", "peer", from.String(), "err", err)
		_ = str.Reset()
		return
	case kind != kindRequest:
		s.log.Debug("rpc stream did not start with a request", "peer", from.String(), "kind", kind)
		_ = str.Reset()
		return
	}
	s.m.count(topicRPC, dirIn, len(body))
	hp := s.handler.Load()
	if hp == nil {
		r.answer(str, kindError, errorBody(network.RemoteNoHandler, "this node serves no requests"))
		return
	}
	reply, herr := callHandler(ctx, *hp, from, body)
	switch {
	case herr != nil:
		r.answer(str, kindError, errorBody(network.RemoteHandlerError, herr.Error()))
	case len(reply) > s.cfg.MaxRPCSize:
		s.log.Warn("rpc reply over the limit", "peer", from.String(), "bytes", len(reply))
		r.answer(str, kindError, errorBody(network.RemoteTooLarge,
			fmt.Sprintf("reply of %d bytes, limit %d", len(reply), s.cfg.MaxRPCSize)))
	default:
		r.answer(str, kindReply, reply)
	}
}

// callHandler runs h, turning a panic into an error: a bad request must not
// take the node down.
func callHandler(ctx context.Context, h network.Handler, from peer.ID, body []byte) (reply []byte, err error) {
	defer func() {
		if v := recover(); v != nil {
			reply, err = nil, fmt.Errorf("handler panicked: %v", v)
		}
	}()
	return h(ctx, from, body)
}

// answer writes the one frame of a reply and closes the stream.
func (r *run) answer(str libnet.Stream, kind byte, body []byte) {
	if err := writeFrame(str, kind, body); err != nil {
		r.s.log.Debug("rpc reply not sent", "peer", str.Conn().RemotePeer().String(), "err", err)
		_ = str.Reset()
		return
	}
	r.s.m.count(topicRPC, dirOut, len(body))
	_ = str.Close()
}
