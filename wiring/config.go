package wiring

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	ma "github.com/multiformats/go-multiaddr"
)

// The service profiles. A profile picks the defaults here and, elsewhere in
// wiring, the list of fx modules; code outside wiring never asks for it.
const (
	ProfileProduction = "production" // libp2p, badger, disk keystore, wazero
	ProfileDev        = "dev"        // production on loopback with fast timers and mDNS
	ProfileTest       = "test"       // in-process network, memory store, fast timers
)

// Profiles returns the valid profile names, production first.
func Profiles() []string {
	return []string{ProfileProduction, ProfileDev, ProfileTest}
}

// MaxWorkers bounds Config.Workers.
const MaxWorkers = 1024

// MaxBlockSize bounds dag.max_block_size: the largest block a store batch
// holds (store.MaxValueSize, block.MaxSize).
const MaxBlockSize = 16 << 20

// Config is everything an operator sets on a node.
//
// Each leaf field is one key. Its TOML key comes from the toml tags
// ("supervision.backoff_max"); its environment variable and flag are derived
// from that key ("ICN_SUPERVISION_BACKOFF_MAX", "--supervision-backoff-max")
// unless an env or flag tag overrides them; help is the flag's usage text.
// Values are resolved by [Load]: profile defaults < file < env < flags.
type Config struct {
	Profile           string      `toml:"profile" help:"service profile: production, dev or test"`
	DataDir           string      `toml:"data_dir" help:"directory for the block store, ledger and node key"`
	APIAddr           string      `toml:"api_addr" help:"host:port of the public REST API"`
	AdminAddr         string      `toml:"admin_addr" help:"host:port of the admin API and page"`
	LogLevel          string      `toml:"log_level" help:"log level: debug, info, warn or error"`
	LogFormat         string      `toml:"log_format" help:"log format: json or text"`
	Workers           int         `toml:"workers" help:"executor worker actors; 0 executes no jobs"`
	KeyPassphraseFile string      `toml:"key_passphrase_file" help:"optional file holding the node key passphrase"`
	P2P               P2P         `toml:"p2p"`
	DAG               DAG         `toml:"dag"`
	Ledger            Ledger      `toml:"ledger"`
	Jobs              Jobs        `toml:"jobs"`
	Supervision       Supervision `toml:"supervision"`
}

// Jobs configures how this node bids on and assigns mesh jobs.
type Jobs struct {
	Price         int           `toml:"price" help:"mana this node bids to run a job (capped by the job's max_mana)"`
	FuelPrice     int           `toml:"fuel_price" help:"mana this node asks per 10^9 units of fuel a job uses (about a second of CPU), on top of jobs.price"`
	AssignTimeout time.Duration `toml:"assign_timeout" help:"how long a job waits for enough executors before it fails no_bids"`
	MaxMemoryMB   int           `toml:"max_memory_mb" help:"largest job memory this node bids on, in MiB (at most 4096)"`
	MaxTimeout    time.Duration `toml:"max_timeout" help:"longest job timeout this node bids on"`
}

// DAG configures the content-addressed block store.
type DAG struct {
	MaxBlockSize int           `toml:"max_block_size" help:"largest block accepted, in bytes (at most 16 MiB)"`
	GCInterval   time.Duration `toml:"gc_interval" help:"how often garbage collection runs; 0 runs it only on demand"`
	GCGrace      time.Duration `toml:"gc_grace" help:"how long an unpinned block without a TTL is kept"`
	CacheMB      int           `toml:"cache_mb" help:"memory for recently read blocks, in MiB; 0 disables the cache"`
}

// Ledger holds the economic rules every account chain is kept and checked
// by. Nodes of one federation must agree on them: a chain made under other
// rules does not verify here.
type Ledger struct {
	RegenPerHour int `toml:"regen_per_hour" help:"mana an account accrues per hour, up to ledger.capacity"`
	Capacity     int `toml:"capacity" help:"most mana an account accrues by regeneration (reserved mana counts)"`
	Initial      int `toml:"initial" help:"mana a new account opens with (at most ledger.capacity)"`
	OpCap        int `toml:"op_cap" help:"largest amount of one send, reserve or settle"`
	ProposalCost int `toml:"proposal_cost" help:"mana a governance proposal costs"`
	VoteCost     int `toml:"vote_cost" help:"mana a governance vote costs"`
}

