package logtree

import (
	"context"
	"log/slog"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
)

// NewSlogHandler returns a slog.Handler that writes into l, so libraries that
// log through log/slog land in the DN of the runnable using them. Levels map
// to ERROR (slog.LevelError and up), WARNING (slog.LevelWarn and up) and INFO;
// records below slog.LevelInfo are written only if l.V(1) is enabled.
// Attributes follow the message as key=value pairs.
func NewSlogHandler(l LeveledLogger) slog.Handler {
	return &slogHandler{l: l}
}

type slogHandler struct {
	l LeveledLogger
	// attrs are those added by WithAttrs, already formatted.
	attrs string
	// group is the key prefix from WithGroup, ending in '.'.
	group string
}

func (h *slogHandler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= slog.LevelInfo || h.l.V(1).Enabled()
}

func (h *slogHandler) Handle(_ context.Context, r slog.Record) error {
	var b strings.Builder
	b.WriteString(r.Message)
	b.WriteString(h.attrs)
	r.Attrs(func(a slog.Attr) bool {
		appendSlogAttr(&b, h.group, a)
		return true
	})
	sev := INFO
	switch {
	case r.Level >= slog.LevelError:
		sev = ERROR
	case r.Level >= slog.LevelWarn:
		sev = WARNING
	}
	e := ExternalEntry{Time: r.Time, Severity: sev, Message: b.String()}
	if r.PC != 0 {
		f, _ := runtime.CallersFrames([]uintptr{r.PC}).Next()
		e.File, e.Line = filepath.Base(f.File), f.Line
	}
	h.l.LogExternal(e)
	return nil
}

func (h *slogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	var b strings.Builder
	b.WriteString(h.attrs)
	for _, a := range attrs {
		appendSlogAttr(&b, h.group, a)
	}
	return &slogHandler{l: h.l, attrs: b.String(), group: h.group}
}

func (h *slogHandler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	return &slogHandler{l: h.l, attrs: h.attrs, group: h.group + name + "."}
}

func appendSlogAttr(b *strings.Builder, prefix string, a slog.Attr) {
	a.Value = a.Value.Resolve()
	if a.Equal(slog.Attr{}) {
		return
	}
	if a.Value.Kind() == slog.KindGroup {
		if a.Key != "" {
			prefix += a.Key + "."
		}
		for _, ga := range a.Value.Group() {
			appendSlogAttr(b, prefix, ga)
		}
		return
	}
	v := a.Value.String()
	if v == "" || strings.ContainsAny(v, " \t\n\"=") {
		v = strconv.Quote(v)
	}
	b.WriteString(" ")
	b.WriteString(prefix)
	b.WriteString(a.Key)
	b.WriteString("=")
	b.WriteString(v)
}
