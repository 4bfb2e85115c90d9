package memstore

import (
	"bytes"
	"context"
	"slices"
	"strings"
	"sync"

	"github.com/intercooperative-network/icn-go/services/store"
)

// Store is an in-memory store.Store. The zero value is not usable; call New.
type Store struct {
	mu     sync.RWMutex
	closed bool
	data   map[string][]byte // values are never modified in place
}

var _ store.Store = (*Store)(nil)

// New returns an empty store.
func New() *Store {
	return &Store{data: make(map[string][]byte)}
}

// Get implements store.Store.
func (s *Store) Get(ctx context.Context, key []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, key); err != nil {
		return nil, err
	}
	v, ok := s.data[string(key)]
	if !ok {
		return nil, store.ErrNotFound
	}
	return append([]byte{}, v...), nil
}

// Has implements store.Store.
func (s *Store) Has(ctx context.Context, key []byte) (bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.check(ctx, key); err != nil {
		return false, err
	}
	_, ok := s.data[string(key)]
	return ok, nil
}

func (s *Store) check(ctx context.Context, key []byte) error {
	if s.closed {
		return store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return store.ValidateKey(key)
}

type pair struct {
	key   string
	value []byte
}

// Scan implements store.Store.
func (s *Store) Scan(ctx context.Context, prefix, start []byte, fn func(key, value []byte) error) error {
	snap, err := s.snapshot(ctx, prefix, start)
	if err != nil {
		return err
	}
	var kbuf, vbuf []byte
	for _, p := range snap {
		if err := ctx.Err(); err != nil {
			return err
		}
		kbuf = append(kbuf[:0], p.key...)
		vbuf = append(vbuf[:0], p.value...)
		err := fn(kbuf, vbuf)
		poison(kbuf)
		poison(vbuf)
		if err != nil {
			return err
		}
	}
	return nil
}

// snapshot returns the pairs a Scan visits, sorted, taken under the read
// lock so that fn runs without it (and may Commit).
func (s *Store) snapshot(ctx context.Context, prefix, start []byte) ([]pair, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, store.ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	var snap []pair
	for k, v := range s.data {
		if strings.HasPrefix(k, string(prefix)) && k >= string(start) {
			snap = append(snap, pair{k, v})
		}
	}
	slices.SortFunc(snap, func(a, b pair) int { return strings.Compare(a.key, b.key) })
	return snap, nil
}

func poison(b []byte) {
	for i := range b {
		b[i] = 0xA5
	}
}

// Commit implements store.Store. It never blocks on anything but the
// store's own lock, so a context is only checked on entry.
func (s *Store) Commit(ctx context.Context, b *store.Batch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return store.ErrClosed
	}
	if err := b.Validate(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	for op := range b.Ops() {
		if op.Delete {
			delete(s.data, string(op.Key))
		} else {
			s.data[string(op.Key)] = bytes.Clone(op.Value)
		}
	}
	return nil
}

// Close implements store.Store: it drops the data.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	s.data = nil
	return nil
}
