package wiring

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/intercooperative-network/icn-go/actors/dag"
	"github.com/intercooperative-network/icn-go/actors/executors"
	"github.com/intercooperative-network/icn-go/actors/governance"
	"github.com/intercooperative-network/icn-go/actors/jobs"
	"github.com/intercooperative-network/icn-go/actors/ledger"
	"github.com/intercooperative-network/icn-go/actors/peers"
	"github.com/intercooperative-network/icn-go/messages/envelope"
	"github.com/intercooperative-network/icn-go/services/clock"
	"github.com/intercooperative-network/icn-go/services/httpapi"
	"github.com/intercooperative-network/icn-go/services/identity"
	"github.com/intercooperative-network/icn-go/services/identity/keystore"
	"github.com/intercooperative-network/icn-go/services/metrics"
	"github.com/intercooperative-network/icn-go/services/network"
	"github.com/intercooperative-network/icn-go/services/network/libp2pnet"
	"github.com/intercooperative-network/icn-go/services/network/memnet"
	"github.com/intercooperative-network/icn-go/services/store"
	"github.com/intercooperative-network/icn-go/services/store/badgerstore"
	"github.com/intercooperative-network/icn-go/services/store/memstore"
	"github.com/intercooperative-network/icn-go/services/wasm"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// Component is one service implementation a profile lists for a role.
type Component struct {
	Role   string // store, identity, network
	Impl   string // badger, keystore, libp2p, memory, ephemeral, mocknet
	Stub   bool   // in-process stand-in: never allowed in production
	Module fx.Option
}

// The roles a profile must fill.
const (
	RoleStore    = "store"
	RoleIdentity = "identity"
	RoleNetwork  = "network"
)

// The components of each role.
var (
	BadgerStore       = Component{Role: RoleStore, Impl: "badger", Module: badgerstore.Module}
	MemoryStore       = Component{Role: RoleStore, Impl: "memory", Stub: true, Module: memstore.Module}
	DiskKeystore      = Component{Role: RoleIdentity, Impl: "keystore", Module: keystore.Module}
	EphemeralIdentity = Component{Role: RoleIdentity, Impl: "ephemeral", Stub: true, Module: identity.EphemeralModule}
	Libp2pNetwork     = Component{Role: RoleNetwork, Impl: "libp2p", Module: libp2pnet.Module}
	MockNetwork       = Component{Role: RoleNetwork, Impl: "mocknet", Stub: true, Module: memnet.Module}
)

// ProfileComponents lists the service implementations of a profile. The
// profile is wiring, not an if: nothing outside this function asks for it.
func ProfileComponents(profile string) ([]Component, error) {
	switch profile {
	case ProfileProduction, ProfileDev:
		return []Component{BadgerStore, DiskKeystore, Libp2pNetwork}, nil
	case ProfileTest:
		return []Component{MemoryStore, EphemeralIdentity, MockNetwork}, nil
	}
	return nil, unknownProfile(profile)
}

// ErrStubInProduction: the production profile was asked to run a stub.
var ErrStubInProduction = errors.New("wiring: the production profile refuses stub components")

// Options are what New needs besides the config.
type Options struct {
	Version string
	Logger  *slog.Logger
	// KeyPassphrase unlocks an encrypted node key (from ICN_KEY_PASSPHRASE);
	// Config.KeyPassphraseFile is read when this is nil.
	KeyPassphrase []byte
	// Overrides replace the profile's component of the same role (tests:
	// a shared mocknet, a memory store in a dev node). A stub override of
	// the production profile is refused.
	Overrides []Component
	// Extra fx options, for tests that need to reach into the graph.
	Extra []fx.Option
}

// Node is an assembled node: the fx app and handles on its main parts.
type Node struct {
	app        *fx.App
	components []Component

	Config   Config
	Tree     *supervisors.Tree
	Server   *httpapi.Server
	Identity *identity.Identity
	Network  network.Network
	Store    store.Store
	Registry *prometheus.Registry
	WASM     *wasm.Engine
}

