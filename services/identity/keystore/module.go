package keystore

import (
	"log/slog"

	"go.uber.org/fx"

	"github.com/intercooperative-network/icn-go/services/identity"
)

// Config says where the node key lives and how to unlock it.
type Config struct {
	DataDir    string
	Passphrase []byte // nil: the key file is not encrypted
}

// Module provides the node's *identity.Identity from the disk keystore.
var Module = fx.Module("identity.keystore",
	fx.Provide(func(cfg Config, log *slog.Logger) (*identity.Identity, error) {
		opts := []Option{WithLogger(log.With("component", "keystore"))}
		if cfg.Passphrase != nil {
			opts = append(opts, WithPassphrase(cfg.Passphrase))
		}
		return Open(cfg.DataDir, opts...)
	}),
)
