package wasm

import (
	"container/list"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/intercooperative-network/icn-go/services/wasm/fuel"
)

// Option configures New.
type Option func(*options)

type options struct {
	cacheDir  string
	version   int // the cost-table version caches are keyed by (tests change it)
	log       *slog.Logger
	cacheSize int
	defaults  Limits
	hosts     []hostModule
}

type hostModule struct {
	name   string
	export func(wazero.HostModuleBuilder) wazero.HostModuleBuilder
}

// WithCacheDir keeps wazero's compiled code in dir (created if needed),
// and the instrumented modules next to it (dir/icn-fuel-vN-rM, N the
// cost-table version and M fuel.RewriteVersion), so a module is rewritten and compiled once per
// machine, not once per process.
func WithCacheDir(dir string) Option { return func(o *options) { o.cacheDir = dir } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithCacheSize bounds the in-memory cache of instrumented, compiled
// modules (default 64 modules).
func WithCacheSize(n int) Option { return func(o *options) { o.cacheSize = n } }

// WithHostModule links a host module for Call (the CCL policy runtime's
// host functions, for instance): export adds its functions to the builder
// and returns it. Host functions get a context derived from the ctx given
// to Call (its values included) that is cancelled when the run is stopped
// (timeout, Close, output or memory limit), so a host function that
// blocks should return when it is done. Run never links host modules: a
// job imports WASI only.
func WithHostModule(name string, export func(wazero.HostModuleBuilder) wazero.HostModuleBuilder) Option {
	return func(o *options) { o.hosts = append(o.hosts, hostModule{name, export}) }
}

// WithDefaultLimits sets the limits used for the zero fields of a Job's
// Limits (default DefaultLimits()).
func WithDefaultLimits(l Limits) Option { return func(o *options) { o.defaults = l } }

// Engine runs WASM jobs under fuel metering. It is safe for concurrent use.
type Engine struct {
	rt       wazero.Runtime
	ccache   wazero.CompilationCache
	rewrites *rewrites // nil without WithCacheDir
	version  int       // fuel.CostTableVersion, but for tests
	wasi     map[string]api.FunctionDefinition
	hosts    map[string]map[string]api.FunctionDefinition // WithHostModule
	log      *slog.Logger
	defaults Limits

	mu       sync.Mutex
	closed   bool
	max      int
	lru      *list.List // of *entry, most recently used first
	entries  map[cacheKey]*entry
	active   map[*stopper]struct{}
	inflight int           // runs begun and not ended
	drained  chan struct{} // closed once closed and no run is in flight

	releaseOnce sync.Once
	released    chan struct{} // closed once the runtime is released
	releaseErr  error

	compiles    atomic.Int64 // compilations (memory cache misses), for tests
	instruments atomic.Int64 // rewrites (misses of both caches), for tests
}

type cacheKey struct {
	key     string
	version int
}

// entry is one instrumented, compiled module.
type entry struct {
	key      cacheKey
	elem     *list.Element
	ready    chan struct{} // closed once compiled or failed
	compiled wazero.CompiledModule
	mod      *fuel.Module
	err      error
	refs     int
	evicted  bool
}

// New makes an engine: a wazero runtime in compiler mode with WASI preview
// 1 linked and, with WithCacheDir, a compilation cache on disk.
func New(opts ...Option) (*Engine, error) {
	o := options{cacheSize: 64, defaults: DefaultLimits(), version: fuel.CostTableVersion}
	for _, opt := range opts {
		opt(&o)
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.cacheSize < 1 {
		o.cacheSize = 1
	}
	o.defaults = o.defaults.withDefaults(DefaultLimits())
	cfg := wazero.NewRuntimeConfigCompiler().WithCoreFeatures(api.CoreFeaturesV2)
	var ccache wazero.CompilationCache
	var rw *rewrites
	if o.cacheDir != "" {
		c, err := wazero.NewCompilationCacheWithDir(o.cacheDir)
		if err != nil {
			return nil, fmt.Errorf("wasm: compilation cache %s: %w", o.cacheDir, err)
		}
		if rw, err = openRewrites(o.cacheDir, o.version, o.log); err != nil {
			_ = c.Close(context.Background())
			return nil, err
		}
		ccache = c
		cfg = cfg.WithCompilationCache(c)
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		_ = rt.Close(ctx)
		return nil, fmt.Errorf("wasm: link WASI: %w", err)
	}
	hosts := map[string]map[string]api.FunctionDefinition{}
	for _, h := range o.hosts {
		if _, dup := hosts[h.name]; dup || h.name == wasi_snapshot_preview1.ModuleName {
			_ = rt.Close(ctx)
			return nil, fmt.Errorf("wasm: host module %q linked twice", h.name)
		}
		if _, err := h.export(rt.NewHostModuleBuilder(h.name)).Instantiate(ctx); err != nil {
			_ = rt.Close(ctx)
			return nil, fmt.Errorf("wasm: host module %q: %w", h.name, err)
		}
		hosts[h.name] = rt.Module(h.name).ExportedFunctionDefinitions()
	}
	e := &Engine{
		rt:       rt,
		ccache:   ccache,
		rewrites: rw,
		version:  o.version,
		hosts:    hosts,
		wasi:     rt.Module(wasi_snapshot_preview1.ModuleName).ExportedFunctionDefinitions(),
		log:      o.log,
		defaults: o.defaults,
		max:      o.cacheSize,
		lru:      list.New(),
		entries:  map[cacheKey]*entry{},
		active:   map[*stopper]struct{}{},
		drained:  make(chan struct{}),
		released: make(chan struct{}),
	}
	return e, nil
}

// Close stops the runs in flight (they end with ErrClosed), waits for
// them, and releases the compiled modules and the runtime. When ctx ends
// before the runs do, Close returns ctx's error and the engine releases
// everything as soon as the last run ends (they have been stopped, so that
// is soon); with no run in flight it releases at once whatever ctx. A
// second Close waits for the release too and then returns nil.
func (e *Engine) Close(ctx context.Context) error {
	e.mu.Lock()
	first := !e.closed
	if first {
		e.closed = true
		for st := range e.active {
			st.stop(reasonClosed)
		}
		if e.inflight == 0 {
			close(e.drained)
		}
	}
	e.mu.Unlock()

	select {
	case <-e.drained: // checked first: select picks at random among ready cases
	default:
		select {
		case <-e.drained:
		case <-ctx.Done():
			go func() { <-e.drained; e.releaseRuntime() }()
			return fmt.Errorf("wasm: close: %w", ctx.Err())
		}
	}
	e.releaseRuntime()
	if first {
		return e.releaseErr
	}
	return nil
}

// releaseRuntime releases the compiled modules and the runtime, once, when
// no run is in flight. It does not use the ctx given to Close, which may
// be done.
func (e *Engine) releaseRuntime() {
	e.releaseOnce.Do(func() {
		ctx := context.Background()
		e.mu.Lock()
		for _, en := range e.entries {
			if en.compiled != nil {
				_ = en.compiled.Close(ctx)
				en.compiled = nil
			}
		}
		e.entries = map[cacheKey]*entry{}
		e.lru.Init()
		e.mu.Unlock()
		err := e.rt.Close(ctx)
		if e.ccache != nil {
			err = errors.Join(err, e.ccache.Close(ctx))
		}
		e.releaseErr = err
		close(e.released)
	})
}

// begin registers a run; it fails once the engine is closed.
func (e *Engine) begin(st *stopper) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.closed {
		return ErrClosed
	}
	e.inflight++
	e.active[st] = struct{}{}
	return nil
}

func (e *Engine) end(st *stopper) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.active, st)
	e.inflight--
	if e.closed && e.inflight == 0 {
		close(e.drained)
	}
}