// New assembles a node of cfg.Profile: its services, the supervision tree of
// the six subsystems and both HTTP listeners. Nothing runs until Start.
func New(cfg Config, o Options) (*Node, error) {
	n, opts, err := assemble(cfg, o)
	if err != nil {
		return nil, err
	}
	n.app = fx.New(opts...)
	if err := n.app.Err(); err != nil {
		return nil, fmt.Errorf("wiring: assemble %s node: %w", cfg.Profile, err)
	}
	return n, nil
}

// Validate checks that the node's fx graph is complete without running any
// constructor (nothing is opened, bound or spawned).
func Validate(cfg Config, o Options) error {
	_, opts, err := assemble(cfg, o)
	if err != nil {
		return err
	}
	return fx.ValidateApp(opts...)
}

func assemble(cfg Config, o Options) (*Node, []fx.Option, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	if o.Logger == nil {
		return nil, nil, errors.New("wiring: a logger is required")
	}
	comps, err := ProfileComponents(cfg.Profile)
	if err != nil {
		return nil, nil, err
	}
	for _, ov := range o.Overrides {
		i := slices.IndexFunc(comps, func(c Component) bool { return c.Role == ov.Role })
		if i < 0 {
			return nil, nil, fmt.Errorf("wiring: override of unknown role %q", ov.Role)
		}
		comps[i] = ov
	}
	if cfg.Profile == ProfileProduction {
		for _, c := range comps {
			if c.Stub {
				return nil, nil, fmt.Errorf("%w: %s would be %s", ErrStubInProduction, c.Role, c.Impl)
			}
		}
	}
	passphrase, err := KeyPassphrase(cfg, o.KeyPassphrase)
	if err != nil {
		return nil, nil, err
	}
	n := &Node{Config: cfg, components: comps}
	startedAt := time.Now().UTC()
	opts := []fx.Option{
		fx.WithLogger(func() fxevent.Logger {
			l := &fxevent.SlogLogger{Logger: o.Logger.With("component", "fx")}
			l.UseLogLevel(slog.LevelDebug)
			l.UseErrorLevel(slog.LevelError)
			return l
		}),
		fx.StartTimeout(30 * time.Second),
		fx.StopTimeout(30 * time.Second),
		fx.Supply(cfg, o.Logger, metrics.Version(o.Version)),
		fx.Provide(
			func(c Config) badgerstore.Config { return badgerstore.Config{DataDir: c.DataDir} },
			func(c Config) keystore.Config { return keystore.Config{DataDir: c.DataDir, Passphrase: passphrase} },
			func(c Config) libp2pnet.Options {
				return libp2pnet.Options{Listen: c.P2P.Listen, Bootstrap: c.P2P.Bootstrap, MDNS: c.P2P.MDNS}
			},
			func(c Config) memnet.Options { return memnet.Options{Bootstrap: c.P2P.Bootstrap} },
			func(c Config) executors.Config { return executors.Config{Workers: c.Workers} },
			func(c Config) jobs.Config {
				j := c.Jobs
				return jobs.Config{Price: uint64(j.Price), FuelPrice: uint64(j.FuelPrice), AssignTimeout: j.AssignTimeout,
					MaxMemoryMB: uint32(j.MaxMemoryMB), MaxTimeout: j.MaxTimeout}
			},
			func(c Config) wasm.Config { return wasm.Config{CacheDir: filepath.Join(c.DataDir, "wasm-cache")} },
			func(c Config) ledger.Params {
				l := c.Ledger
				return ledger.Params{RegenPerHour: uint64(l.RegenPerHour), Capacity: uint64(l.Capacity), Initial: uint64(l.Initial),
					OpCap: uint64(l.OpCap), ProposalCost: uint64(l.ProposalCost), VoteCost: uint64(l.VoteCost)}
			},
			func(c Config) peers.Config {
				return peers.Config{MaxBody: max(envelope.DefaultMaxBody, c.DAG.MaxBlockSize)}
			},
			func(c Config) dag.Config {
				return dag.Config{MaxBlockSize: c.DAG.MaxBlockSize, GCInterval: c.DAG.GCInterval, GCGrace: c.DAG.GCGrace,
					CacheBytes: int64(c.DAG.CacheMB) << 20}
			},
			supervisionDefaults,
			nodeTree,
			func(c clock.Clock) supervisors.Clock { return c },
			func(c Config) httpapi.Config {
				return httpapi.Config{APIAddr: c.APIAddr, AdminAddr: c.AdminAddr, DataDir: c.DataDir, Version: o.Version,
					MaxBlockSize: c.DAG.MaxBlockSize}
			},
			func(c Config, t *supervisors.Tree, id *identity.Identity, net network.Network, reg *prometheus.Registry, log *slog.Logger) (httpapi.Deps, error) {
				apiTok, err := httpapi.LoadOrCreateToken(filepath.Join(c.DataDir, httpapi.APITokenFile))
				if err != nil {
					return httpapi.Deps{}, err
				}
				adminTok, err := httpapi.LoadOrCreateToken(filepath.Join(c.DataDir, httpapi.AdminTokenFile))
				if err != nil {
					return httpapi.Deps{}, err
				}
				return httpapi.Deps{
					Tree: t, Gatherer: reg, Registerer: reg, Logger: log,
					APIToken: apiTok, AdminToken: adminTok,
					Node: nodeInfo(id, net, c.Profile, o.Version, startedAt),
				}, nil
			},
		),
		clock.Module, metrics.Module, wasm.Module,
		dag.Module, ledger.Module, peers.Module, jobs.Module, executors.Module, governance.Module,
		supervisors.Module, httpapi.Module,
		fx.Populate(&n.Tree, &n.Server, &n.Identity, &n.Network, &n.Store, &n.Registry, &n.WASM),
	}
	for _, c := range comps {
		opts = append(opts, c.Module)
	}
	opts = append(opts, o.Extra...)
	return n, opts, nil
}

