// Package storetest is the conformance suite for store.Store: every
// implementation (badgerstore, memstore) passes the same [Run], the way
// every slog.Handler passes testing/slogtest.
//
// The suite checks the contract written in package store: reads after
// writes, overwrites and deletes, scan order, prefix, start and early stop,
// scan snapshots, batch atomicity and limits, copy semantics, closed-store
// errors, concurrent commits and cancelled contexts, and a randomized
// comparison against a map.
//
// # What it must not do
//
// storetest knows no implementation: it only calls the store.Store
// interface. It is imported by tests only.
package storetest
