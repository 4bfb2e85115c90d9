// Package keyringtest checks that an [identity.Keyring] keeps the contract
// its users rely on. It is for tests of Keyring implementations, as
// testing/fstest is for file systems.
package keyringtest

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/intercooperative-network/icn-go/services/identity"
)

// NewFunc returns a new, empty keyring over node that holds at most max
// accounts (node included).
type NewFunc func(t *testing.T, node *identity.Identity, max int) identity.Keyring

// Run runs the contract tests of Keyring against the keyrings newKeyring
// makes, each as a subtest of t.
func Run(t *testing.T, newKeyring NewFunc) {
	t.Run("SignVerifyRoundTrip", func(t *testing.T) { testRoundTrip(t, newKeyring) })
	t.Run("DIDsOrder", func(t *testing.T) { testDIDsOrder(t, newKeyring) })
	t.Run("Has", func(t *testing.T) { testHas(t, newKeyring) })
	t.Run("NoKey", func(t *testing.T) { testNoKey(t, newKeyring) })
	t.Run("Full", func(t *testing.T) { testFull(t, newKeyring) })
	t.Run("CanceledContext", func(t *testing.T) { testCanceled(t, newKeyring) })
	t.Run("ConcurrentCreate", func(t *testing.T) { testConcurrentCreate(t, newKeyring) })
}

