package logtree

import (
	"log"
	"path/filepath"
	"runtime"
	"strings"
)

// NewStdLogger returns a *log.Logger whose every message becomes one entry
// of sev in l, attributed to the code that called the log.Logger. It is for
// libraries that accept a *log.Logger (or write to log's default logger).
func NewStdLogger(l LeveledLogger, sev Severity) *log.Logger {
	return log.New(&stdLogWriter{l: l, sev: sev}, "", 0)
}

type stdLogWriter struct {
	l   LeveledLogger
	sev Severity
}

func (w *stdLogWriter) Write(p []byte) (int, error) {
	file, line := callerOutsideLog()
	w.l.LogExternal(ExternalEntry{Severity: w.sev, File: file, Line: line, Message: string(p)})
	return len(p), nil
}

// callerOutsideLog finds the first frame outside package log and this
// package: log.Logger has several entry points with different depths, so a
// fixed skip count would be wrong for some of them.
func callerOutsideLog() (string, int) {
	var pcs [16]uintptr
	n := runtime.Callers(2, pcs[:])
	frames := runtime.CallersFrames(pcs[:n])
	for {
		f, more := frames.Next()
		fn := f.Function
		if !strings.HasPrefix(fn, "log.") && !strings.HasPrefix(fn, "metropolis.dev/metropolis/osbase/logtree.") {
			return filepath.Base(f.File), f.Line
		}
		if !more {
			return "", 0
		}
	}
}
