package store

import (
	"context"
	"errors"
	"fmt"
)

// Limits every Store enforces, so that code written against the test
// profile's memstore behaves the same on badger.
//
// Values of at least LargeValue bytes are large: engines keep them out of
// line (badger's value log), so in a transaction they weigh only a pointer.
// Batch.Size counts them as PointerSize and MaxBatchBytes bounds what is
// kept inline; MaxValueSize and MaxBatchTotal bound the large values
// themselves. A 16 MiB content block and its index entries fit one batch.
const (
	// MaxKeySize is the largest key, in bytes (badger's own limit).
	MaxKeySize = 65000
	// MaxBatchOps is the largest number of operations in one Batch.
	MaxBatchOps = 10_000
	// LargeValue is the size from which a value is kept out of line.
	LargeValue = 64 << 10
	// PointerSize is what a large value counts toward Batch.Size.
	PointerSize = 16
	// MaxBatchBytes is the largest Batch.Size: the sum of the lengths of
	// every key and of every value smaller than LargeValue, plus
	// PointerSize for each large value.
	MaxBatchBytes = 2 << 20
	// MaxValueSize is the largest value.
	MaxValueSize = 16 << 20
	// MaxBatchTotal is the largest Batch.Total: every key and value byte.
	MaxBatchTotal = 64 << 20
)

// ReservedPrefix begins the keys that storage engines keep for their own
// bookkeeping (badger's internal keys). No Store accepts or returns a key
// with this prefix.
const ReservedPrefix = "!badger!"

var (
	// ErrNotFound is returned by Get for a key that has no value.
	ErrNotFound = errors.New("store: not found")
	// ErrClosed is returned by every method of a Store after Close.
	ErrClosed = errors.New("store: closed")
	// ErrInvalidKey is wrapped by the error returned for an empty key, a key
	// longer than MaxKeySize or a key beginning with ReservedPrefix.
	ErrInvalidKey = errors.New("store: invalid key")
)

// BatchTooLargeError is returned by Commit for a batch over one of the
// limits: more than MaxBatchOps operations, a Size over MaxBatchBytes, a
// Total over MaxBatchTotal, or a value over MaxValueSize. Nothing of the
// batch is written; split it, or store large values as several keys.
type BatchTooLargeError struct {
	Ops      int // the batch's Len
	Bytes    int // the batch's Size
	Total    int // the batch's Total
	MaxValue int // the length of its largest value
}

func (e *BatchTooLargeError) Error() string {
	return fmt.Sprintf("store: batch too large: %d ops (max %d), %d bytes (max %d), %d bytes in all (max %d), largest value %d bytes (max %d)",
		e.Ops, MaxBatchOps, e.Bytes, MaxBatchBytes, e.Total, MaxBatchTotal, e.MaxValue, MaxValueSize)
}

// Store is a durable, ordered key-value store. All methods are safe for
// concurrent use. The package documentation states the contract in full.
type Store interface {
	// Get returns the value of key, or ErrNotFound. The returned slice is
	// the caller's to keep and modify.
	Get(ctx context.Context, key []byte) ([]byte, error)

	// Has reports whether key has a value.
	Has(ctx context.Context, key []byte) (bool, error)

	// Scan calls fn for each key with the given prefix, in ascending key
	// order, starting at start (inclusive; nil means the prefix itself). The
	// slices passed to fn are only valid during the call: copy what you keep.
	// If fn returns an error the scan stops and Scan returns that error
	// unchanged (return a sentinel to stop early). Scan sees a snapshot
	// taken when it starts. fn may call Get, Has and Commit on the same
	// store, but not Close.
	Scan(ctx context.Context, prefix, start []byte, fn func(key, value []byte) error) error

	// Commit applies the batch atomically and durably: when it returns nil
	// the writes survive a SIGKILL of the process (and power loss within
	// what fsync promises). The batch must not be modified until Commit
	// returns; afterwards the store keeps no reference to it.
	Commit(ctx context.Context, b *Batch) error

	// Close waits for in-flight calls to return, makes the store refuse
	// further calls with ErrClosed and releases its resources. A second
	// Close does nothing and returns nil.
	Close() error
}

// ValidateKey returns nil if key may be stored, and otherwise an error
// wrapping ErrInvalidKey that says why.
func ValidateKey(key []byte) error {
	switch {
	case len(key) == 0:
		return fmt.Errorf("%w: empty", ErrInvalidKey)
	case len(key) > MaxKeySize:
		return fmt.Errorf("%w: %d bytes, longer than %d", ErrInvalidKey, len(key), MaxKeySize)
	case len(key) >= len(ReservedPrefix) && string(key[:len(ReservedPrefix)]) == ReservedPrefix:
		return fmt.Errorf("%w: begins with reserved prefix %q", ErrInvalidKey, ReservedPrefix)
	}
	return nil
}
