package store

import (
	"fmt"
	"iter"
)

// Op is one write of a Batch: Value stored at Key, or Key deleted.
type Op struct {
	Key    []byte
	Value  []byte // nil for a delete
	Delete bool
}

// Batch is a list of writes that Commit applies atomically, in order (the
// last write to a key wins). The zero value is an empty batch ready to use.
// A Batch is not safe for concurrent use.
type Batch struct {
	ops      []Op
	size     int // inline weight, see Size
	total    int // every byte
	maxValue int
}

// Put records that value is to be stored at key. Both are copied.
func (b *Batch) Put(key, value []byte) {
	buf := make([]byte, len(key)+len(value))
	n := copy(buf, key)
	copy(buf[n:], value)
	b.ops = append(b.ops, Op{Key: buf[:n:n], Value: buf[n:]})
	b.size += len(key) + weight(len(value))
	b.total += len(buf)
	b.maxValue = max(b.maxValue, len(value))
}

// Weight is what a value of n bytes adds to a batch's Size (besides its
// key): n, or PointerSize for a large value.
func Weight(n int) int { return weight(n) }

// weight is what a value of n bytes counts toward Size.
func weight(n int) int {
	if n >= LargeValue {
		return PointerSize
	}
	return n
}

// Delete records that key is to be deleted. The key is copied. Deleting a
// key that has no value is not an error.
func (b *Batch) Delete(key []byte) {
	b.ops = append(b.ops, Op{Key: append([]byte(nil), key...), Delete: true})
	b.size += len(key)
	b.total += len(key)
}

// Len returns the number of operations in the batch.
func (b *Batch) Len() int {
	if b == nil {
		return 0
	}
	return len(b.ops)
}

// Size returns the inline weight of the batch, the quantity bounded by
// MaxBatchBytes: the lengths of every key and of every value smaller than
// LargeValue, plus PointerSize for each large value.
func (b *Batch) Size() int {
	if b == nil {
		return 0
	}
	return b.size
}

// Total returns every key and value byte of the batch, the quantity bounded
// by MaxBatchTotal.
func (b *Batch) Total() int {
	if b == nil {
		return 0
	}
	return b.total
}

// Reset empties the batch so it can be reused. It must not be called while
// a Commit of the batch is running.
func (b *Batch) Reset() {
	clear(b.ops) // drop references to the copies
	b.ops = b.ops[:0]
	b.size, b.total, b.maxValue = 0, 0, 0
}

// Ops yields the batch's operations in the order they were recorded. It is
// meant for Store implementations; the slices belong to the batch and must
// not be modified.
func (b *Batch) Ops() iter.Seq[Op] {
	return func(yield func(Op) bool) {
		if b == nil {
			return
		}
		for _, op := range b.ops {
			if !yield(op) {
				return
			}
		}
	}
}

// Validate returns the error Commit must return for this batch without
// writing anything: a *BatchTooLargeError, or an error wrapping
// ErrInvalidKey. It returns nil for a batch every Store accepts.
func (b *Batch) Validate() error {
	if b == nil {
		return nil
	}
	if b.Len() > MaxBatchOps || b.Size() > MaxBatchBytes || b.Total() > MaxBatchTotal || b.maxValue > MaxValueSize {
		return &BatchTooLargeError{Ops: b.Len(), Bytes: b.Size(), Total: b.Total(), MaxValue: b.maxValue}
	}
	for i, op := range b.ops {
		if err := ValidateKey(op.Key); err != nil {
			return fmt.Errorf("op %d: %w", i, err)
		}
	}
	return nil
}

// String describes the batch's shape (never its contents) for logs.
func (b *Batch) String() string {
	return fmt.Sprintf("store.Batch{ops: %d, bytes: %d, total: %d}", b.Len(), b.Size(), b.Total())
}
