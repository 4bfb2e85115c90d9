package badgerstore

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
)

// badgerLogger routes badger's logging to slog. Badger's Info is chatty
// (it reports every compaction and table flush), so Info and Debug become
// slog Debug; Warning becomes Warn and Error stays Error.
//
// Badger reports a failed value-log sync only by logging it (vlog.write);
// the logger counts those reports in syncFailures so that the store can
// refuse to acknowledge anything afterwards (see ErrSyncFailed).
type badgerLogger struct {
	l            *slog.Logger
	syncFailures *atomic.Uint64
}

var _ badger.Logger = badgerLogger{}

// valueLogSyncFailure is the start of the format badger logs a failed
// value-log sync with (value.go, valueLog.write, badger v4.9.6).
const valueLogSyncFailure = "Error while curlf sync"

func newBadgerLogger(l *slog.Logger, syncFailures *atomic.Uint64) badgerLogger {
	return badgerLogger{l: l.With("lib", "badger"), syncFailures: syncFailures}
}

func (b badgerLogger) Errorf(format string, args ...any) {
	if strings.HasPrefix(format, valueLogSyncFailure) && b.syncFailures != nil {
		b.syncFailures.Add(1)
	}
	b.log(slog.LevelError, format, args)
}

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
