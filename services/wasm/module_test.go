package wasm

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"testing"

	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/intercooperative-network/icn-go/services/wasm/wasmtest"
)

// TestModule: the fx module provides an engine with its cache under the
// configured directory and closes it on stop.
func TestModule(t *testing.T) {
	dir := t.TempDir()
	var e *Engine
	app := fxtest.New(t,
		fx.NopLogger,
		fx.Supply(Config{CacheDir: dir}, slog.New(slog.DiscardHandler)),
		Module,
		fx.Populate(&e),
	)
	app.RequireStart()
	r, err := e.Run(context.Background(), Job{Module: wasmtest.WAT(t, "exit")})
	if err != nil || r.ExitCode != 3 {
		t.Fatalf("run: %v %+v", err, r)
	}
	entries, err := os.ReadDir(dir)
	if err != nil || len(entries) == 0 {
		t.Fatalf("nothing in the cache dir (%v)", err)
	}
	app.RequireStop()
	if _, err := e.Run(context.Background(), Job{Module: wasmtest.WAT(t, "exit")}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after stop: %v", err)
	}
}
