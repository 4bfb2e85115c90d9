package wiring

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

func TestLoadWithNoSourcesIsProductionDefaults(t *testing.T) {
	got, err := Load("", []string{"PATH=/usr/bin", "HOME=/root"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := mustDefault(t, ProfileProduction); !reflect.DeepEqual(got, want) {
		t.Fatalf("Load = %+v, want production defaults %+v", got, want)
	}
}

// TestPrecedence sets one key in every combination of file, env and flag
// and checks that the highest layer wins: defaults < file < env < flag.
func TestPrecedence(t *testing.T) {
	tests := []struct {
		name     string
		file     string   // the key in TOML, with its table header if nested
		env      string   // KEY=value
		flag     []string // args
		get      func(Config) any
		def      any // production default
		fileWant any
		envWant  any
		flagWant any
	}{
		{
			name: "scalar", file: `api_addr = "10.0.0.1:1"`, env: "ICN_API_ADDR=10.0.0.2:2", flag: []string{"--api-addr", "10.0.0.3:3"},
			get: func(c Config) any { return c.APIAddr },
			def: "127.0.0.1:7845", fileWant: "10.0.0.1:1", envWant: "10.0.0.2:2", flagWant: "10.0.0.3:3",
		},
		{
			name: "int", file: "workers = 7", env: "ICN_WORKERS=8", flag: []string{"--workers=9"},
			get: func(c Config) any { return c.Workers },
			def: mustDefault(t, ProfileProduction).Workers, fileWant: 7, envWant: 8, flagWant: 9,
		},
		{
			name: "list", file: "[p2p]\nlisten = [\"/ip4/1.1.1.1/tcp/1\"]",
			env:      "ICN_P2P_LISTEN=/ip4/2.2.2.2/tcp/2, /ip4/2.2.2.2/udp/2/quic-v1",
			flag:     []string{"--p2p-listen", "/ip4/3.3.3.3/tcp/3"},
			get:      func(c Config) any { return c.P2P.Listen },
			def:      []string{"/ip4/0.0.0.0/tcp/4001", "/ip4/0.0.0.0/udp/4001/quic-v1"},
			fileWant: []string{"/ip4/1.1.1.1/tcp/1"},
			envWant:  []string{"/ip4/2.2.2.2/tcp/2", "/ip4/2.2.2.2/udp/2/quic-v1"},
			flagWant: []string{"/ip4/3.3.3.3/tcp/3"},
		},
		{
			name: "renamed list", file: "[p2p]\nbootstrap = [\"/ip4/1.1.1.1/tcp/1/p2p/QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupGjX\"]",
			env:      "ICN_BOOTSTRAP=/ip4/2.2.2.2/tcp/2/p2p/QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupGjX",
			flag:     []string{"--bootstrap", "/ip4/3.3.3.3/tcp/3/p2p/QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupGjX"},
			get:      func(c Config) any { return c.P2P.Bootstrap },
			def:      []string(nil),
			fileWant: []string{"/ip4/1.1.1.1/tcp/1/p2p/QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupGjX"},
			envWant:  []string{"/ip4/2.2.2.2/tcp/2/p2p/QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupGjX"},
			flagWant: []string{"/ip4/3.3.3.3/tcp/3/p2p/QmcgpsyWgH8Y8ajJz1Cu72KnS5uo2Aa2LpzU7kinSupGjX"},
		},
		{
			name: "nested duration", file: "[supervision]\nbackoff_max = \"7s\"", env: "ICN_SUPERVISION_BACKOFF_MAX=8s",
			flag: []string{"--supervision-backoff-max", "1m30s"},
			get:  func(c Config) any { return c.Supervision.BackoffMax },
			def:  5 * time.Second, fileWant: 7 * time.Second, envWant: 8 * time.Second, flagWant: 90 * time.Second,
		},
		{
			name: "nested int as dotted key", file: "supervision.intensity = 1", env: "ICN_SUPERVISION_INTENSITY=2",
			flag: []string{"--supervision-intensity=3"},
			get:  func(c Config) any { return c.Supervision.Intensity },
			def:  5, fileWant: 1, envWant: 2, flagWant: 3,
		},
		{
			name: "nested float", file: "[supervision]\nbackoff_jitter = 0", env: "ICN_SUPERVISION_BACKOFF_JITTER=0.5",
			flag: []string{"--supervision-backoff-jitter", "0.75"},
			get:  func(c Config) any { return c.Supervision.BackoffJitter },
			def:  0.2, fileWant: 0.0, envWant: 0.5, flagWant: 0.75,
		},
		{
			name: "bool", file: "[p2p]\nmdns = true", env: "ICN_P2P_MDNS=false", flag: []string{"--p2p-mdns"},
			get: func(c Config) any { return c.P2P.MDNS },
			def: false, fileWant: true, envWant: false, flagWant: true,
		},
	}
	for _, tt := range tests {
		for mask := range 8 {
			useFile, useEnv, useFlag := mask&1 != 0, mask&2 != 0, mask&4 != 0
			name := fmt.Sprintf("%s/file=%v,env=%v,flag=%v", tt.name, useFile, useEnv, useFlag)
			t.Run(name, func(t *testing.T) {
				path, environ, args, want := "", []string(nil), []string(nil), tt.def
				if useFile {
					path, want = writeFile(t, tt.file+"\n"), tt.fileWant
				}
				if useEnv {
					environ, want = []string{tt.env}, tt.envWant
				}
				if useFlag {
					args, want = tt.flag, tt.flagWant
				}
				c, err := Load(path, environ, args)
				if err != nil {
					t.Fatal(err)
				}
				if got := tt.get(c); !reflect.DeepEqual(got, want) {
					t.Fatalf("got %#v, want %#v", got, want)
				}
			})
		}
	}
}

func TestProfileIsResolvedFirstAndPicksDefaults(t *testing.T) {
	tests := []struct {
		name        string
		file        string
		environ     []string
		args        []string
		wantProfile string
		wantMDNS    bool
		wantAPI     string
	}{
		{"none", "", nil, nil, ProfileProduction, false, "127.0.0.1:7845"},
		{"file", `profile = "dev"`, nil, nil, ProfileDev, true, "127.0.0.1:7845"},
		{"env over file", `profile = "dev"`, []string{"ICN_PROFILE=test"}, nil, ProfileTest, false, "127.0.0.1:0"},
		{"flag over env", `profile = "test"`, []string{"ICN_PROFILE=test"}, []string{"--profile", "dev"}, ProfileDev, true, "127.0.0.1:7845"},
		{"flag production", "", []string{"ICN_PROFILE=dev"}, []string{"--profile=production"}, ProfileProduction, false, "127.0.0.1:7845"},
		// The file sets keys over the defaults of a profile that env picks.
		{"file keys over env profile", "[p2p]\nmdns = false", []string{"ICN_PROFILE=dev"}, nil, ProfileDev, false, "127.0.0.1:7845"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			c, err := Load(path, tt.environ, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if c.Profile != tt.wantProfile || c.P2P.MDNS != tt.wantMDNS || c.APIAddr != tt.wantAPI {
				t.Fatalf("profile, mdns, api = %s, %v, %s; want %s, %v, %s",
					c.Profile, c.P2P.MDNS, c.APIAddr, tt.wantProfile, tt.wantMDNS, tt.wantAPI)
			}
			want := mustDefault(t, tt.wantProfile).Supervision
			if c.Supervision != want {
				t.Fatalf("supervision = %+v, want the %s defaults %+v", c.Supervision, tt.wantProfile, want)
			}
		})
	}
}

func TestListValues(t *testing.T) {
	tests := []struct {
		name    string
		file    string
		environ []string
		args    []string
		want    []string
	}{
		{"repeated flags append", "", nil,
			[]string{"--p2p-listen", "/ip4/1.1.1.1/tcp/1", "--p2p-listen=/ip4/2.2.2.2/tcp/2,/ip4/3.3.3.3/tcp/3"},
			[]string{"/ip4/1.1.1.1/tcp/1", "/ip4/2.2.2.2/tcp/2", "/ip4/3.3.3.3/tcp/3"}},
		{"flags replace the file's list", "[p2p]\nlisten = [\"/ip4/1.1.1.1/tcp/1\"]", nil,
			[]string{"--p2p-listen", "/ip4/2.2.2.2/tcp/2"}, []string{"/ip4/2.2.2.2/tcp/2"}},
		{"empty env is the empty list", "", []string{"ICN_P2P_LISTEN="}, nil, nil},
		{"env items are trimmed, empty items dropped", "", []string{"ICN_P2P_LISTEN= /ip4/1.1.1.1/tcp/1 ,, "}, nil,
			[]string{"/ip4/1.1.1.1/tcp/1"}},
		{"empty file array", "[p2p]\nlisten = []", nil, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			c, err := Load(path, tt.environ, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c.P2P.Listen, tt.want) {
				t.Fatalf("listen = %q, want %q", c.P2P.Listen, tt.want)
			}
		})
	}
}

func TestEnvFirstEntryWinsAndOthersAreIgnored(t *testing.T) {
	c, err := Load("", []string{
		"ICN_WORKERS=3", "ICN_WORKERS=4", // duplicates: the first counts, as with os.Getenv
		"PATH=/bin", "icn_workers=9", "XICN_FOO=1", "NOEQUALS",
		"ICN_CONFIG=", "ICN_KEY_PASSPHRASE=secret", "ICN_API=http://x", "ICN_ADMIN=http://y",
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Workers != 3 {
		t.Fatalf("workers = %d, want 3", c.Workers)
	}
}

// checkLoadError asserts that Load failed with an error of kind, that every
// fragment appears in its message, and that it returned the zero Config.
func checkLoadError(t *testing.T, c Config, err error, kind error, fragments ...string) {
	t.Helper()
	if !errors.Is(err, kind) {
		t.Fatalf("error = %v, want kind %v", err, kind)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q does not mention %q", err, f)
		}
	}
	if !reflect.DeepEqual(c, Config{}) {
		t.Errorf("Load returned a non-zero Config with its error: %+v", c)
	}
}

func TestUnknownKeysAreRejected(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		environ   []string
		args      []string
		fragments []string
	}{
		{"file top-level", "api_adr = \"x:1\"", nil, nil, []string{"file ", "api_adr", "did you mean api_addr"}},
		{"file nested", "[p2p]\nlistne = []", nil, nil, []string{"p2p.listne", "did you mean p2p.listen"}},
		{"file unknown table", "[supervisor]\nintensity = 3", nil, nil, []string{"supervisor: unknown key"}},
		{"file key in wrong table", "[p2p]\nworkers = 3", nil, nil, []string{"p2p.workers"}},
		{"file key with wrong case", "API_ADDR = \"x:1\"", nil, nil, []string{"API_ADDR"}},
		{"file quoted dotted key", "\"p2p.mdns\" = true", nil, nil, []string{`"p2p.mdns"`}},
		{"env", "", []string{"ICN_P2P_LISTNE=/ip4/1.1.1.1/tcp/1"}, nil, []string{"env ICN_P2P_LISTNE", "did you mean ICN_P2P_LISTEN"}},
		{"env derived name of a renamed key", "", []string{"ICN_P2P_BOOTSTRAP=x"}, nil, []string{"ICN_P2P_BOOTSTRAP", "did you mean ICN_BOOTSTRAP"}},
		{"env unrelated", "", []string{"ICN_COLOUR=blue"}, nil, []string{"env ICN_COLOUR"}},
		{"flag", "", nil, []string{"--api-adr", "x:1"}, []string{"flag --api-adr", "did you mean --api-addr"}},
		{"flag derived name of a renamed key", "", nil, []string{"--p2p-bootstrap=x"}, []string{"--p2p-bootstrap", "did you mean --bootstrap"}},
		{"flag with underscores", "", nil, []string{"--api_addr=x:1"}, []string{"--api_addr"}},
		{"shorthand flag", "", nil, []string{"-w", "3"}, []string{"-w"}},
		{"positional argument", "", nil, []string{"--p2p-mdns", "false"}, []string{`"false"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			c, err := Load(path, tt.environ, tt.args)
			checkLoadError(t, c, err, ErrUnknownKey, tt.fragments...)
		})
	}
}

func TestMalformedValuesNameKeyAndSource(t *testing.T) {
	tests := []struct {
		name      string
		file      string
		environ   []string
		args      []string
		fragments []string
	}{
		{"file string for int", `workers = "abc"`, nil, nil, []string{"file ", "workers", "want an integer"}},
		{"file float for int", `workers = 1.5`, nil, nil, []string{"workers", "want an integer"}},
		{"file bad duration", "[supervision]\nperiod = \"5 parsecs\"", nil, nil, []string{"supervision.period", "5 parsecs"}},
		{"file integer duration", "[supervision]\nperiod = 30", nil, nil, []string{"supervision.period", "duration string"}},
		{"file string for list", "[p2p]\nlisten = \"/ip4/1.1.1.1/tcp/1\"", nil, nil, []string{"p2p.listen", "array of strings"}},
		{"file number in list", "[p2p]\nlisten = [1]", nil, nil, []string{"p2p.listen", "item 0"}},
		{"file string for bool", "[p2p]\nmdns = \"yes\"", nil, nil, []string{"p2p.mdns", "true or false"}},
		{"file scalar for table", "p2p = 1", nil, nil, []string{"p2p", "want a table"}},
		{"file table for scalar", "[workers]\nn = 1", nil, nil, []string{"workers", "got table"}},
		{"file date for string", "data_dir = 1979-05-27", nil, nil, []string{"data_dir", "date-time"}},
		{"file syntax", "workers = = 3", nil, nil, []string{"file ", "not a valid TOML document"}},
		{"file duplicate key", "workers = 1\nworkers = 2", nil, nil, []string{"not a valid TOML document"}},
		{"file nested too deep", "a = " + strings.Repeat("[", 40) + strings.Repeat("]", 40), nil, nil, []string{"nest deeper than"}},
		{"env int", "", []string{"ICN_WORKERS=abc"}, nil, []string{"env ICN_WORKERS", "workers", `"abc"`}},
		{"env int overflow", "", []string{"ICN_WORKERS=99999999999999999999"}, nil, []string{"env ICN_WORKERS", "out of range"}},
		{"env duration", "", []string{"ICN_SUPERVISION_BACKOFF_MAX=5 parsecs"}, nil, []string{"env ICN_SUPERVISION_BACKOFF_MAX", "supervision.backoff_max", "5 parsecs"}},
		{"env bool", "", []string{"ICN_P2P_MDNS=yes"}, nil, []string{"env ICN_P2P_MDNS", "p2p.mdns", "true or false"}},
		{"env float", "", []string{"ICN_SUPERVISION_BACKOFF_JITTER=a lot"}, nil, []string{"env ICN_SUPERVISION_BACKOFF_JITTER", "want a number"}},
		{"flag int", "", nil, []string{"--workers", "abc"}, []string{"flag --workers", "workers", `"abc"`}},
		{"flag duration", "", nil, []string{"--supervision-period=5 parsecs"}, []string{"flag --supervision-period", "supervision.period"}},
		{"flag bool", "", nil, []string{"--p2p-mdns=maybe"}, []string{"flag --p2p-mdns", "p2p.mdns"}},
		{"flag without value", "", nil, []string{"--workers"}, []string{"--workers", "needs a value"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.file != "" {
				path = writeFile(t, tt.file)
			}
			c, err := Load(path, tt.environ, tt.args)
			checkLoadError(t, c, err, ErrMalformed, tt.fragments...)
			if path != "" && !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file %s", err, path)
			}
		})
	}
}

func TestLoadReportsProblemsOfAllLayersTogether(t *testing.T) {
	path := writeFile(t, "bogus = 1\nworkers = \"x\"")
	c, err := Load(path, []string{"ICN_BOGUS=1", "ICN_WORKERS=y"}, []string{"--workers=z"})
	checkLoadError(t, c, err, ErrUnknownKey, "file "+path+": bogus", "env ICN_BOGUS", "env ICN_WORKERS", "flag --workers")
	if !errors.Is(err, ErrMalformed) {
		t.Errorf("error %v lacks the malformed values", err)
	}
	if n := len(configErrors(t, err)); n != 5 {
		t.Errorf("got %d errors, want 5: %v", n, err)
	}
}

func TestLoadBoundsTheNumberOfErrors(t *testing.T) {
	var b strings.Builder
	for i := range 50 {
		fmt.Fprintf(&b, "bogus%d = 1\n", i)
	}
	_, err := Load(writeFile(t, b.String()), nil, nil)
	if !errors.Is(err, ErrUnknownKey) || !strings.Contains(err.Error(), "and 30 more problems") {
		t.Fatalf("error = %v", err)
	}
}

func TestValidationErrorsNameTheirSource(t *testing.T) {
	path := writeFile(t, "log_level = \"loud\"")
	c, err := Load(path, []string{"ICN_WORKERS=-1", "ICN_PROFILE=test"}, []string{"--supervision-backoff-max=0s"})
	checkLoadError(t, c, err, ErrInvalid, "file "+path+": log_level", "env ICN_WORKERS: workers",
		"flag --supervision-backoff-max: supervision.backoff_max")
	got := map[string]Source{}
	for _, e := range configErrors(t, err) {
		got[e.Key] = e.Source
	}
	want := map[string]Source{
		"log_level":               {OriginFile, path},
		"workers":                 {OriginEnv, "ICN_WORKERS"},
		"supervision.backoff_max": {OriginFlag, "--supervision-backoff-max"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("sources = %v, want %v", got, want)
	}

	_, err = Load("", []string{"ICN_PROFILE=staging"}, nil)
	ce, ok := errors.AsType[*Error](err)
	if !ok || !errors.Is(err, ErrUnknownProfile) || ce.Source != (Source{OriginEnv, "ICN_PROFILE"}) {
		t.Fatalf("error = %#v, want ErrUnknownProfile from env ICN_PROFILE", err)
	}
}

func TestConfigFileSelection(t *testing.T) {
	a := writeFile(t, "workers = 1")
	b := writeFile(t, "workers = 2")
	c := writeFile(t, "workers = 3")
	tests := []struct {
		name    string
		path    string
		environ []string
		args    []string
		want    int
	}{
		{"explicit path", a, []string{EnvConfig + "=" + b}, []string{"--config", c}, 1},
		{"--config over ICN_CONFIG", "", []string{EnvConfig + "=" + b}, []string{"--config", c}, 3},
		{"ICN_CONFIG", "", []string{EnvConfig + "=" + b}, nil, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(tt.path, tt.environ, tt.args)
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Workers != tt.want {
				t.Fatalf("workers = %d, want %d", cfg.Workers, tt.want)
			}
		})
	}
}

func TestFileProblems(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "missing.toml"), nil, nil)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: error = %v, want fs.ErrNotExist", err)
	}
	big := writeFile(t, "# "+strings.Repeat("x", MaxFileSize)+"\n")
	c, err := Load(big, nil, nil)
	checkLoadError(t, c, err, ErrMalformed, "larger than")
	c, err = Load(writeFile(t, "data_dir = \"\xff\"\n"), nil, nil)
	checkLoadError(t, c, err, ErrMalformed, "not a valid TOML document")
}

func TestHelpFlag(t *testing.T) {
	if _, err := Load("", nil, []string{"--help"}); !errors.Is(err, pflag.ErrHelp) {
		t.Fatalf("Load(--help) = %v, want pflag.ErrHelp", err)
	}
}

func TestLoadFlagsWithACallersFlagSet(t *testing.T) {
	path := writeFile(t, "workers = 5")
	fset := pflag.NewFlagSet("run", pflag.ContinueOnError)
	RegisterFlags(fset)
	fset.Bool("print-config", false, "a flag of the caller's own")
	if err := fset.Parse([]string{"--config", path, "--print-config", "--api-addr=127.0.0.1:9"}); err != nil {
		t.Fatal(err)
	}
	c, err := LoadFlags("", []string{"ICN_LOG_LEVEL=debug"}, fset)
	if err != nil {
		t.Fatal(err)
	}
	if c.Workers != 5 || c.APIAddr != "127.0.0.1:9" || c.LogLevel != "debug" {
		t.Fatalf("workers, api, log level = %d, %s, %s", c.Workers, c.APIAddr, c.LogLevel)
	}

	bare := pflag.NewFlagSet("bare", pflag.ContinueOnError)
	if _, err := LoadFlags("", nil, bare); err == nil || !strings.Contains(err.Error(), "RegisterFlags") {
		t.Fatalf("LoadFlags with an unprepared flag set = %v, want an error saying RegisterFlags", err)
	}
}

func TestRegisterFlagsDefinesEveryKey(t *testing.T) {
	fset := pflag.NewFlagSet("run", pflag.ContinueOnError)
	RegisterFlags(fset)
	for _, f := range configFields() {
		fl := fset.Lookup(f.flag)
		if fl == nil {
			t.Errorf("no flag --%s for %s", f.flag, f.key)
			continue
		}
		if !strings.Contains(fl.Usage, f.env) || !strings.Contains(fl.Usage, "default ") || !strings.HasPrefix(fl.Usage, f.help) {
			t.Errorf("--%s usage %q lacks its help, variable or default", f.flag, fl.Usage)
		}
		if (fl.NoOptDefVal == "true") != (f.kind == kindBool) {
			t.Errorf("--%s NoOptDefVal = %q", f.flag, fl.NoOptDefVal)
		}
	}
	if fset.Lookup(FlagConfig) == nil {
		t.Error("no --config flag")
	}
	usage := fset.FlagUsages()
	for _, want := range []string{
		"--supervision-backoff-max duration",
		"default 5s, dev 20ms, test 20ms",
		"--p2p-listen strings",
		"--workers int",
	} {
		if !strings.Contains(usage, want) {
			t.Errorf("usage lacks %q:\n%s", want, usage)
		}
	}
}

func TestConfigPath(t *testing.T) {
	fset := pflag.NewFlagSet("run", pflag.ContinueOnError)
	RegisterFlags(fset)
	if got := ConfigPath(fset, []string{"ICN_CONFIG=/etc/icn/env.toml"}); got != "/etc/icn/env.toml" {
		t.Errorf("ConfigPath from env = %q", got)
	}
	if err := fset.Parse([]string{"--config=/etc/icn/flag.toml"}); err != nil {
		t.Fatal(err)
	}
	if got := ConfigPath(fset, []string{"ICN_CONFIG=/etc/icn/env.toml"}); got != "/etc/icn/flag.toml" {
		t.Errorf("ConfigPath from flag = %q", got)
	}
	if got := ConfigPath(nil, nil); got != "" {
		t.Errorf("ConfigPath with nothing = %q", got)
	}
}

func TestErrorText(t *testing.T) {
	e := &Error{Kind: ErrInvalid, Key: "workers", Source: Source{OriginEnv, "ICN_WORKERS"}, Detail: "must be in [0, 1024], got -1"}
	if got, want := e.Error(), "wiring: env ICN_WORKERS: workers: must be in [0, 1024], got -1"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	e.Source = Source{}
	if got, want := e.Error(), "wiring: workers: must be in [0, 1024], got -1"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	cause := os.ErrInvalid
	e.Err = cause
	if !errors.Is(e, ErrInvalid) || !errors.Is(e, cause) || errors.Is(e, ErrMalformed) {
		t.Error("Unwrap does not expose exactly Kind and Err")
	}
}

func TestCheckShape(t *testing.T) {
	deep := func(open, close string, n int) string {
		return "a = " + strings.Repeat(open, n) + "1" + strings.Repeat(close, n) + "\n"
	}
	dotted := func(n int) string {
		return strings.Repeat("k.", n-1) + "k"
	}
	tests := []struct {
		name string
		doc  string
		ok   bool
	}{
		{"printed config", mustDefault(t, ProfileDev).String(), true},
		{"arrays at the limit", deep("[", "]", maxNesting), true},
		{"arrays too deep", deep("[", "]", maxNesting+1), false},
		{"inline tables too deep", deep("{b=", "}", maxNesting+1), false},
		{"key at the limit", dotted(maxKeyParts) + " = 1\n", true},
		{"key too long", dotted(maxKeyParts+1) + " = 1\n", false},
		{"header too long", "[" + dotted(maxKeyParts+1) + "]\n", false},
		{"array of tables header too long", "[[" + dotted(maxKeyParts+1) + "]]\n", false},
		{"key in inline table too long", "a = {x = 1, " + dotted(maxKeyParts+1) + " = 2}\n", false},
		{"dots in values are not key parts", "a = [" + strings.Repeat("1.5, ", 100) + "]\nb = 1.5\n", true},
		{"dots in quoted keys are not key parts", `"` + dotted(100) + `" = 1` + "\n", true},
		{"brackets in strings", `a = "` + strings.Repeat("[{", 100) + `"` + "\nb = '" + strings.Repeat("[", 100) + "'\n", true},
		{"brackets in multi-line strings", "a = \"\"\"\n" + strings.Repeat("[", 100) + "\\\"\"\"\"\nb = '''" + strings.Repeat("{", 100) + "'''\n", true},
		{"brackets in comments", "# " + strings.Repeat("[", 100) + "\na = 1 # " + strings.Repeat("{", 100) + "\n", true},
		{"quotes inside a closing run do not hide nesting", `a = {x = """y"""", b = ` + deep("{b=", "}", maxNesting+1)[4:] + "}", false},
		{"arrays over many lines", "a = [\n" + strings.Repeat("  [1],\n", 100) + "]\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := checkShape([]byte(tt.doc)); (err == nil) != tt.ok {
				t.Fatalf("checkShape = %v, want ok %v for\n%s", err, tt.ok, tt.doc)
			}
		})
	}
}