// P2P configures the libp2p host.
type P2P struct {
	Listen    []string `toml:"listen" flag:"p2p-listen" env:"ICN_P2P_LISTEN" help:"multiaddrs to listen on (comma-separated or repeated)"`
	Bootstrap []string `toml:"bootstrap" flag:"bootstrap" env:"ICN_BOOTSTRAP" help:"peers to dial at start, multiaddrs ending in /p2p/<peer id>"`
	MDNS      bool     `toml:"mdns" help:"discover peers on the local network with mDNS"`
}

// Supervision holds the timings of the supervision tree: restart budgets,
// backoff, breakers and escalation. wiring turns it into supervisors specs.
type Supervision struct {
	Intensity        int           `toml:"intensity" help:"restarts a supervisor allows within supervision.period before the failing child's breaker opens"`
	Period           time.Duration `toml:"period" help:"window of the restart budget"`
	BackoffInitial   time.Duration `toml:"backoff_initial" help:"delay before the first restart"`
	BackoffMax       time.Duration `toml:"backoff_max" help:"cap of the exponential restart backoff"`
	BackoffJitter    float64       `toml:"backoff_jitter" help:"random fraction added to each backoff, in [0,1)"`
	ResetAfter       time.Duration `toml:"reset_after" help:"healthy time after which a child's backoff resets"`
	BreakerOpen      time.Duration `toml:"breaker_open" help:"how long a breaker first stays open"`
	BreakerMaxOpen   time.Duration `toml:"breaker_max_open" help:"cap of the growing open time of a breaker"`
	HalfOpenProbes   int           `toml:"half_open_probes" help:"messages let through while a breaker is half-open"`
	ProbeWindow      time.Duration `toml:"probe_window" help:"how long a half-open breaker waits for its probes"`
	EscalationTrips  int           `toml:"escalation_trips" help:"breaker trips within supervision.escalation_window that escalate"`
	EscalationWindow time.Duration `toml:"escalation_window" help:"window in which breaker trips are counted"`
	ShutdownTimeout  time.Duration `toml:"shutdown_timeout" help:"time a child gets to stop before it is killed"`
}

// Default returns the defaults of profile: ProfileProduction, ProfileDev or
// ProfileTest. Any other profile is an [*Error] of kind ErrUnknownProfile.
func Default(profile string) (Config, error) {
	c := Config{
		Profile:   profile,
		DataDir:   "./data",
		APIAddr:   "127.0.0.1:7845",
		AdminAddr: "127.0.0.1:7846",
		LogLevel:  "info",
		LogFormat: "json",
		Workers:   runtime.GOMAXPROCS(0),
		P2P: P2P{
			Listen: []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"},
		},
		DAG:    DAG{MaxBlockSize: 4 << 20, GCInterval: time.Hour, GCGrace: 15 * time.Minute, CacheMB: 64},
		Ledger: Ledger{RegenPerHour: 100, Capacity: 10_000, Initial: 1_000, OpCap: 1_000, ProposalCost: 10, VoteCost: 1},
		Jobs:   Jobs{Price: 10, FuelPrice: 1, AssignTimeout: 30 * time.Second, MaxMemoryMB: 1024, MaxTimeout: 10 * time.Minute},
		Supervision: Supervision{
			Intensity:        5,
			Period:           30 * time.Second,
			BackoffInitial:   10 * time.Millisecond,
			BackoffMax:       5 * time.Second,
			BackoffJitter:    0.2,
			ResetAfter:       10 * time.Second,
			BreakerOpen:      time.Second,
			BreakerMaxOpen:   60 * time.Second,
			HalfOpenProbes:   3,
			ProbeWindow:      2 * time.Second,
			EscalationTrips:  3,
			EscalationWindow: 10 * time.Minute,
			ShutdownTimeout:  5 * time.Second,
		},
	}
	switch profile {
	case ProfileProduction:
	case ProfileDev:
		c.P2P.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
		c.P2P.MDNS = true
		c.Supervision = fastSupervision()
	case ProfileTest:
		// Many test nodes share one process: let the kernel pick the ports.
		c.APIAddr = "127.0.0.1:0"
		c.AdminAddr = "127.0.0.1:0"
		c.P2P.Listen = []string{"/ip4/127.0.0.1/tcp/0"}
		c.Supervision = fastSupervision()
		c.DAG.GCInterval = 0 // tests collect when they choose
	default:
		return Config{}, unknownProfile(profile)
	}
	return c, nil
}

