package wasm

import (
	"time"

	"github.com/intercooperative-network/icn-go/services/wasm/fuel"
)

// Limits bound one run. A zero field takes the engine's default
// (DefaultLimits unless WithDefaultLimits says otherwise).
type Limits struct {
	// Fuel is the most fuel the run may use (see package fuel for the
	// cost table); at most fuel.MaxFuel.
	Fuel uint64
	// MemoryPages bounds linear memory, in 64 KiB pages.
	MemoryPages uint32
	// Timeout is the wall-clock backstop of the run (instantiation
	// included, compilation excluded).
	Timeout time.Duration
	// MaxOutputBytes bounds stdout, and separately stderr.
	MaxOutputBytes int
}

// DefaultLimits returns the engine's defaults: 10^10 units of fuel
// (seconds of CPU), 256 MiB of memory, 60 s, 1 MiB of output.
func DefaultLimits() Limits {
	return Limits{
		Fuel:           10_000_000_000,
		MemoryPages:    4096,
		Timeout:        60 * time.Second,
		MaxOutputBytes: 1 << 20,
	}
}

func (l Limits) withDefaults(d Limits) Limits {
	if l.Fuel == 0 {
		l.Fuel = d.Fuel
	}
	if l.Fuel > fuel.MaxFuel {
		l.Fuel = fuel.MaxFuel
	}
	if l.MemoryPages == 0 {
		l.MemoryPages = d.MemoryPages
	}
	if l.MemoryPages > 65536 {
		l.MemoryPages = 65536
	}
	if l.Timeout <= 0 {
		l.Timeout = d.Timeout
	}
	if l.MaxOutputBytes <= 0 {
		l.MaxOutputBytes = d.MaxOutputBytes
	}
	return l
}
