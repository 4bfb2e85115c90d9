package identity

import (
	"crypto/rand"

	"go.uber.org/fx"
)

// EphemeralModule provides a fresh in-memory identity on every start (test
// profile only: the DID and peer ID change each run), and a [Keyring] over
// it that holds the accounts it creates in memory ([NewMemoryKeyring], at
// most [MaxAccounts]).
var EphemeralModule = fx.Module("identity.ephemeral",
	fx.Provide(
		func() (*Identity, error) { return Generate(rand.Reader) },
		func(node *Identity) Keyring { return NewMemoryKeyring(node, rand.Reader, MaxAccounts) },
	),
)