// fastSupervision is the supervision timing of the dev and test profiles.
func fastSupervision() Supervision {
	return Supervision{
		Intensity:        50,
		Period:           time.Second,
		BackoffInitial:   time.Millisecond,
		BackoffMax:       20 * time.Millisecond,
		BackoffJitter:    0.2,
		ResetAfter:       50 * time.Millisecond,
		BreakerOpen:      20 * time.Millisecond,
		BreakerMaxOpen:   200 * time.Millisecond,
		HalfOpenProbes:   3,
		ProbeWindow:      50 * time.Millisecond,
		EscalationTrips:  3,
		EscalationWindow: 2 * time.Second,
		ShutdownTimeout:  time.Second,
	}
}

func unknownProfile(profile string) *Error {
	return &Error{
		Kind:   ErrUnknownProfile,
		Key:    "profile",
		Detail: fmt.Sprintf("unknown profile %q, want one of %s", profile, strings.Join(Profiles(), ", ")),
	}
}

// Validate checks every key and returns all problems joined with
// errors.Join, each an [*Error] naming its key; nil if c is usable.
// It does no I/O: it does not check that files or directories exist.
func (c Config) Validate() error {
	var v validator
	if !slices.Contains(Profiles(), c.Profile) {
		v.errs = append(v.errs, unknownProfile(c.Profile))
	}
	v.path("data_dir", c.DataDir, true)
	v.addr("api_addr", c.APIAddr)
	v.addr("admin_addr", c.AdminAddr)
	if c.APIAddr == c.AdminAddr && !zeroPort(c.AdminAddr) {
		v.fail("admin_addr", "must differ from api_addr, both are %q", c.AdminAddr)
	}
	v.oneOf("log_level", c.LogLevel, "debug", "info", "warn", "error")
	v.oneOf("log_format", c.LogFormat, "json", "text")
	if c.Workers < 0 || c.Workers > MaxWorkers {
		v.fail("workers", "must be in [0, %d], got %d", MaxWorkers, c.Workers)
	}
	v.path("key_passphrase_file", c.KeyPassphraseFile, false)
	v.multiaddrs("p2p.listen", c.P2P.Listen, false)
	v.multiaddrs("p2p.bootstrap", c.P2P.Bootstrap, true)
	if c.DAG.MaxBlockSize < 1<<10 || c.DAG.MaxBlockSize > MaxBlockSize {
		v.fail("dag.max_block_size", "must be in [1024, %d] bytes, got %d", MaxBlockSize, c.DAG.MaxBlockSize)
	}
	if c.DAG.GCInterval < 0 {
		v.fail("dag.gc_interval", "must not be negative (0 disables the schedule), got %s", c.DAG.GCInterval)
	}
	if c.DAG.GCGrace < 0 {
		v.fail("dag.gc_grace", "must not be negative, got %s", c.DAG.GCGrace)
	}
	if c.DAG.CacheMB < 0 || c.DAG.CacheMB > 1<<20 {
		v.fail("dag.cache_mb", "must be in [0, %d] MiB, got %d", 1<<20, c.DAG.CacheMB)
	}
	l := c.Ledger
	v.atLeast("ledger.regen_per_hour", l.RegenPerHour, 0)
	v.atLeast("ledger.capacity", l.Capacity, 1)
	v.atLeast("ledger.op_cap", l.OpCap, 1)
	if l.Initial < 0 || l.Initial > l.Capacity {
		v.fail("ledger.initial", "must be in [0, ledger.capacity = %d], got %d", l.Capacity, l.Initial)
	}
	if l.ProposalCost < 0 || l.ProposalCost > l.OpCap {
		v.fail("ledger.proposal_cost", "must be in [0, ledger.op_cap = %d], got %d", l.OpCap, l.ProposalCost)
	}
	if l.VoteCost < 0 || l.VoteCost > l.OpCap {
		v.fail("ledger.vote_cost", "must be in [0, ledger.op_cap = %d], got %d", l.OpCap, l.VoteCost)
	}
	j := c.Jobs
	if j.Price < 0 || j.Price > l.OpCap {
		v.fail("jobs.price", "must be in [0, ledger.op_cap = %d], got %d", l.OpCap, j.Price)
	}
	if j.FuelPrice < 0 || j.FuelPrice > l.OpCap {
		v.fail("jobs.fuel_price", "must be in [0, ledger.op_cap = %d], got %d", l.OpCap, j.FuelPrice)
	}
	v.positive("jobs.assign_timeout", j.AssignTimeout)
	if j.MaxMemoryMB < 1 || j.MaxMemoryMB > 4096 {
		v.fail("jobs.max_memory_mb", "must be in [1, 4096] MiB, got %d", j.MaxMemoryMB)
	}
	v.positive("jobs.max_timeout", j.MaxTimeout)

	s := c.Supervision
	v.atLeast("supervision.intensity", s.Intensity, 1)
	v.positive("supervision.period", s.Period)
	v.positive("supervision.backoff_initial", s.BackoffInitial)
	v.notBelow("supervision.backoff_max", s.BackoffMax, "supervision.backoff_initial", s.BackoffInitial)
	if !(s.BackoffJitter >= 0 && s.BackoffJitter < 1) { // also refuses NaN
		v.fail("supervision.backoff_jitter", "must be in [0, 1), got %v", s.BackoffJitter)
	}
	v.positive("supervision.reset_after", s.ResetAfter)
	v.positive("supervision.breaker_open", s.BreakerOpen)
	v.notBelow("supervision.breaker_max_open", s.BreakerMaxOpen, "supervision.breaker_open", s.BreakerOpen)
	v.atLeast("supervision.half_open_probes", s.HalfOpenProbes, 1)
	v.positive("supervision.probe_window", s.ProbeWindow)
	v.atLeast("supervision.escalation_trips", s.EscalationTrips, 1)
	v.positive("supervision.escalation_window", s.EscalationWindow)
	v.positive("supervision.shutdown_timeout", s.ShutdownTimeout)
	return errors.Join(v.errs...)
}

