package httpapi

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/intercooperative-network/icn-go/supervisors"
)

//go:embed admin.html
var adminPage []byte

// KillRequest is the body of POST /admin/actors/kill.
type KillRequest struct {
	Path string `json:"path"`
	Mode string `json:"mode"` // panic | stop | poison
}

// KillAccepted answers an accepted kill: the fault has been handed to the
// actor's supervisor; watch the tree to see it come back.
type KillAccepted struct {
	Path     string `json:"path"`
	Mode     string `json:"mode"`
	Accepted bool   `json:"accepted"`
}

// heartbeat keeps idle event streams (and proxies) alive.
const heartbeat = 15 * time.Second

func (s *Server) adminRoutes() {
	a := s.admin
	a.handle(Route{Method: "GET", Path: "/admin/{$}", Tag: "admin", Public: true,
		Summary:     "The live actor tree page",
		Description: "A static page holding no data: browsers cannot attach a bearer token to a navigation, so the page asks for the admin token (or reads it from the URL fragment #token=...) and calls the token-protected endpoints itself.",
		Produces:    "text/html", Handle: getAdminPage})
	a.handle(Route{Method: "GET", Path: "/admin/actors", Tag: "admin",
		Summary:  "The supervision tree, or the subtree at ?path=",
		Params:   []Param{{Name: "path", In: "query", Description: "an actor path (/icn/dag) or unique name; default the root"}},
		Response: supervisors.Node{}, Errors: []int{400, 404}, Handle: s.getActors})
	a.handle(Route{Method: "POST", Path: "/admin/actors/kill", Tag: "admin",
		Summary: "Fault injection: kill an actor (panic, stop or poison); its supervisor decides what happens next",
		Body:    KillRequest{}, BodyLimit: 4 << 10,
		Response: KillAccepted{}, Status: http.StatusAccepted,
		Errors: []int{400, 404, 409, 413, 415, 503, 504}, Handle: s.postKill})
	a.handle(Route{Method: "GET", Path: "/admin/events", Tag: "admin",
		Summary:     "Supervision events as Server-Sent Events (event: supervision, data: an Event)",
		Description: "Each event is one restart, failure, breaker transition, escalation or kill; a comment line is sent every 15 s while idle.",
		Produces:    "text/event-stream", Handle: s.getEvents})
	a.handle(Route{Method: "GET", Path: "/admin/openapi.json", Tag: "admin",
		Summary: "This document", Produces: "application/json", Handle: s.openAPIHandler(a)})
}

func getAdminPage(w http.ResponseWriter, r *http.Request) error {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'")
	w.Header().Set("X-Frame-Options", "DENY")
	_, _ = w.Write(adminPage)
	return nil
}

func (s *Server) getActors(w http.ResponseWriter, r *http.Request) error {
	p := r.URL.Query().Get("path")
	if p == "" {
		writeJSON(w, http.StatusOK, s.deps.Tree.Snapshot())
		return nil
	}
	n, err := s.deps.Tree.Actor(p)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, n)
	return nil
}

func (s *Server) postKill(w http.ResponseWriter, r *http.Request) error {
	req, mode, err := parseKill(r)
	if err != nil {
		return err
	}
	ctx, cancel := requestContext(r, s.cfg.CallTimeout)
	defer cancel()
	if err := s.deps.Tree.Kill(ctx, req.Path, mode); err != nil {
		return err
	}
	s.log.WarnContext(r.Context(), "fault injected", "actor", req.Path, "mode", mode.String())
	writeJSON(w, http.StatusAccepted, KillAccepted{Path: req.Path, Mode: mode.String(), Accepted: true})
	return nil
}

// parseKill reads and checks a kill request; it changes nothing.
func parseKill(r *http.Request) (KillRequest, supervisors.KillMode, error) {
	var req KillRequest
	if err := decodeJSON(r, &req); err != nil {
		return req, 0, err
	}
	if req.Path == "" {
		return req, 0, BadRequest(`missing "path" (an actor path such as /icn/dag)`)
	}
	if len(req.Path) > 1024 || req.Path[0] != '/' && len(req.Path) > 128 {
		return req, 0, BadRequest("path too long")
	}
	mode, err := supervisors.ParseKillMode(req.Mode)
	if err != nil {
		return req, 0, err
	}
	return req, mode, nil
}

func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) error {
	rc := http.NewResponseController(w)
	events, dropped := s.deps.Tree.Watch(r.Context(), 1024)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	if _, err := fmt.Fprint(w, ": icn supervision events\n\n"); err != nil {
		return err
	}
	if err := rc.Flush(); err != nil {
		return err
	}
	tick := time.NewTicker(heartbeat)
	defer tick.Stop()
	var lastDropped uint64
	for {
		select {
		case <-s.streams.Done():
			return nil // shutting down
		case ev, ok := <-events:
			if !ok {
				return nil // client gone or node stopping
			}
			b, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			if d := dropped(); d != lastDropped {
				lastDropped = d
				if _, err := fmt.Fprintf(w, "event: dropped\ndata: {\"dropped\":%d}\n\n", d); err != nil {
					return err
				}
			}
			if _, err := fmt.Fprintf(w, "event: supervision\ndata: %s\n\n", b); err != nil {
				return err
			}
		case <-tick.C:
			if _, err := fmt.Fprint(w, ": keepalive\n\n"); err != nil {
				return err
			}
		}
		if err := rc.Flush(); err != nil {
			return err
		}
	}
}
