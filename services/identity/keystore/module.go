package keystore

import (
	"log/slog"

	"go.uber.org/fx"

	"github.com/intercooperative-network/icn-go/services/identity"
)

// Config says where the node key and the keyring live and how to unlock
// them.
type Config struct {
	DataDir    string
	Passphrase []byte // nil: the key file and the keyring are not encrypted
}

// Module provides the node's *identity.Identity from the disk keystore, and
// the identity.Keyring of the accounts it signs for (OpenKeyring in the same
// data dir, unlocked with the same passphrase).
var Module = fx.Module("identity.keystore",
	fx.Provide(
		func(cfg Config, log *slog.Logger) (*identity.Identity, error) {
			return Open(cfg.DataDir, cfg.options(log)...)
		},
		func(cfg Config, node *identity.Identity, log *slog.Logger) (identity.Keyring, error) {
			return OpenKeyring(cfg.DataDir, node, cfg.options(log)...)
		},
	),
)

// options returns the options cfg and log say.
func (cfg Config) options(log *slog.Logger) []Option {
	opts := []Option{WithLogger(log.With("component", "keystore"))}
	if cfg.Passphrase != nil {
		opts = append(opts, WithPassphrase(cfg.Passphrase))
	}
	return opts
}
