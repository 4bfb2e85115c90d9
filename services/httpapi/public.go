package httpapi

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/intercooperative-network/icn-go/messages"
	"github.com/intercooperative-network/icn-go/supervisors"
)

// Health is GET /health: the node answers 200 whenever it can answer at all;
// status says whether every subsystem is serving.
type Health struct {
	Status     string                     `json:"status"` // ok | degraded
	Subsystems map[string]SubsystemHealth `json:"subsystems"`
}

// SubsystemHealth is one subsystem's state as seen from outside.
type SubsystemHealth struct {
	// State is running, restarting, stopped, or unresponsive (running, but
	// it did not answer a ping in time).
	State   string `json:"state"`
	Breaker string `json:"breaker"`
	Serving bool   `json:"serving"`
	Error   string `json:"error,omitempty"`
}

// Readiness is GET /ready.
type Readiness struct {
	Ready   bool     `json:"ready"`
	Reasons []string `json:"reasons"`
}

// SubsystemsReply is GET /api/v1/subsystems.
type SubsystemsReply struct {
	Subsystems []SubsystemEntry `json:"subsystems"`
}

// SubsystemEntry is one subsystem's own status, or why it could not give it.
type SubsystemEntry struct {
	Name   string                    `json:"name"`
	Path   string                    `json:"path"`
	Status *messages.SubsystemStatus `json:"status,omitempty"`
	Error  *ErrorBody                `json:"error,omitempty"`
}

func (s *Server) publicRoutes() {
	a := s.public
	a.handle(Route{Method: "GET", Path: "/health", Tag: "node", Public: true,
		Summary:     "Liveness and the state of every subsystem",
		Description: "Always 200 while the process answers; status is degraded when a subsystem is not serving (breaker open, restarting, stopped or not answering its ping).",
		Response:    Health{}, Handle: s.getHealth})
	a.handle(Route{Method: "GET", Path: "/ready", Tag: "node", Public: true,
		Summary:  "Readiness: 200 when every subsystem serves, 503 otherwise (and while shutting down)",
		Response: Readiness{}, Alt: map[int]any{http.StatusServiceUnavailable: Readiness{}}, Handle: s.getReady})
	a.handle(Route{Method: "GET", Path: "/metrics", Tag: "node", Public: true,
		Summary: "Prometheus metrics of this node", Produces: "text/plain", Handle: s.getMetrics()})
	a.handle(Route{Method: "GET", Path: "/api/v1/node", Tag: "node",
		Summary: "Who this node is", Response: NodeInfo{}, Handle: s.getNode})
	a.handle(Route{Method: "GET", Path: "/api/v1/subsystems", Tag: "node",
		Summary:  "Each subsystem's own status (asked through its mailbox)",
		Response: SubsystemsReply{}, Handle: s.getSubsystems})
	a.handle(Route{Method: "GET", Path: "/api/v1/subsystems/{name}", Tag: "node",
		Summary:  "One subsystem's own status; 503 with Retry-After when its breaker is open",
		Response: messages.SubsystemStatus{}, Errors: []int{404, 500, 503, 504}, Handle: s.getSubsystem})
	a.handle(Route{Method: "GET", Path: "/api/v1/openapi.json", Tag: "node",
		Summary: "This document", Produces: "application/json", Handle: s.openAPIHandler(a)})
}

// subsystems lists the root's children: the node's subsystems.
func (s *Server) subsystems() []supervisors.Node {
	return s.deps.Tree.Snapshot().Children
}

