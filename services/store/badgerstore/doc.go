// Package badgerstore implements store.Store on badger v4
// (github.com/dgraph-io/badger/v4) for the production and dev profiles.
//
// [Open] opens a database tuned for a daemon that may run several nodes in
// one process: three 16 MiB memtables, a 32 MiB block cache, a 16 MiB index
// cache, Snappy compression, two compactors, no conflict detection (every
// write transaction is blind), badger's expvar metrics off, and badger's
// logger routed to the given *slog.Logger (its Info and Debug become slog
// Debug, Warning becomes Warn, Error stays Error).
//
// # Group commit
//
// Commit does not write. It queues the batch and waits. A single committer
// goroutine takes every batch queued at that moment (a group), writes the
// group as one badger transaction, which badger turns into one write request
// made durable by one sync of its logs, and then releases every caller of
// the group with the same outcome. While it writes, the next group queues
// up, so under load a sync is shared by as many commits as arrive during
// one; a lone commit still pays a whole sync. In the benchmarks of this
// package, 16 committers share a sync about 8 at a time.
//
// Each batch stays atomic. A transaction is atomic in badger, including
// after a crash: its entries carry the commit timestamp and replay of the
// memtable WAL (logFile.iterate) applies them only once the transaction's
// finish marker has been read. A group is therefore cut only between
// batches. Badger limits a transaction to 15% of the memtable size (about
// 2.4 MiB and 26 000 entries for 16 MiB memtables). A batch is at most
// store.MaxBatchBytes bytes and store.MaxBatchOps operations, and Open fails
// unless such a batch fits in one transaction. So a batch is never split,
// and a batch that is too big is refused with store.BatchTooLargeError
// before anything is written. When the batches of a group together exceed
// the limit, they are packed in order into several transactions, each
// written and synced by badger before the next (an upper-bound estimate of
// badger's own size accounting decides the cuts; if badger still answers
// ErrTxnTooBig, the transaction is halved and retried).
//
// Cancellation has two cases. A caller whose context ends before the
// committer took its batch gets ctx.Err(), and the batch is skipped: an
// atomic compare-and-swap on the request decides between "taken" and
// "cancelled", so exactly one side wins. Once the batch is taken, Commit
// waits for the outcome and reports it, whatever the context does.
//
// # Durability: SyncWrites, not DB.Sync
//
// Badger writes each request first to the value log (vlog.write) and then
// to the active memtable and its write-ahead log, the .mem file
// (writeToLSM). Both logs are memory-mapped files. A SIGKILL alone loses
// nothing that reached them, because the page cache outlives the process.
// Power loss loses what was not synced. Two ways of syncing were considered
// (badger v4.9.6 source):
//
//   - SyncWrites=false, then DB.Sync() after each group. DB.Sync syncs
//     db.mt's WAL (the active memtable only) and the current value log
//     file. If the memtable fills while a group is written,
//     ensureRoomForWrite moves it to the immutable list without syncing its
//     WAL. That happens before the second of two requests, or when badger's
//     own write loop merges requests. DB.Sync then syncs only the new
//     memtable, and the entries in the old one stay unsynced until that
//     memtable is flushed to L0. So this way has a power-loss gap.
//   - SyncWrites=true, the choice here. Each write request syncs the current
//     value log file at the end of vlog.write. It then syncs the WAL of the
//     memtable it was written to, in writeToLSM, before the request
//     completes. A memtable that fills later was therefore already synced.
//     A value log file that is rotated is synced too: doneWriting syncs
//     under SyncWrites, and z.MmapFile.Truncate syncs.
//
// The cost is the same for both ways: two msyncs (value log and WAL) per
// write request. The group commit keeps it to one request, hence one sync
// point, per group.
//
// Two known badger limitations remain. First, the directory entry of a
// newly created WAL or value log file is not synced on its own:
// z.OpenMmapFileUsing syncs the directory only for files created empty, and
// badger creates these files at full size. On a journaling filesystem such
// as ext4 or XFS, syncing the file also commits the journal transaction
// that created it, so the data stays reachable after a power loss. On other
// filesystems this is a gap. Second, a failed value-log sync inside
// vlog.write is logged, not returned. It matters only for values stored in
// the value log: values of at least the value threshold, store.LargeValue
// (64 KiB). Smaller values live in the WAL, whose sync error is returned.
// The store watches for that log line: after it, every Commit fails with
// ErrSyncFailed until the node restarts, so nothing more is acknowledged
// on a log that may not be on disk.
//
// An error from Commit means the batch is not known to be durable. If the
// error came from an I/O failure inside badger after the memtable was
// written, readers may already see the batch, so treat such an error as
// fatal for the store, not as a clean "nothing happened".
//
// # Closing
//
// Close makes new calls fail with store.ErrClosed. It then waits for the
// calls in flight, including every Commit already queued, which is written.
// Only then does it stop the committer and close badger, which flushes the
// memtable. A second Close returns nil. Close must not be called from inside
// a Scan callback: it would wait for that Scan.
//
// # What it must not do
//
// badgerstore is the only package that imports badger. It holds no domain
// state and does not interpret keys. It never calls badger's
// DropAll/DropPrefix or value-log GC on its own. It never acknowledges a
// batch before badger has synced it.
package badgerstore