// module returns the instrumented, compiled module for key, compiling it
// on a miss. Concurrent callers of one key wait for a single compilation.
// The caller must release the entry.
func (e *Engine) module(ctx context.Context, key string, src []byte) (*entry, error) {
	en, _, err := e.lookup(ctx, key, src)
	return en, err
}

// lookup is module, and also says how long this caller spent compiling:
// zero when the module came from the cache or another caller compiled it,
// positive when this caller compiled it (whether or not that succeeded).
func (e *Engine) lookup(ctx context.Context, key string, src []byte) (*entry, time.Duration, error) {
	if key == "" {
		sum := sha256.Sum256(src)
		key = "sha256:" + hex.EncodeToString(sum[:])
	}
	k := cacheKey{key: key, version: e.version}
	e.mu.Lock()
	if en, ok := e.entries[k]; ok {
		en.refs++
		e.lru.MoveToFront(en.elem)
		e.mu.Unlock()
		select {
		case <-en.ready:
		case <-ctx.Done():
			e.release(en)
			return nil, 0, ctx.Err()
		}
		if en.err != nil {
			e.release(en)
			return nil, 0, en.err
		}
		return en, 0, nil
	}
	en := &entry{key: k, ready: make(chan struct{}), refs: 1}
	en.elem = e.lru.PushFront(en)
	e.entries[k] = en
	e.evictLocked()
	e.mu.Unlock()

	t0 := time.Now()
	en.mod, en.compiled, en.err = e.compile(ctx, key, src)
	// At least 1 ns, so that a compilation is never mistaken for a hit on
	// a clock too coarse to see it.
	took := max(time.Since(t0), time.Nanosecond)
	if en.err != nil && !errors.Is(en.err, ErrInvalidModule) {
		e.mu.Lock() // not a property of the module: do not cache
		e.dropLocked(en)
		e.mu.Unlock()
	}
	close(en.ready)
	if en.err != nil {
		e.release(en)
		return nil, took, en.err
	}
	return en, took, nil
}

