package badgerstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

// badgerLogger routes badger's logging to slog. Badger's Info is chatty
// (it reports every compaction and table flush), so Info and Debug become
// slog Debug; Warning becomes Warn and Error stays Error.
type badgerLogger struct{ l *slog.Logger }

var _ badger.Logger = badgerLogger{}

func newBadgerLogger(l *slog.Logger) badgerLogger {
	return badgerLogger{l: l.With("lib", "badger")}
}

func (b badgerLogger) Errorf(format string, args ...any) { b.log(slog.LevelError, format, args) }

func (b badgerLogger) Warningf(format string, args ...any) { b.log(slog.LevelWarn, format, args) }

func (b badgerLogger) Infof(format string, args ...any) { b.log(slog.LevelDebug, format, args) }

func (b badgerLogger) Debugf(format string, args ...any) { b.log(slog.LevelDebug, format, args) }

func (b badgerLogger) log(level slog.Level, format string, args []any) {
	ctx := context.Background()
	if !b.l.Enabled(ctx, level) {
		return // skip the Sprintf: badger logs a lot at Debug
	}
	b.l.Log(ctx, level, strings.TrimSpace(fmt.Sprintf(format, args...)))
}
