package httpapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/intercooperative-network/icn-go/supervisors"
)

// Tree is what the HTTP layer needs of the supervision tree.
type Tree interface {
	Snapshot() supervisors.Node
	Actor(nameOrPath string) (supervisors.Node, error)
	Request(ctx context.Context, name string, msg any) (any, error)
	Ping(ctx context.Context, name string) error
	Kill(ctx context.Context, path string, mode supervisors.KillMode) error
	Watch(ctx context.Context, buffer int) (<-chan supervisors.Event, func() uint64)
}

// NodeInfo describes the node (GET /api/v1/node).
type NodeInfo struct {
	DID       string    `json:"did"`
	PeerID    string    `json:"peer_id"`
	Addrs     []string  `json:"addrs"`
	Version   string    `json:"version"`
	Profile   string    `json:"profile"`
	StartedAt time.Time `json:"started_at"`
}

// Config is where the listeners go and where their files live.
type Config struct {
	APIAddr   string // host:port; port 0 picks a free one
	AdminAddr string
	// DataDir receives api.addr and admin.addr (the bound addresses, for
	// icnctl and scripts) while the server runs.
	DataDir string
	Version string
	// PingTimeout bounds each subsystem's liveness probe in /health.
	PingTimeout time.Duration
	// CallTimeout bounds a request from a handler into an actor.
	CallTimeout time.Duration
	// MaxBlockSize is the dag's block size limit (request body limits).
	MaxBlockSize int
}

// Deps are the server's collaborators.
type Deps struct {
	Tree       Tree
	Node       func() NodeInfo
	Gatherer   prometheus.Gatherer
	Registerer prometheus.Registerer
	Logger     *slog.Logger
	APIToken   []byte
	AdminToken []byte
}

// Server runs the public API listener and the admin listener.
type Server struct {
	cfg    Config
	deps   Deps
	log    *slog.Logger
	public *API
	admin  *API

	draining atomic.Bool // set first on shutdown: /ready answers 503
	started  atomic.Bool
	inflight atomic.Int64 // requests being served, both listeners

	mu      sync.Mutex
	servers []*http.Server
	addrs   map[string]string // listener -> bound address
	wg      sync.WaitGroup

	// streams ends long-lived answers (event streams) at shutdown; ordinary
	// requests in flight are left to finish within the stop budget.
	streams    context.Context
	endStreams context.CancelFunc

	// jsonSlots bounds JSON conversions of nodes in flight: a decoded node
	// takes many times its encoded size.
	jsonSlots chan struct{}
}

// AddrFile names the file under the data dir that holds a listener's bound address.
func AddrFile(dataDir, listener string) string { return filepath.Join(dataDir, listener+".addr") }

// New builds both route tables; nothing listens until Start.
func New(cfg Config, deps Deps) (*Server, error) {
	if deps.Tree == nil || deps.Node == nil || deps.Gatherer == nil || deps.Registerer == nil || deps.Logger == nil {
		return nil, errors.New("httpapi: missing dependency")
	}
	if len(deps.APIToken) == 0 || len(deps.AdminToken) == 0 {
		return nil, errors.New("httpapi: both tokens are required")
	}
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = 250 * time.Millisecond
	}
	if cfg.CallTimeout <= 0 {
		cfg.CallTimeout = 5 * time.Second
	}
	if cfg.MaxBlockSize <= 0 {
		cfg.MaxBlockSize = 4 << 20
	}
	m, err := newHTTPMetrics(deps.Registerer)
	if err != nil {
		return nil, err
	}
	log := deps.Logger.With("component", "httpapi")
	s := &Server{cfg: cfg, deps: deps, log: log, addrs: map[string]string{}, jsonSlots: make(chan struct{}, max(2, runtime.GOMAXPROCS(0)))}
	s.streams, s.endStreams = context.WithCancel(context.Background())
	s.public = newAPI("api", "ICN node API", deps.APIToken, log, m, &s.inflight)
	s.admin = newAPI("admin", "ICN node admin API", deps.AdminToken, log, m, &s.inflight)
	if err := deps.Registerer.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "icn_http_requests_in_flight", Help: "HTTP requests being served, both listeners.",
	}, func() float64 { return float64(s.inflight.Load()) })); err != nil {
		return nil, err
	}
	s.publicRoutes()
	s.dagRoutes()
	s.ledgerRoutes()
	s.jobsRoutes()
	s.contractRoutes()
	s.peersRoutes()
	s.adminRoutes()
	s.faultRoutes()
	return s, nil
}

// Public and Admin expose the route tables (tests, documentation).
func (s *Server) Public() *API { return s.public }

// Admin is the admin listener's route table.
func (s *Server) Admin() *API { return s.admin }

// Start binds both listeners and serves them.
func (s *Server) Start(context.Context) error {
	for _, l := range []struct {
		name, addr string
		h          http.Handler
	}{{"api", s.cfg.APIAddr, s.public}, {"admin", s.cfg.AdminAddr, s.admin}} {
		ln, err := net.Listen("tcp", l.addr)
		if err != nil {
			s.closeAll()
			return fmt.Errorf("httpapi: listen %s on %s: %w", l.name, l.addr, err)
		}
		srv := &http.Server{
			Handler:           l.h,
			ReadHeaderTimeout: 5 * time.Second,
			IdleTimeout:       2 * time.Minute,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		}
		s.mu.Lock()
		s.servers = append(s.servers, srv)
		s.addrs[l.name] = ln.Addr().String()
		s.mu.Unlock()
		if s.cfg.DataDir != "" {
			if err := writeAddrFile(AddrFile(s.cfg.DataDir, l.name), ln.Addr().String()); err != nil {
				_ = ln.Close()
				s.closeAll()
				return err
			}
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("listener stopped", "listener", l.name, "err", err)
			}
		}()
		s.log.Info("listening", "listener", l.name, "addr", ln.Addr().String())
	}
	s.started.Store(true)
	return nil
}

// Addr returns the bound address of "api" or "admin" once started.
func (s *Server) Addr(listener string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addrs[listener]
}

// Drain makes /ready answer 503 so load balancers stop sending work; it is
// the first step of shutdown.
func (s *Server) Drain() { s.draining.Store(true) }

// Stop drains (/ready answers 503), ends event streams, stops accepting
// and waits for the requests in flight, all within ctx.
func (s *Server) Stop(ctx context.Context) error {
	s.Drain()
	s.mu.Lock()
	servers := append([]*http.Server(nil), s.servers...)
	s.mu.Unlock()
	s.endStreams()
	var errs []error
	for _, srv := range servers {
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, err)
			_ = srv.Close()
		}
	}
	s.wg.Wait()
	s.removeAddrFiles()
	return errors.Join(errs...)
}

func (s *Server) removeAddrFiles() {
	if s.cfg.DataDir != "" {
		for _, l := range []string{"api", "admin"} {
			_ = os.Remove(AddrFile(s.cfg.DataDir, l))
		}
	}
}

// closeAll undoes a Start that failed half-way.
func (s *Server) closeAll() {
	s.mu.Lock()
	for _, srv := range s.servers {
		_ = srv.Close()
	}
	s.mu.Unlock()
	s.endStreams()
	s.wg.Wait()
	s.removeAddrFiles()
}

func writeAddrFile(path, addr string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(addr+"\n"), 0o644); err != nil {
		return fmt.Errorf("httpapi: write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("httpapi: write %s: %w", path, err)
	}
	return nil
}
