// Package peers is the peer manager actor: the peer table, discovery,
// redial, per-peer circuit breakers, gossip and direct RPC.
//
// It accepts messages.StatusRequest (answering *messages.SubsystemStatus);
// the peer protocol arrives with the network issue. It reaches libp2p only
// through the network service interface.
package peers
