package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
	"testing/slogtest"

	"github.com/intercooperative-network/icn-go/messages/correlation"
)

func TestCorrelationIDIsAddedFromContext(t *testing.T) {
	var buf bytes.Buffer
	log, err := New(&buf, slog.LevelInfo, "json")
	if err != nil {
		t.Fatal(err)
	}
	log.With("component", "x").InfoContext(correlation.With(context.Background(), "abc"), "hello", "k", 1)
	log.Info("no context id")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	var first, second map[string]any
	if err := json.Unmarshal([]byte(lines[0]), &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(lines[1]), &second); err != nil {
		t.Fatal(err)
	}
	if first[RequestIDKey] != "abc" || first["component"] != "x" {
		t.Fatalf("record with context: %v", first)
	}
	if _, ok := second[RequestIDKey]; ok {
		t.Fatalf("record without context got an id: %v", second)
	}
}

func TestHandlerConformsToSlog(t *testing.T) {
	var buf bytes.Buffer
	h := Correlated(slog.NewJSONHandler(&buf, nil))
	results := func() []map[string]any {
		var ms []map[string]any
		for _, line := range bytes.Split(buf.Bytes(), []byte{'\n'}) {
			if len(line) == 0 {
				continue
			}
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				t.Fatal(err)
			}
			ms = append(ms, m)
		}
		return ms
	}
	if err := slogtest.TestHandler(h, results); err != nil {
		t.Fatal(err)
	}
}

func TestParseLevelAndFormat(t *testing.T) {
	for in, want := range map[string]slog.Level{"debug": slog.LevelDebug, "INFO": slog.LevelInfo, "warn": slog.LevelWarn, "error": slog.LevelError} {
		if got, err := ParseLevel(in); err != nil || got != want {
			t.Errorf("ParseLevel(%q) = %v, %v", in, got, err)
		}
	}
	if _, err := ParseLevel("loud"); err == nil {
		t.Error("bad level accepted")
	}
	if _, err := New(&bytes.Buffer{}, slog.LevelInfo, "xml"); err == nil {
		t.Error("bad format accepted")
	}
}
