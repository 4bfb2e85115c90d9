// Package memstore implements store.Store in memory, for the test profile.
//
// It keeps a map from key to value and sorts the matching keys for each
// Scan. It follows badgerstore's semantics exactly (the storetest suite
// checks both): Get returns a copy, Put copies through store.Batch, a Scan
// works on a snapshot, and the limits and errors of package store apply.
//
// To catch callers that keep the slices a Scan callback receives (legal on
// neither store, but silently harmless on most runs of badger), memstore
// passes each key and value in a reused buffer and overwrites it with 0xA5
// bytes once the callback returns.
//
// # What it must not do
//
// memstore is not durable: nothing survives the process, so it stands in
// for badgerstore only where the test profile accepts that. It starts no
// goroutines and does no I/O.
package memstore