func (e *Engine) release(en *entry) {
	e.mu.Lock()
	defer e.mu.Unlock()
	en.refs--
	if en.refs == 0 && en.evicted && en.compiled != nil {
		_ = en.compiled.Close(context.Background())
		en.compiled = nil
	}
}

func (e *Engine) evictLocked() {
	for e.lru.Len() > e.max {
		en := e.lru.Back().Value.(*entry)
		e.dropLocked(en)
		if en.refs == 0 && en.compiled != nil {
			_ = en.compiled.Close(context.Background())
			en.compiled = nil
		}
	}
}

func (e *Engine) dropLocked(en *entry) {
	if en.evicted {
		return
	}
	en.evicted = true
	e.lru.Remove(en.elem)
	if e.entries[en.key] == en {
		delete(e.entries, en.key)
	}
}

// compile instruments, or takes the rewrite from the disk cache, and
// compiles.
func (e *Engine) compile(ctx context.Context, key string, src []byte) (*fuel.Module, wazero.CompiledModule, error) {
	e.compiles.Add(1)
	if e.rewrites != nil {
		if m, ok := e.rewrites.get(key, src); ok {
			t0 := time.Now()
			cm, err := e.rt.CompileModule(ctx, m.Binary)
			if err == nil {
				e.log.Debug("module compiled", "key", key, "bytes", len(src), "instrument", "cached", "compile", time.Since(t0))
				return m, cm, nil
			}
			// Checked, yet it does not compile: rewrite it afresh.
			e.log.Warn("rewrite cache: stored rewrite does not compile", "key", key, "err", err)
		}
	}
	e.instruments.Add(1)
	t0 := time.Now()
	m, err := fuel.Instrument(src)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrInvalidModule, err)
	}
	t1 := time.Now()
	cm, err := e.rt.CompileModule(ctx, m.Binary)
	if err != nil {
		// Either the input was invalid (the instrumenter checks structure,
		// not types) or the instrumentation broke it: compile the original
		// to tell which.
		orig, oerr := e.rt.CompileModule(ctx, src)
		if oerr != nil {
			return nil, nil, fmt.Errorf("%w: %w", ErrInvalidModule, oerr)
		}
		_ = orig.Close(ctx)
		e.log.Error("instrumented module does not validate", "key", key, "err", err)
		return nil, nil, fmt.Errorf("wasm: instrumented module does not validate (a bug in package fuel): %w", err)
	}
	e.log.Debug("module compiled", "key", key, "bytes", len(src),
		"instrument", t1.Sub(t0), "compile", time.Since(t1))
	if e.rewrites != nil {
		e.rewrites.put(key, src, m) // only what compiled: an invalid module is cached in memory only
	}
	return m, cm, nil
}

// checkImports refuses, before anything is instantiated, an import that
// would not link: anything but a WASI preview 1 function with its WASI
// signature, or, with hosts, a function of a WithHostModule module.
func (e *Engine) checkImports(imports []fuel.Import, hosts bool) error {
	for _, im := range imports {
		defs, ok := e.wasi, im.Module == wasi_snapshot_preview1.ModuleName
		if !ok && hosts {
			defs, ok = e.hosts[im.Module]
		}
		if !ok {
			return fmt.Errorf("%w: %s.%s: module %q is not linked", ErrForbiddenImport, im.Module, im.Name, im.Module)
		}
		if im.Kind != fuel.KindFunc {
			return fmt.Errorf("%w: %s.%s: a %s; only functions are linked", ErrForbiddenImport, im.Module, im.Name, im.Kind)
		}
		def, ok := defs[im.Name]
		if !ok {
			return fmt.Errorf("%w: %s.%s: no such function", ErrForbiddenImport, im.Module, im.Name)
		}
		if !sameTypes(im.Type.Params, def.ParamTypes()) || !sameTypes(im.Type.Results, def.ResultTypes()) {
			return fmt.Errorf("%w: %s.%s: wrong signature", ErrForbiddenImport, im.Module, im.Name)
		}
	}
	return nil
}

func sameTypes(a []fuel.ValueType, b []api.ValueType) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if byte(a[i]) != b[i] {
			return false
		}
	}
	return true
}
