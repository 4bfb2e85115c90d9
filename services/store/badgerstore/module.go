package badgerstore

import (
	"log/slog"
	"path/filepath"

	"go.uber.org/fx"

	"github.com/intercooperative-network/icn-go/services/store"
)

// Config places the store.
type Config struct {
	// DataDir is the node's data dir; the store lives in DataDir/store.
	DataDir string
}

// Module provides store.Store backed by badger. The store opens in the
// constructor, so a bad data dir fails before anything listens, and closes
// last on stop (its hook is appended first).
var Module = fx.Module("store.badger",
	fx.Provide(fx.Annotate(provide, fx.As(new(store.Store)))),
)

func provide(lc fx.Lifecycle, cfg Config, log *slog.Logger) (*Store, error) {
	s, err := Open(filepath.Join(cfg.DataDir, "store"), log.With("component", "store"))
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(s.Close))
	return s, nil
}
