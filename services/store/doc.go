// Package store defines the key-value storage service that actors persist
// through: the [Store] interface, the [Batch] of writes a [Store.Commit]
// applies atomically and durably, the limits every implementation enforces,
// and the errors callers branch on.
//
// Actors never open a database themselves (DESIGN rule 3: "acknowledge only
// what is durable"): an actor steps its core, commits the resulting writes
// through a Store, and only then replies. Two implementations satisfy the
// same contract, checked by the conformance suite in the sub-package
// storetest:
//
//   - badgerstore: production and dev, on badger v4, with group commit;
//   - memstore: the test profile, a map in memory.
//
// # The contract
//
// Keys are 1 to [MaxKeySize] bytes and must not begin with [ReservedPrefix];
// values may be empty. Reads ([Store.Get], [Store.Has], [Store.Scan]) see
// every batch whose Commit has returned nil. A Scan sees one consistent
// snapshot taken when it starts, in ascending byte order of the keys; writes
// committed while it runs (even from inside its callback) are not visited.
//
// A [Batch] collects puts and deletes; Put copies its arguments, so the
// caller may reuse its buffers at once. Commit applies all of a batch or
// none of it, and returns nil only once the writes are durable: they survive
// a SIGKILL of the process, and power loss within what fsync promises.
// Within one batch the last write to a key wins. A batch over the limits
// ([MaxBatchOps] operations, [MaxBatchBytes] of inline weight, where a value
// of [LargeValue] bytes or more weighs [PointerSize], [MaxBatchTotal] bytes
// in all, or a value over [MaxValueSize]) is refused with a
// [*BatchTooLargeError], and one with an invalid key with an error wrapping
// [ErrInvalidKey]; in both cases nothing is written.
//
// A Commit whose context is done before the store has taken the batch
// returns the context's error and writes nothing. Once the store has taken
// it, Commit waits for the outcome and reports it truthfully, whatever the
// context does.
//
// After [Store.Close] every method returns [ErrClosed]; Close drains the
// commits already submitted and a second Close is a no-op.
//
// # What it must not do
//
// This package holds no implementation: no badger, no goroutines, no I/O,
// no package-level mutable state.
package store
