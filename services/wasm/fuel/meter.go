package fuel

import (
	"context"
	"fmt"

	"github.com/tetratelabs/wazero/api"
)

// interruptChunk is what Interrupt stores in the chunk so that code
// returning from a host call refills, and so traps, at its next check.
const interruptChunk = -(1 << 62)

// Meter is the host's handle on an instrumented module instance: it sets
// the fuel before a call and reads what is left after it.
//
// Interrupt may be called from another goroutine while the module runs;
// no other method may run concurrently with Interrupt or with the module.
type Meter struct {
	bank, chunk, interrupt, stack api.MutableGlobal
	start                         api.Function
	given                         int64
	interrupted                   bool
}

// NewMeter finds the metering globals of an instance of a module made by
// Instrument.
func NewMeter(m api.Module) (*Meter, error) {
	mt := &Meter{start: m.ExportedFunction(ExportStart)}
	for _, g := range []struct {
		name string
		dst  *api.MutableGlobal
	}{{ExportFuel, &mt.bank}, {ExportChunk, &mt.chunk}, {ExportInterrupt, &mt.interrupt}, {ExportStack, &mt.stack}} {
		mg, ok := m.ExportedGlobal(g.name).(api.MutableGlobal)
		if !ok {
			return nil, fmt.Errorf("fuel: module has no mutable global %q: not instrumented", g.name)
		}
		*g.dst = mg
	}
	return mt, nil
}

// Reset gives the module fuel (at most MaxFuel) and a full stack budget
// for the next call, and clears an interrupt.
func (m *Meter) Reset(fuel uint64) {
	if fuel > MaxFuel {
		fuel = MaxFuel
	}
	m.given = int64(fuel)
	m.interrupted = false
	m.bank.Set(fuel)
	m.chunk.Set(0)
	m.interrupt.Set(0)
	m.stack.Set(uint64(StackBudget))
}

// Remaining returns the fuel left: negative after the module ran out.
// After a trap other than running out of fuel it is the fuel left at the
// last call or return before the trap. It means nothing after Interrupt.
func (m *Meter) Remaining() int64 {
	return int64(m.bank.Get()) + int64(m.chunk.Get())
}

// Used returns the fuel used since Reset. It exceeds what was given when
// the module ran out (by at most the cost of the block that ran out).
func (m *Meter) Used() uint64 {
	return uint64(m.given - m.Remaining())
}

// OutOfFuel reports whether the module ran out of fuel.
func (m *Meter) OutOfFuel() bool {
	return !m.interrupted && m.Remaining() < 0
}

// StackExhausted reports whether the module trapped at the stack budget.
func (m *Meter) StackExhausted() bool {
	return int64(m.stack.Get()) < 0
}

// Interrupt makes the running module trap soon: at its next refill, which
// comes within Chunk units of fuel, or right after a host call it is
// blocked in returns. It is the one method safe to call while the module
// runs on another goroutine.
func (m *Meter) Interrupt() {
	m.interrupted = true
	m.interrupt.Set(1)
	v := int64(interruptChunk)
	m.chunk.Set(uint64(v))
}

// Start calls the original module's start function, if it had one. Call
// it once after Reset and before any other export.
func (m *Meter) Start(ctx context.Context) error {
	if m.start == nil {
		return nil
	}
	_, err := m.start.Call(ctx)
	return err
}
