package memstore

import (
	"go.uber.org/fx"

	"github.com/intercooperative-network/icn-go/services/store"
)

// Module provides an in-memory store.Store (test profile only).
var Module = fx.Module("store.memory",
	fx.Provide(fx.Annotate(func(lc fx.Lifecycle) *Store {
		s := New()
		lc.Append(fx.StopHook(s.Close))
		return s
	}, fx.As(new(store.Store)))),
)
