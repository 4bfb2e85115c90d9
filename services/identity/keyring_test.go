package identity_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"io"
	"slices"
	"testing"

	"go.uber.org/fx"

	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/identity/keyringtest"
)

func TestMemoryKeyringContract(t *testing.T) {
	keyringtest.Run(t, func(t *testing.T, node *identity.Identity, max int) identity.Keyring {
		return identity.NewMemoryKeyring(node, rand.Reader, max)
	})
}

func TestMemoryKeyringUsesRand(t *testing.T) {
	seeds := [][]byte{bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)}
	k := identity.NewMemoryKeyring(keyringtest.NewNode(t), bytes.NewReader(slices.Concat(seeds...)), 0)
	var want []identity.DID
	for _, s := range seeds {
		want = append(want, identity.New(ed25519.NewKeyFromSeed(s)).DID())
		keyringtest.Create(t, k)
	}
	slices.Sort(want)
	if got := k.DIDs()[1:]; !slices.Equal(got, want) {
		t.Errorf("accounts %v, want %v from the injected source", got, want)
	}

	// An exhausted source is an error and adds nothing.
	if did, err := k.Create(context.Background()); !errors.Is(err, io.EOF) || did != "" {
		t.Errorf("Create from an empty source = %q, %v; want io.EOF", did, err)
	}
	// A source that repeats itself cannot make a second account of one key.
	seed := bytes.Repeat([]byte{7}, 32)
	k2 := identity.NewMemoryKeyring(keyringtest.NewNode(t), bytes.NewReader(slices.Concat(seed, seed)), 0)
	keyringtest.Create(t, k2)
	if _, err := k2.Create(context.Background()); err == nil {
		t.Error("Create of a key already held succeeded")
	}
	if n := len(k2.DIDs()); n != 2 {
		t.Errorf("%d accounts, want 2", n)
	}
	// Nor an account of the node's own key.
	node := identity.New(ed25519.NewKeyFromSeed(seed))
	if _, err := identity.NewMemoryKeyring(node, bytes.NewReader(seed), 0).Create(context.Background()); err == nil {
		t.Error("Create of the node's own key succeeded")
	}
}

func TestMemoryKeyringDefaultBound(t *testing.T) {
	for _, max := range []int{0, -1} {
		k := identity.NewMemoryKeyring(keyringtest.NewNode(t), rand.Reader, max)
		for range 3 {
			keyringtest.Create(t, k)
		}
	}
	if identity.MaxAccounts != 100_000 {
		t.Errorf("MaxAccounts = %d", identity.MaxAccounts)
	}
}

func TestMemoryKeyringNilNodePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("NewMemoryKeyring(nil, ...) did not panic")
		}
	}()
	identity.NewMemoryKeyring(nil, rand.Reader, 0)
}

func TestEphemeralModuleProvidesKeyring(t *testing.T) {
	var (
		id *identity.Identity
		k  identity.Keyring
	)
	app := fx.New(identity.EphemeralModule, fx.NopLogger, fx.Populate(&id, &k))
	if err := app.Err(); err != nil {
		t.Fatal(err)
	}
	if got := k.DIDs(); !slices.Equal(got, []identity.DID{id.DID()}) {
		t.Errorf("keyring accounts %v, want the ephemeral identity %s only", got, id.DID())
	}
	did := keyringtest.Create(t, k)
	keyringtest.CheckSigns(t, k, []identity.DID{id.DID(), did}, []byte("m"))
}