// NewNode returns a fresh node identity.
func NewNode(t testing.TB) *identity.Identity {
	t.Helper()
	id, err := identity.Generate(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// NewPeer returns a fresh node identity and its libp2p peer ID: a node
// that no test runs, for the refusals of peers never known.
func NewPeer(t testing.TB) (*identity.Identity, peer.ID) {
	t.Helper()
	id := NewNode(t)
	p, err := id.PeerID()
	if err != nil {
		t.Fatal(err)
	}
	return id, p
}

// Create calls k.Create and fails t on an error.
func Create(t testing.TB, k identity.Keyring) identity.DID {
	t.Helper()
	did, err := k.Create(context.Background())
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	if _, _, err := identity.ParseDID(string(did)); err != nil {
		t.Fatalf("Create returned an invalid DID: %v", err)
	}
	return did
}

// CheckSigns fails t unless k signs msg for every one of dids with the key
// each names.
func CheckSigns(t testing.TB, k identity.Keyring, dids []identity.DID, msg []byte) {
	t.Helper()
	for _, did := range dids {
		sig, err := k.Sign(did, msg)
		if err != nil {
			t.Errorf("Sign(%s): %v", did, err)
			continue
		}
		if err := identity.Verify(did, msg, sig); err != nil {
			t.Errorf("signature by %s does not verify: %v", did, err)
		}
	}
}

// CheckOrder fails t unless dids is node followed by the others sorted,
// without duplicates.
func CheckOrder(t testing.TB, dids []identity.DID, node identity.DID) {
	t.Helper()
	if len(dids) == 0 || dids[0] != node {
		t.Fatalf("DIDs() = %v, want the node's %s first", dids, node)
	}
	rest := dids[1:]
	if !slices.IsSorted(rest) {
		t.Errorf("DIDs()[1:] is not sorted: %v", rest)
	}
	if len(slices.Compact(slices.Clone(rest))) != len(rest) || slices.Contains(rest, node) {
		t.Errorf("DIDs() has duplicates: %v", dids)
	}
}

func testRoundTrip(t *testing.T, newKeyring NewFunc) {
	node := NewNode(t)
	k := newKeyring(t, node, 0)
	a, b := Create(t, k), Create(t, k)
	if a == b || a == node.DID() || b == node.DID() {
		t.Fatalf("Create returned %s and %s (node %s)", a, b, node.DID())
	}
	for _, msg := range [][]byte{nil, []byte("entry 1 of a mana account"), make([]byte, 1<<16)} {
		CheckSigns(t, k, []identity.DID{node.DID(), a, b}, msg)
	}
	// The node's account signs with the node's key.
	msg := []byte("m")
	sig, err := k.Sign(node.DID(), msg)
	if err != nil {
		t.Fatal(err)
	}
	if err := identity.Verify(node.DID(), msg, node.Sign(msg)); err != nil || !slices.Equal(sig, node.Sign(msg)) {
		t.Errorf("Sign(node) differs from the node identity's signature")
	}
	// Each account signs with its own key, not another's.
	sigA, _ := k.Sign(a, msg)
	if err := identity.Verify(b, msg, sigA); !errors.Is(err, identity.ErrBadSignature) {
		t.Errorf("a signature by %s verifies as %s's: %v", a, b, err)
	}
}

func testDIDsOrder(t *testing.T, newKeyring NewFunc) {
	node := NewNode(t)
	k := newKeyring(t, node, 0)
	if got := k.DIDs(); !slices.Equal(got, []identity.DID{node.DID()}) {
		t.Fatalf("empty keyring: DIDs() = %v, want only the node's", got)
	}
	created := []identity.DID{node.DID()}
	for range 20 {
		created = append(created, Create(t, k))
	}
	got := k.DIDs()
	CheckOrder(t, got, node.DID())
	want := append([]identity.DID{node.DID()}, slices.Sorted(slices.Values(created[1:]))...)
	if !slices.Equal(got, want) {
		t.Errorf("DIDs() = %v, want %v", got, want)
	}
	got[0], got[1] = got[1], got[0] // the slice is the caller's
	if again := k.DIDs(); !slices.Equal(again, want) {
		t.Errorf("changing the returned slice changed the keyring: %v", again)
	}
}

func testHas(t *testing.T, newKeyring NewFunc) {
	node := NewNode(t)
	k := newKeyring(t, node, 0)
	a := Create(t, k)
	tests := []struct {
		name string
		did  identity.DID
		want bool
	}{
		{"node", node.DID(), true},
		{"created", a, true},
		{"other key", NewNode(t).DID(), false},
		{"empty", "", false},
		{"malformed", "did:key:zzz", false},
	}
	for _, tt := range tests {
		if got := k.Has(tt.did); got != tt.want {
			t.Errorf("%s: Has(%q) = %v, want %v", tt.name, tt.did, got, tt.want)
		}
	}
}

func testNoKey(t *testing.T, newKeyring NewFunc) {
	node := NewNode(t)
	k := newKeyring(t, node, 0)
	Create(t, k)
	for _, did := range []identity.DID{NewNode(t).DID(), "", "did:key:zzz", "not a did"} {
		sig, err := k.Sign(did, []byte("m"))
		if !errors.Is(err, identity.ErrNoKey) {
			t.Errorf("Sign(%q) error = %v, want ErrNoKey", did, err)
		}
		if sig != nil {
			t.Errorf("Sign(%q) returned a signature with an error", did)
		}
	}
}

func testFull(t *testing.T, newKeyring NewFunc) {
	for _, max := range []int{1, 2, 4} {
		node := NewNode(t)
		k := newKeyring(t, node, max)
		for range max - 1 {
			Create(t, k)
		}
		before := k.DIDs()
		for range 2 {
			did, err := k.Create(context.Background())
			if !errors.Is(err, identity.ErrKeyringFull) || did != "" {
				t.Errorf("max %d: Create past the bound = %q, %v; want ErrKeyringFull", max, did, err)
			}
		}
		if after := k.DIDs(); !slices.Equal(after, before) || len(after) != max {
			t.Errorf("max %d: DIDs() = %v after refused Creates, want %d accounts %v", max, after, max, before)
		}
		CheckSigns(t, k, before, []byte("still signs"))
	}
}

func testCanceled(t *testing.T, newKeyring NewFunc) {
	node := NewNode(t)
	k := newKeyring(t, node, 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	did, err := k.Create(ctx)
	if !errors.Is(err, context.Canceled) || did != "" {
		t.Errorf("Create(canceled) = %q, %v; want context.Canceled", did, err)
	}
	if got := k.DIDs(); len(got) != 1 {
		t.Errorf("a canceled Create added an account: %v", got)
	}
}

func testConcurrentCreate(t *testing.T, newKeyring NewFunc) {
	node := NewNode(t)
	const goroutines, each = 16, 8
	k := newKeyring(t, node, 0)
	dids := make([][]identity.DID, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for range each {
				did, err := k.Create(context.Background())
				if err != nil {
					t.Errorf("Create: %v", err)
					return
				}
				dids[g] = append(dids[g], did)
				// Readers run alongside writers.
				if !k.Has(did) {
					t.Errorf("Has(%s) = false right after Create", did)
				}
				CheckSigns(t, k, []identity.DID{did, node.DID()}, []byte("concurrent"))
				_ = k.DIDs()
			}
		})
	}
	wg.Wait()
	all := slices.Concat(dids...)
	got := k.DIDs()
	CheckOrder(t, got, node.DID())
	if len(got) != 1+goroutines*each || len(all) != goroutines*each {
		t.Fatalf("%d accounts after %d Creates (%d returned)", len(got)-1, goroutines*each, len(all))
	}
	if !slices.Equal(got[1:], slices.Sorted(slices.Values(all))) {
		t.Error("DIDs() differs from the DIDs Create returned")
	}
}