func nodeInfo(id *identity.Identity, net network.Network, profile, version string, started time.Time) func() httpapi.NodeInfo {
	return func() httpapi.NodeInfo {
		info := httpapi.NodeInfo{DID: id.DID().String(), PeerID: net.ID().String(), Version: version, Profile: profile, StartedAt: started, Addrs: []string{}}
		for _, a := range net.Addrs() {
			info.Addrs = append(info.Addrs, a.String()+"/p2p/"+net.ID().String())
		}
		return info
	}
}

// KeyPassphrase returns the passphrase given by the caller, else the one in
// Config.KeyPassphraseFile, else nil (an unencrypted key).
func KeyPassphrase(cfg Config, given []byte) ([]byte, error) {
	if given != nil {
		return given, nil
	}
	if cfg.KeyPassphraseFile == "" {
		return nil, nil
	}
	b, err := os.ReadFile(cfg.KeyPassphraseFile)
	if err != nil {
		return nil, fmt.Errorf("wiring: key_passphrase_file: %w", err)
	}
	p := bytes.TrimRight(b, "\r\n")
	if len(p) == 0 {
		return nil, fmt.Errorf("wiring: key_passphrase_file %s is empty", cfg.KeyPassphraseFile)
	}
	return p, nil
}

// Components lists the service implementations this node runs.
func (n *Node) Components() []Component { return slices.Clone(n.components) }

// Describe names the components, e.g. "store=badger identity=keystore network=libp2p".
func (n *Node) Describe() string {
	var parts []string
	for _, c := range n.components {
		parts = append(parts, c.Role+"="+c.Impl)
	}
	return strings.Join(parts, " ")
}

// Start runs every start hook in dependency order: store, network, the
// supervision tree, then the HTTP listeners.
func (n *Node) Start(ctx context.Context) error { return n.app.Start(ctx) }

// Stop runs the stop hooks in reverse: /ready answers 503 and the listeners
// drain, the tree stops leaves first, the network closes, the store flushes
// and closes last.
func (n *Node) Stop(ctx context.Context) error { return n.app.Stop(ctx) }

// Done is closed when the process receives SIGINT or SIGTERM.
func (n *Node) Done() <-chan os.Signal { return n.app.Done() }
