package wiring

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

func mustDefault(t *testing.T, profile string) Config {
	t.Helper()
	c, err := Default(profile)
	if err != nil {
		t.Fatalf("Default(%q): %v", profile, err)
	}
	return c
}

func TestDefaultProfilesAreValid(t *testing.T) {
	for _, p := range Profiles() {
		t.Run(p, func(t *testing.T) {
			c := mustDefault(t, p)
			if err := c.Validate(); err != nil {
				t.Fatalf("defaults of %s do not validate: %v", p, err)
			}
			if c.Profile != p {
				t.Errorf("Profile = %q, want %q", c.Profile, p)
			}
			if c.Workers != runtime.GOMAXPROCS(0) {
				t.Errorf("Workers = %d, want GOMAXPROCS %d", c.Workers, runtime.GOMAXPROCS(0))
			}
		})
	}
}

func TestDefaultsDifferByProfile(t *testing.T) {
	prod, dev, test := mustDefault(t, ProfileProduction), mustDefault(t, ProfileDev), mustDefault(t, ProfileTest)
	checks := []struct {
		name      string
		got, want any
	}{
		{"production listen", prod.P2P.Listen, []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"}},
		{"production mdns", prod.P2P.MDNS, false},
		{"production api", prod.APIAddr, "127.0.0.1:7845"},
		{"production admin", prod.AdminAddr, "127.0.0.1:7846"},
		{"production data dir", prod.DataDir, "./data"},
		{"production log", prod.LogLevel + "/" + prod.LogFormat, "info/json"},
		{"production intensity", prod.Supervision.Intensity, 5},
		{"production period", prod.Supervision.Period, 30 * time.Second},
		{"production backoff", prod.Supervision.BackoffMax, 5 * time.Second},
		{"production escalation window", prod.Supervision.EscalationWindow, 10 * time.Minute},
		{"dev listen", dev.P2P.Listen, []string{"/ip4/127.0.0.1/tcp/0"}},
		{"dev mdns", dev.P2P.MDNS, true},
		{"dev intensity", dev.Supervision.Intensity, 50},
		{"dev backoff", dev.Supervision.BackoffMax, 20 * time.Millisecond},
		{"dev api", dev.APIAddr, "127.0.0.1:7845"},
		{"test mdns", test.P2P.MDNS, false},
		{"test api", test.APIAddr, "127.0.0.1:0"},
		{"test breaker max", test.Supervision.BreakerMaxOpen, 200 * time.Millisecond},
		{"test jitter", test.Supervision.BackoffJitter, 0.2},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestDefaultReturnsFreshSlices(t *testing.T) {
	a := mustDefault(t, ProfileProduction)
	a.P2P.Listen[0] = "changed"
	if b := mustDefault(t, ProfileProduction); b.P2P.Listen[0] == "changed" {
		t.Fatal("Default shares its slices between calls")
	}
}

func TestDefaultUnknownProfile(t *testing.T) {
	for _, p := range []string{"", "prod", "Production", "staging"} {
		c, err := Default(p)
		if !errors.Is(err, ErrUnknownProfile) {
			t.Fatalf("Default(%q) error = %v, want ErrUnknownProfile", p, err)
		}
		if !reflect.DeepEqual(c, Config{}) {
			t.Errorf("Default(%q) returned a non-zero Config with its error", p)
		}
		for _, valid := range Profiles() {
			if !strings.Contains(err.Error(), valid) {
				t.Errorf("error %q does not list profile %q", err, valid)
			}
		}
	}
}

// configErrors returns the *Error values err joins.
func configErrors(t *testing.T, err error) []*Error {
	t.Helper()
	var out []*Error
	for _, e := range errorList(err) {
		ce, ok := e.(*Error)
		if !ok {
			t.Fatalf("error %v (%T) is not a *wiring.Error", e, e)
		}
		out = append(out, ce)
	}
	return out
}

func TestValidateRejectsEachBadField(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
		key    string
		kind   error
	}{
		{"unknown profile", func(c *Config) { c.Profile = "staging" }, "profile", ErrUnknownProfile},
		{"empty data dir", func(c *Config) { c.DataDir = "" }, "data_dir", ErrInvalid},
		{"blank data dir", func(c *Config) { c.DataDir = "  " }, "data_dir", ErrInvalid},
		{"NUL in data dir", func(c *Config) { c.DataDir = "a\x00b" }, "data_dir", ErrInvalid},
		{"api addr without port", func(c *Config) { c.APIAddr = "localhost" }, "api_addr", ErrInvalid},
		{"api port out of range", func(c *Config) { c.APIAddr = "127.0.0.1:70000" }, "api_addr", ErrInvalid},
		{"admin named port", func(c *Config) { c.AdminAddr = "127.0.0.1:http" }, "admin_addr", ErrInvalid},
		{"admin same as api", func(c *Config) { c.AdminAddr = c.APIAddr }, "admin_addr", ErrInvalid},
		{"bad log level", func(c *Config) { c.LogLevel = "verbose" }, "log_level", ErrInvalid},
		{"log level is case-sensitive", func(c *Config) { c.LogLevel = "INFO" }, "log_level", ErrInvalid},
		{"bad log format", func(c *Config) { c.LogFormat = "xml" }, "log_format", ErrInvalid},
		{"negative workers", func(c *Config) { c.Workers = -1 }, "workers", ErrInvalid},
		{"too many workers", func(c *Config) { c.Workers = MaxWorkers + 1 }, "workers", ErrInvalid},
		{"NUL in passphrase file", func(c *Config) { c.KeyPassphraseFile = "x\x00" }, "key_passphrase_file", ErrInvalid},
		{"blank passphrase file", func(c *Config) { c.KeyPassphraseFile = " " }, "key_passphrase_file", ErrInvalid},
		{"listen not a multiaddr", func(c *Config) { c.P2P.Listen = []string{"0.0.0.0:4001"} }, "p2p.listen", ErrInvalid},
		{"listen with peer id", func(c *Config) {
			c.P2P.Listen = []string{"/ip4/0.0.0.0/tcp/4001/p2p/QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupGjX"}
		}, "p2p.listen", ErrInvalid},
		{"duplicate listen", func(c *Config) { c.P2P.Listen = []string{"/ip4/0.0.0.0/tcp/1", "/ip4/0.0.0.0/tcp/1"} }, "p2p.listen", ErrInvalid},
		{"bootstrap without peer id", func(c *Config) { c.P2P.Bootstrap = []string{"/ip4/10.0.0.1/tcp/4001"} }, "p2p.bootstrap", ErrInvalid},
		{"bootstrap with bad peer id", func(c *Config) { c.P2P.Bootstrap = []string{"/ip4/10.0.0.1/tcp/4001/p2p/notapeer"} }, "p2p.bootstrap", ErrInvalid},
		{"negative intensity", func(c *Config) { c.Supervision.Intensity = -1 }, "supervision.intensity", ErrInvalid},
		{"tiny blocks", func(c *Config) { c.DAG.MaxBlockSize = 100 }, "dag.max_block_size", ErrInvalid},
		{"huge blocks", func(c *Config) { c.DAG.MaxBlockSize = 32 << 20 }, "dag.max_block_size", ErrInvalid},
		{"negative gc interval", func(c *Config) { c.DAG.GCInterval = -time.Second }, "dag.gc_interval", ErrInvalid},
		{"negative gc grace", func(c *Config) { c.DAG.GCGrace = -time.Second }, "dag.gc_grace", ErrInvalid},
		{"negative block cache", func(c *Config) { c.DAG.CacheMB = -1 }, "dag.cache_mb", ErrInvalid},
		{"negative job price", func(c *Config) { c.Jobs.Price = -1 }, "jobs.price", ErrInvalid},
		{"job price over the op cap", func(c *Config) { c.Jobs.Price = c.Ledger.OpCap + 1 }, "jobs.price", ErrInvalid},
		{"negative fuel price", func(c *Config) { c.Jobs.FuelPrice = -1 }, "jobs.fuel_price", ErrInvalid},
		{"zero assign timeout", func(c *Config) { c.Jobs.AssignTimeout = 0 }, "jobs.assign_timeout", ErrInvalid},
		{"no job memory", func(c *Config) { c.Jobs.MaxMemoryMB = 0 }, "jobs.max_memory_mb", ErrInvalid},
		{"job memory over 4 GiB", func(c *Config) { c.Jobs.MaxMemoryMB = 4097 }, "jobs.max_memory_mb", ErrInvalid},
		{"zero job timeout", func(c *Config) { c.Jobs.MaxTimeout = 0 }, "jobs.max_timeout", ErrInvalid},
		{"zero intensity", func(c *Config) { c.Supervision.Intensity = 0 }, "supervision.intensity", ErrInvalid},
		{"zero period", func(c *Config) { c.Supervision.Period = 0 }, "supervision.period", ErrInvalid},
		{"negative backoff initial", func(c *Config) { c.Supervision.BackoffInitial = -time.Millisecond }, "supervision.backoff_initial", ErrInvalid},
		{"backoff max below initial", func(c *Config) { c.Supervision.BackoffMax = c.Supervision.BackoffInitial - 1 }, "supervision.backoff_max", ErrInvalid},
		{"jitter 1", func(c *Config) { c.Supervision.BackoffJitter = 1 }, "supervision.backoff_jitter", ErrInvalid},
		{"jitter negative", func(c *Config) { c.Supervision.BackoffJitter = -0.1 }, "supervision.backoff_jitter", ErrInvalid},
		{"jitter NaN", func(c *Config) { c.Supervision.BackoffJitter = math.NaN() }, "supervision.backoff_jitter", ErrInvalid},
		{"zero reset after", func(c *Config) { c.Supervision.ResetAfter = 0 }, "supervision.reset_after", ErrInvalid},
		{"zero breaker open", func(c *Config) { c.Supervision.BreakerOpen = 0 }, "supervision.breaker_open", ErrInvalid},
		{"breaker max below open", func(c *Config) { c.Supervision.BreakerMaxOpen = c.Supervision.BreakerOpen / 2 }, "supervision.breaker_max_open", ErrInvalid},
		{"no half-open probes", func(c *Config) { c.Supervision.HalfOpenProbes = 0 }, "supervision.half_open_probes", ErrInvalid},
		{"zero probe window", func(c *Config) { c.Supervision.ProbeWindow = 0 }, "supervision.probe_window", ErrInvalid},
		{"no escalation trips", func(c *Config) { c.Supervision.EscalationTrips = 0 }, "supervision.escalation_trips", ErrInvalid},
		{"zero escalation window", func(c *Config) { c.Supervision.EscalationWindow = 0 }, "supervision.escalation_window", ErrInvalid},
		{"zero shutdown timeout", func(c *Config) { c.Supervision.ShutdownTimeout = 0 }, "supervision.shutdown_timeout", ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustDefault(t, ProfileProduction)
			tt.mutate(&c)
			err := c.Validate()
			if !errors.Is(err, tt.kind) {
				t.Fatalf("Validate() = %v, want an error of kind %v", err, tt.kind)
			}
			errs := configErrors(t, err)
			if len(errs) != 1 || errs[0].Key != tt.key {
				t.Fatalf("Validate() = %v, want exactly one error for key %s", err, tt.key)
			}
			if !strings.Contains(err.Error(), tt.key) {
				t.Errorf("message %q does not name key %s", err, tt.key)
			}
		})
	}
}

func TestValidateAcceptsEdgeValues(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Config)
	}{
		{"zero workers executes nothing", func(c *Config) { c.Workers = 0 }},
		{"max workers", func(c *Config) { c.Workers = MaxWorkers }},
		{"zero jitter", func(c *Config) { c.Supervision.BackoffJitter = 0 }},
		{"intensity one", func(c *Config) { c.Supervision.Intensity = 1 }},
		{"backoff max equal to initial", func(c *Config) { c.Supervision.BackoffMax = c.Supervision.BackoffInitial }},
		{"no listen address (dial only)", func(c *Config) { c.P2P.Listen = nil }},
		{"both APIs on port 0", func(c *Config) { c.APIAddr, c.AdminAddr = "127.0.0.1:0", "127.0.0.1:0" }},
		{"api on all interfaces", func(c *Config) { c.APIAddr = ":7845" }},
		{"ipv6 api", func(c *Config) { c.APIAddr = "[::1]:7845" }},
		{"bootstrap peer", func(c *Config) {
			c.P2P.Bootstrap = []string{"/dns4/boot.example.coop/tcp/4001/p2p/QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupGjX"}
		}},
		{"passphrase file", func(c *Config) { c.KeyPassphraseFile = "/run/secrets/icn-key" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustDefault(t, ProfileProduction)
			tt.mutate(&c)
			if err := c.Validate(); err != nil {
				t.Fatalf("Validate() = %v, want nil", err)
			}
		})
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	c := mustDefault(t, ProfileProduction)
	c.Workers = -3
	c.LogLevel = "loud"
	c.Supervision.BackoffJitter = 2
	var keys []string
	for _, e := range configErrors(t, c.Validate()) {
		keys = append(keys, e.Key)
	}
	want := []string{"log_level", "workers", "supervision.backoff_jitter"}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys in errors = %v, want %v", keys, want)
	}
}

