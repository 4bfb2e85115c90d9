// Package ledger is the ledger subsystem actor: mana accounts kept as
// chains of signed entries in the DAG, regeneration, reservations (escrow),
// transfers, chain verification and executor reputation.
//
// Every change to an account is an entry (a dag-cbor block signed by the
// account's key) that names the previous one; the account's head is a dag
// ref (ledger/head/<did>), moved by compare-and-swap in the same commit as
// the entries, so a transfer between local accounts lands on both chains
// or on neither. The actor answers only once the commit is durable, and
// rebuilds its accounts from the refs on every start. Regeneration is
// computed from the time between entries, never ticked, so no restart
// creates mana. Verify checks any chain (this node's or a peer's) from its
// open entry to its head. A transfer may carry an idempotency key: its ref
// (ledger/xfer/<payer>/<key>) names the send and is created in the same
// commit, so a retry after a lost answer is answered with the first
// transfer's entries, across restarts, instead of paying twice.
//
// It reaches the dag through the tree by name and writes reputation records
// through the store service; it never opens badger, and it never signs for
// an account whose key the keyring does not hold.
package ledger
