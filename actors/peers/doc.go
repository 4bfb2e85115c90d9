// Package peers is the peer manager actor: the peer table, per-peer
// circuit breakers on outbound requests, gossip and direct RPC, and the
// envelope check and routing of every message another node sends.
//
// It answers messages.StatusRequest, ListPeers, ConnectPeer, PublishGossip,
// AskPeer, WatchPeers, Provide, FindProviders and the fault injection
// messages; it reaches libp2p only through the network service interface.
//
// A peer's round trip is measured by ping when it connects and every
// Deps.PingInterval: the table shows it, and FindProviders lists the
// nearest connected peers first.
//
// WatchPeers subscribes a subsystem (by its tree name) to *messages.PeerEvent
// for the life of the node: the subscription survives restarts of this
// actor, and of the subscriber (subscribing again is harmless). The reply
// is the table at that moment; events follow in order. After a restart of
// this actor the subscribers are told how the peers changed while it was
// down, so that what they last heard of each peer is its state; events are
// sent without waiting (tree.Send), so a subscriber that is itself down
// misses them and should read ListPeers when it starts. No subsystem
// subscribes yet: jobs and dag ask for providers when they need peers.
package peers
