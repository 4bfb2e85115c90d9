package stack

import (
	"context"
	"fmt"
	"sync"

	pubsub "github.com/libp2p/go-libp2p-pubsub"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/intercooperative-network/icn-go/services/network"
)

// subBuffer is how many messages a local subscriber may fall behind before
// it loses some.
const subBuffer = 128

// topic is one joined gossipsub topic: the node's single pubsub
// subscription to it, fanned out to the local subscribers.
type topic struct {
	name string
	t    *pubsub.Topic
	sub  *pubsub.Subscription

	mu     sync.Mutex
	closed bool
	subs   map[*gossipSub]struct{}
}

type gossipSub struct {
	ch chan network.Message
}

// joinTopics joins and subscribes to every topic and starts their readers.
func (r *run) joinTopics() error {
	self := r.h.ID()
	for _, name := range network.Topics() {
		// Gossip relayed by a blocked peer is neither delivered nor
		// forwarded (ignored, not rejected: the peer is not misbehaving).
		err := r.ps.RegisterTopicValidator(name, func(_ context.Context, from peer.ID, _ *pubsub.Message) pubsub.ValidationResult {
			if from != self && r.s.blocked(from) {
				return pubsub.ValidationIgnore
			}
			return pubsub.ValidationAccept
		}, pubsub.WithValidatorInline(true))
		if err != nil {
			return fmt.Errorf("network: validator for %s: %w", name, err)
		}
		t, err := r.ps.Join(name)
		if err != nil {
			return fmt.Errorf("network: join %s: %w", name, err)
		}
		// Gossipsub delivers our own publications to our subscriptions;
		// we drop them here.
		sub, err := t.Subscribe(pubsub.WithBufferSize(subBuffer), pubsub.WithMessageFilter(func(m *pubsub.Message) bool {
			return !m.Local && m.GetFrom() != self
		}))
		if err != nil {
			return fmt.Errorf("network: subscribe %s: %w", name, err)
		}
		tp := &topic{name: name, t: t, sub: sub, subs: map[*gossipSub]struct{}{}}
		r.topics[name] = tp
		r.track.Go(func() { r.readTopic(tp) })
	}
	return nil
}

func (r *run) readTopic(tp *topic) {
	defer tp.closeAll()
	for {
		m, err := tp.sub.Next(r.ctx)
		if err != nil {
			return // the run's context ended or the subscription was cancelled
		}
		msg := network.Message{Topic: tp.name, Data: m.GetData(), From: m.GetFrom(), ReceivedFrom: m.ReceivedFrom}
		msg.FromKey = authorKey(m)
		if msg.FromKey == nil {
			r.s.log.Debug("gossip message without an author key dropped", "topic", tp.name)
			continue
		}
		r.s.m.count(tp.name, dirIn, len(msg.Data))
		tp.deliver(msg, func() { r.s.m.count(tp.name, dirDropped, 0) })
	}
}

// authorKey is the key gossipsub checked the author's signature with: the
// one carried in the message, or the one inlined in the author's peer ID.
func authorKey(m *pubsub.Message) crypto.PubKey {
	if k := m.GetKey(); len(k) > 0 {
		if pk, err := crypto.UnmarshalPublicKey(k); err == nil {
			return pk
		}
		return nil
	}
	pk, err := m.GetFrom().ExtractPublicKey()
	if err != nil {
		return nil
	}
	return pk
}

func (tp *topic) deliver(m network.Message, dropped func()) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	for s := range tp.subs {
		select {
		case s.ch <- m:
		default:
			dropped()
		}
	}
}

func (tp *topic) add() (*gossipSub, bool) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if tp.closed {
		return nil, false
	}
	s := &gossipSub{ch: make(chan network.Message, subBuffer)}
	tp.subs[s] = struct{}{}
	return s, true
}

func (tp *topic) remove(s *gossipSub) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if _, ok := tp.subs[s]; ok {
		delete(tp.subs, s)
		close(s.ch)
	}
}

func (tp *topic) closeAll() {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	tp.closed = true
	for s := range tp.subs {
		delete(tp.subs, s)
		close(s.ch)
	}
}

// Publish implements network.Gossip.
func (s *Stack) Publish(ctx context.Context, topic string, data []byte) error {
	r := s.current()
	if r == nil {
		return network.ErrNotStarted
	}
	tp, ok := r.topics[topic]
	if !ok {
		return fmt.Errorf("%w: %q", network.ErrUnknownTopic, topic)
	}
	if len(data) > network.MaxGossipSize {
		return fmt.Errorf("%w: gossip of %d bytes on %s, limit %d", network.ErrTooLarge, len(data), topic, network.MaxGossipSize)
	}
	if err := tp.t.Publish(ctx, data); err != nil {
		return fmt.Errorf("network: publish on %s: %w", topic, err)
	}
	s.m.count(topic, dirOut, len(data))
	return nil
}

// TopicPeers implements network.Gossip.
func (s *Stack) TopicPeers(topic string) []peer.ID {
	r := s.current()
	if r == nil {
		return nil
	}
	tp, ok := r.topics[topic]
	if !ok {
		return nil
	}
	return tp.t.ListPeers()
}

// Subscribe implements network.Gossip.
func (s *Stack) Subscribe(topic string) (<-chan network.Message, func(), error) {
	r := s.current()
	if r == nil {
		return nil, nil, network.ErrNotStarted
	}
	tp, ok := r.topics[topic]
	if !ok {
		return nil, nil, fmt.Errorf("%w: %q", network.ErrUnknownTopic, topic)
	}
	sub, ok := tp.add()
	if !ok {
		return nil, nil, network.ErrNotStarted
	}
	var once sync.Once
	return sub.ch, func() { once.Do(func() { tp.remove(sub) }) }, nil
}
