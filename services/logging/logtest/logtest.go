// Package logtest captures a component's log records, as the daemon writes
// them (JSON, correlation ids as request_id), for tests that check what is
// logged. It is for tests only: nothing in the daemon imports it.
package logtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"

	"github.com/intercooperative-network/icn-go/services/logging"
)

// Book collects JSON log records written from many goroutines.
type Book struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (b *Book) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// Logger writes records at level and above into b.
func (b *Book) Logger(level slog.Level) *slog.Logger {
	return slog.New(logging.Correlated(slog.NewJSONHandler(b, &slog.HandlerOptions{Level: level})))
}

// Records returns the records so far, in order, for which keep is true
// (every one when keep is nil).
func (b *Book) Records(keep func(map[string]any) bool) ([]map[string]any, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range bytes.Split(b.buf.Bytes(), []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		var r map[string]any
		if err := json.Unmarshal(line, &r); err != nil {
			return nil, fmt.Errorf("logtest: log line %q: %w", line, err)
		}
		if keep == nil || keep(r) {
			out = append(out, r)
		}
	}
	return out, nil
}
