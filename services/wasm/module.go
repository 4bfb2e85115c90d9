package wasm

import (
	"log/slog"

	"go.uber.org/fx"
)

// Config places the engine's caches.
type Config struct {
	// CacheDir holds wazero's compiled code (e.g. <data dir>/wasm-cache).
	// Empty keeps compiled code in memory only.
	CacheDir string
	// CacheSize bounds the in-memory cache of instrumented, compiled
	// modules; 0 means 64.
	CacheSize int
}

// Module provides *Engine (the same in every profile) from a Config and a
// *slog.Logger, and closes it on stop, which ends the runs in flight.
var Module = fx.Module("wasm",
	fx.Provide(provide),
)

func provide(lc fx.Lifecycle, cfg Config, log *slog.Logger) (*Engine, error) {
	opts := []Option{WithLogger(log.With("component", "wasm"))}
	if cfg.CacheDir != "" {
		opts = append(opts, WithCacheDir(cfg.CacheDir))
	}
	if cfg.CacheSize > 0 {
		opts = append(opts, WithCacheSize(cfg.CacheSize))
	}
	e, err := New(opts...)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StopHook(e.Close))
	return e, nil
}
