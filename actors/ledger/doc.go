// Package ledger is the ledger subsystem actor: mana accounts as signed
// entry chains in the DAG, reservations, transfers and reputation.
//
// It accepts messages.StatusRequest (answering *messages.SubsystemStatus);
// the account protocol arrives with the ledger issue. It persists through
// the dag actor and the store service; it never opens badger itself.
package ledger
