package identity

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"
)

// Errors returned by keyrings. Callers branch on them with errors.Is; the
// returned errors wrap them with detail (the DID, the bound).
var (
	// ErrNoKey reports an account whose key this node does not hold.
	ErrNoKey = errors.New("identity: no key held for account")
	// ErrKeyringFull reports a Create on a keyring that already holds its
	// maximum number of accounts.
	ErrKeyringFull = errors.New("identity: keyring is full")
)

// MaxAccounts is the default bound on the number of accounts a keyring
// holds, the node's own included.
const MaxAccounts = 100_000

// Keyring holds the keys of the accounts this node signs for: the node's own
// identity, always, and the accounts made with Create. A keyring signs with
// its keys and names them by DID; it never returns, prints or logs a private
// key.
//
// Implementations are safe for concurrent use.
type Keyring interface {
	// Create makes a new account key and returns its DID. The key is
	// durable before Create returns: a keyring reopened after a crash
	// holds every account Create returned. It fails with an error wrapping
	// ErrKeyringFull when the keyring holds its maximum number of accounts,
	// and with ctx's error if ctx is done before the key is stored.
	Create(ctx context.Context) (DID, error)
	// DIDs returns every account: the node's own first, then the others
	// sorted. The slice is the caller's.
	DIDs() []DID
	// Has reports whether the keyring holds the key of did.
	Has(did DID) bool
	// Sign returns the Ed25519 signature of msg by did's key, which
	// [Verify] with did checks. It fails with an error wrapping ErrNoKey
	// for an account whose key is not held here.
	Sign(did DID, msg []byte) ([]byte, error)
}

// memoryKeyring is the in-memory Keyring of the test profile.
type memoryKeyring struct {
	node *Identity
	max  int

	randMu sync.Mutex // serializes reads of rand, which need not be safe for concurrent use
	rand   io.Reader

	mu     sync.RWMutex
	keys   map[DID]*Identity // the other accounts, not the node's own
	sorted []DID             // the keys of keys, sorted
}

// NewMemoryKeyring returns a keyring that holds node and the accounts it
// creates in memory only: they are lost when the process ends, so it is for
// tests and the test profile. New keys come from rand, which should be
// crypto/rand.Reader outside of tests (nil means crypto/rand.Reader); it need
// not be safe for concurrent use. max bounds the number of accounts, node
// included; max <= 0 means [MaxAccounts].
//
// It panics if node is nil.
func NewMemoryKeyring(node *Identity, rand io.Reader, max int) Keyring {
	if node == nil {
		panic("identity: NewMemoryKeyring with a nil node identity")
	}
	if max <= 0 {
		max = MaxAccounts
	}
	return &memoryKeyring{node: node, max: max, rand: rand, keys: make(map[DID]*Identity)}
}

func (k *memoryKeyring) Create(ctx context.Context) (DID, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if n := 1 + len(k.keys); n >= k.max {
		return "", fmt.Errorf("%w: it holds %d accounts, at most %d", ErrKeyringFull, n, k.max)
	}
	k.randMu.Lock()
	id, err := Generate(k.rand)
	k.randMu.Unlock()
	if err != nil {
		return "", err
	}
	did := id.DID()
	if _, dup := k.keys[did]; dup || did == k.node.DID() {
		return "", fmt.Errorf("identity: new key %s is already in the keyring (is the random source repeating?)", did)
	}
	k.keys[did] = id
	i, _ := slices.BinarySearch(k.sorted, did)
	k.sorted = slices.Insert(k.sorted, i, did)
	return did, nil
}

func (k *memoryKeyring) DIDs() []DID {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make([]DID, 0, 1+len(k.sorted))
	return append(append(out, k.node.DID()), k.sorted...)
}

func (k *memoryKeyring) Has(did DID) bool {
	_, ok := k.lookup(did)
	return ok
}

func (k *memoryKeyring) Sign(did DID, msg []byte) ([]byte, error) {
	id, ok := k.lookup(did)
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNoKey, did)
	}
	return id.Sign(msg), nil
}

func (k *memoryKeyring) lookup(did DID) (*Identity, bool) {
	if did == k.node.DID() {
		return k.node, true
	}
	k.mu.RLock()
	defer k.mu.RUnlock()
	id, ok := k.keys[did]
	return id, ok
}
