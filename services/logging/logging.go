// Package logging builds the daemon's slog logger: JSON (or text) records
// that carry the correlation id of the context they were logged with, so one
// request can be followed through HTTP, actors and (later) other nodes.
//
// It must not hold a global logger: callers pass the *slog.Logger it returns
// down explicitly, narrowed with With("component", ...).
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/intercooperative-network/icn-go/messages/correlation"
)

// RequestIDKey is the attribute under which records carry the correlation id.
const RequestIDKey = "request_id"

// ParseLevel reads debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("logging: unknown level %q (want debug, info, warn or error)", s)
}

// New returns a logger writing format ("json" or "text") records at level
// and above to w.
func New(w io.Writer, level slog.Level, format string) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	switch format {
	case "json", "":
		h = slog.NewJSONHandler(w, opts)
	case "text":
		h = slog.NewTextHandler(w, opts)
	default:
		return nil, fmt.Errorf("logging: unknown format %q (want json or text)", format)
	}
	return slog.New(Correlated(h)), nil
}

// Correlated wraps h so that every record logged with a context carrying a
// correlation id gets it as the request_id attribute.
func Correlated(h slog.Handler) slog.Handler { return correlated{h} }

type correlated struct{ slog.Handler }

func (c correlated) Handle(ctx context.Context, r slog.Record) error {
	if id := correlation.From(ctx); id != "" {
		r.AddAttrs(slog.String(RequestIDKey, id))
	}
	return c.Handler.Handle(ctx, r)
}

func (c correlated) WithAttrs(as []slog.Attr) slog.Handler {
	return correlated{c.Handler.WithAttrs(as)}
}
func (c correlated) WithGroup(name string) slog.Handler { return correlated{c.Handler.WithGroup(name)} }