func (s *Server) health(r *http.Request) Health {
	subs := s.subsystems()
	h := Health{Status: "ok", Subsystems: make(map[string]SubsystemHealth, len(subs))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, n := range subs {
		wg.Go(func() {
			sh := SubsystemHealth{State: n.Status, Breaker: n.Breaker}
			if n.Status == supervisors.Running.String() {
				ctx, cancel := requestContext(r, s.cfg.PingTimeout)
				err := s.deps.Tree.Ping(ctx, n.Path)
				cancel()
				if err != nil {
					sh.Error = err.Error()
					if n.Breaker == supervisors.Closed.String() {
						sh.State = "unresponsive"
					}
				} else {
					sh.Serving = true
				}
			}
			mu.Lock()
			h.Subsystems[n.Name] = sh
			if !sh.Serving {
				h.Status = "degraded"
			}
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(subs) == 0 {
		h.Status = "degraded"
	}
	return h
}

func (s *Server) getHealth(w http.ResponseWriter, r *http.Request) error {
	writeJSON(w, http.StatusOK, s.health(r))
	return nil
}

func (s *Server) getReady(w http.ResponseWriter, r *http.Request) error {
	rd := Readiness{Ready: true, Reasons: []string{}}
	switch {
	case s.draining.Load():
		rd.Reasons = append(rd.Reasons, "shutting down")
	case !s.started.Load():
		rd.Reasons = append(rd.Reasons, "starting")
	default:
		h := s.health(r)
		subs := s.subsystems()
		reasons := make([]string, len(subs))
		var wg sync.WaitGroup
		for i, n := range subs {
			sh := h.Subsystems[n.Name]
			if !sh.Serving {
				reasons[i] = fmt.Sprintf("%s is %s (breaker %s)", n.Name, sh.State, sh.Breaker)
				continue
			}
			// Serving is not ready: a subsystem may be up and still
			// loading its state (the ledger its accounts), refusing work.
			wg.Go(func() {
				ctx, cancel := requestContext(r, s.cfg.PingTimeout)
				defer cancel()
				res, err := s.deps.Tree.Request(ctx, n.Path, &messages.StatusRequest{})
				st, ok := res.(*messages.SubsystemStatus)
				switch {
				case errors.Is(err, supervisors.ErrUnhandled):
					// A subsystem without a status of its own (a
					// supervisor of workers): serving is ready.
				case err != nil:
					reasons[i] = fmt.Sprintf("%s did not report its status: %v", n.Name, err)
				case ok && !st.Ready:
					reasons[i] = fmt.Sprintf("%s is not ready (%s)", n.Name, cmp.Or(st.Details["state"], "no state given"))
				}
			})
		}
		wg.Wait()
		for _, why := range reasons {
			if why != "" {
				rd.Reasons = append(rd.Reasons, why)
			}
		}
	}
	status := http.StatusOK
	if len(rd.Reasons) > 0 {
		rd.Ready = false
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, rd)
	return nil
}

func (s *Server) getMetrics() func(http.ResponseWriter, *http.Request) error {
	h := promhttp.HandlerFor(s.deps.Gatherer, promhttp.HandlerOpts{
		ErrorLog: errorLogger{s.log}, ErrorHandling: promhttp.ContinueOnError,
	})
	return func(w http.ResponseWriter, r *http.Request) error {
		h.ServeHTTP(w, r)
		return nil
	}
}

type errorLogger struct {
	log interface{ Error(string, ...any) }
}

func (l errorLogger) Println(v ...any) { l.log.Error("metrics", "err", fmt.Sprint(v...)) }

func (s *Server) getNode(w http.ResponseWriter, r *http.Request) error {
	info := s.deps.Node()
	if info.Addrs == nil {
		info.Addrs = []string{}
	}
	writeJSON(w, http.StatusOK, info)
	return nil
}

func (s *Server) askStatus(r *http.Request, path string) (*messages.SubsystemStatus, error) {
	ctx, cancel := requestContext(r, s.cfg.CallTimeout)
	defer cancel()
	res, err := s.deps.Tree.Request(ctx, path, &messages.StatusRequest{})
	if err != nil {
		return nil, err
	}
	st, ok := res.(*messages.SubsystemStatus)
	if !ok {
		return nil, fmt.Errorf("httpapi: %s answered %T to a status request", path, res)
	}
	return st, nil
}

func (s *Server) getSubsystems(w http.ResponseWriter, r *http.Request) error {
	reply := SubsystemsReply{Subsystems: []SubsystemEntry{}}
	for _, n := range s.subsystems() {
		e := SubsystemEntry{Name: n.Name, Path: n.Path}
		if st, err := s.askStatus(r, n.Path); err != nil {
			se := statusOf(err)
			e.Error = &ErrorBody{Error: se.Error(), Code: se.Code, Details: se.Details}
		} else {
			e.Status = st
		}
		reply.Subsystems = append(reply.Subsystems, e)
	}
	writeJSON(w, http.StatusOK, reply)
	return nil
}

func (s *Server) getSubsystem(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	for _, n := range s.subsystems() {
		if n.Name == name {
			st, err := s.askStatus(r, n.Path)
			if err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, st)
			return nil
		}
	}
	return &Error{Status: http.StatusNotFound, Code: CodeNotFound, Message: fmt.Sprintf("no subsystem %q", name)}
}

func (s *Server) openAPIHandler(a *API) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		doc, err := json.MarshalIndent(a.OpenAPI(s.cfg.Version), "", "  ")
		if err != nil {
			return err
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(doc)
		return nil
	}
}
