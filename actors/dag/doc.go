// Package dag is the dag subsystem actor: the node's content-addressed block
// store (put, get, pin, TTL, GC, fetching missing blocks from peers).
//
// It accepts messages.StatusRequest (answering *messages.SubsystemStatus);
// the block protocol arrives with the DAG issue. It writes through the store
// service and never opens badger itself.
package dag