func TestFieldNamesAreDerived(t *testing.T) {
	want := map[string][2]string{ // key -> env, flag
		"profile":                      {"ICN_PROFILE", "profile"},
		"data_dir":                     {"ICN_DATA_DIR", "data-dir"},
		"api_addr":                     {"ICN_API_ADDR", "api-addr"},
		"key_passphrase_file":          {"ICN_KEY_PASSPHRASE_FILE", "key-passphrase-file"},
		"p2p.listen":                   {"ICN_P2P_LISTEN", "p2p-listen"},
		"p2p.bootstrap":                {"ICN_BOOTSTRAP", "bootstrap"}, // tags override
		"p2p.mdns":                     {"ICN_P2P_MDNS", "p2p-mdns"},
		"supervision.backoff_max":      {"ICN_SUPERVISION_BACKOFF_MAX", "supervision-backoff-max"},
		"supervision.shutdown_timeout": {"ICN_SUPERVISION_SHUTDOWN_TIMEOUT", "supervision-shutdown-timeout"},
		"dag.max_block_size":           {"ICN_DAG_MAX_BLOCK_SIZE", "dag-max-block-size"},
		"dag.gc_grace":                 {"ICN_DAG_GC_GRACE", "dag-gc-grace"},
		"dag.cache_mb":                 {"ICN_DAG_CACHE_MB", "dag-cache-mb"},
		"ledger.regen_per_hour":        {"ICN_LEDGER_REGEN_PER_HOUR", "ledger-regen-per-hour"},
		"jobs.max_memory_mb":           {"ICN_JOBS_MAX_MEMORY_MB", "jobs-max-memory-mb"},
	}
	got := map[string][2]string{}
	for _, f := range configFields() {
		got[f.key] = [2]string{f.env, f.flag}
	}
	for key, w := range want {
		if got[key] != w {
			t.Errorf("%s: env, flag = %v, want %v", key, got[key], w)
		}
	}
	if n := len(got); n != 39 {
		t.Errorf("Config has %d keys, want 39: a key was added or lost; update this test", n)
	}
}