// validator collects the problems Validate finds.
type validator struct{ errs []error }

func (v *validator) fail(key, format string, args ...any) {
	v.errs = append(v.errs, &Error{Kind: ErrInvalid, Key: key, Detail: fmt.Sprintf(format, args...)})
}

func (v *validator) path(key, p string, required bool) {
	switch {
	case p == "" && !required:
	case strings.TrimSpace(p) == "":
		v.fail(key, "must not be empty")
	case strings.ContainsRune(p, 0):
		v.fail(key, "must not contain a NUL byte")
	}
}

func (v *validator) addr(key, a string) {
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		v.fail(key, "want host:port, got %q", a)
		return
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		v.fail(key, "port must be a number in [0, 65535], got %q", port)
	}
}

// zeroPort reports whether addr asks the kernel to pick its port.
func zeroPort(addr string) bool {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	p, err := strconv.ParseUint(port, 10, 16)
	return err == nil && p == 0
}

func (v *validator) oneOf(key, s string, valid ...string) {
	if !slices.Contains(valid, s) {
		v.fail(key, "want one of %s, got %q", strings.Join(valid, ", "), s)
	}
}

func (v *validator) atLeast(key string, n, min int) {
	if n < min {
		v.fail(key, "must be >= %d, got %d", min, n)
	}
}

func (v *validator) positive(key string, d time.Duration) {
	if d <= 0 {
		v.fail(key, "must be a positive duration, got %v", d)
	}
}

func (v *validator) notBelow(key string, d time.Duration, lowKey string, low time.Duration) {
	if d < low {
		v.fail(key, "must be >= %s (%v), got %v", lowKey, low, d)
	}
}

// multiaddrs checks a list of multiaddrs. Bootstrap addresses (peers) must
// name the peer with /p2p/<id>; listen addresses must not.
func (v *validator) multiaddrs(key string, addrs []string, peers bool) {
	seen := make(map[string]bool, len(addrs))
	for i, s := range addrs {
		if seen[s] {
			v.fail(key, "entry %d: duplicate %q", i, s)
			continue
		}
		seen[s] = true
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			v.fail(key, "entry %d: %q is not a multiaddr: %v", i, s, err)
			continue
		}
		_, err = m.ValueForProtocol(ma.P_P2P)
		switch hasID := err == nil; {
		case peers && !hasID:
			v.fail(key, "entry %d: %q must end in /p2p/<peer id>", i, s)
		case !peers && hasID:
			v.fail(key, "entry %d: %q is a listen address and must not contain /p2p/", i, s)
		}
	}
}

// SlogLevel returns LogLevel as a slog.Level (info if it is not valid).
func (c Config) SlogLevel() slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return slog.LevelInfo
	}
	return l
}

// String returns the configuration as a TOML document that [Load] reads
// back to the same Config: every key, in struct order, with its value.
// Config holds no secrets (only the path of the passphrase file), so the
// output is safe to print (icnd run --print-config).
func (c Config) String() string {
	return encodeTOML(c, configFields())
}

// LogValue logs the configuration as nested groups keyed like the TOML file.
func (c Config) LogValue() slog.Value {
	return logValue(c, configFields())
}

var _ slog.LogValuer = Config{}