func TestFieldNamesAreUniqueAndDocumented(t *testing.T) {
	bare := regexp.MustCompile(`^[a-z0-9_]+$`)
	envs, flags := map[string]string{}, map[string]string{FlagConfig: "--config"}
	for _, f := range configFields() {
		for _, p := range f.path {
			if !bare.MatchString(p) {
				t.Errorf("%s: key part %q is not a lowercase bare TOML key", f.key, p)
			}
		}
		if f.help == "" {
			t.Errorf("%s has no help tag", f.key)
		}
		if !strings.HasPrefix(f.env, envPrefix) {
			t.Errorf("%s: variable %s does not start with %s", f.key, f.env, envPrefix)
		}
		if other, dup := envs[f.env]; dup {
			t.Errorf("%s and %s share variable %s", f.key, other, f.env)
		}
		envs[f.env] = f.key
		if other, dup := flags[f.flag]; dup {
			t.Errorf("%s and %s share flag --%s", f.key, other, f.flag)
		}
		flags[f.flag] = f.key
	}
	for _, name := range NonConfigEnv() {
		if key, clash := envs[name]; clash {
			t.Errorf("non-config variable %s is the variable of key %s", name, key)
		}
		if !strings.HasPrefix(name, envPrefix) {
			t.Errorf("non-config variable %s does not start with %s", name, envPrefix)
		}
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "icnd.toml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestStringLoadsBackToTheSameConfig(t *testing.T) {
	custom := mustDefault(t, ProfileDev)
	custom.DataDir = `C:\icn "data"` + "\t\u00e9"
	custom.KeyPassphraseFile = "/run/secrets/key"
	custom.Workers = 0
	custom.P2P.Bootstrap = []string{"/ip4/10.0.0.1/tcp/4001/p2p/QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupGjX"}
	custom.P2P.Listen = nil
	custom.Supervision.BackoffJitter = 0
	custom.Supervision.EscalationWindow = 90 * time.Minute
	configs := []Config{custom}
	for _, p := range Profiles() {
		configs = append(configs, mustDefault(t, p))
	}
	for _, want := range configs {
		t.Run(want.Profile, func(t *testing.T) {
			got, err := Load(writeFile(t, want.String()), nil, nil)
			if err != nil {
				t.Fatalf("Load(String()) = %v\n%s", err, want)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round trip changed the config:\ngot  %#v\nwant %#v", got, want)
			}
		})
	}
}

func TestStringShowsEveryKey(t *testing.T) {
	s := mustDefault(t, ProfileProduction).String()
	for _, line := range []string{
		`profile = "production"`,
		`listen = ["/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"]`,
		"[supervision]",
		`backoff_max = "5s"`,
		"backoff_jitter = 0.2",
	} {
		if !strings.Contains(s, line+"\n") {
			t.Errorf("String() lacks line %q:\n%s", line, s)
		}
	}
}

func TestLogValue(t *testing.T) {
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "config", mustDefault(t, ProfileProduction))
	var rec struct {
		Config struct {
			APIAddr string `json:"api_addr"`
			Workers int    `json:"workers"`
			P2P     struct {
				Listen []string `json:"listen"`
			} `json:"p2p"`
			Supervision struct {
				BackoffMax string `json:"backoff_max"`
			} `json:"supervision"`
		} `json:"config"`
	}
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("log line %q: %v", buf.String(), err)
	}
	c := rec.Config
	if c.APIAddr != "127.0.0.1:7845" || c.Workers != runtime.GOMAXPROCS(0) || len(c.P2P.Listen) != 2 || c.Supervision.BackoffMax != "5s" {
		t.Fatalf("logged config = %+v, from %s", c, buf.String())
	}
}

func TestSlogLevel(t *testing.T) {
	for level, want := range map[string]slog.Level{"debug": slog.LevelDebug, "info": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError} {
		if got := (Config{LogLevel: level}).SlogLevel(); got != want {
			t.Errorf("SlogLevel(%q) = %v, want %v", level, got, want)
		}
	}
}
