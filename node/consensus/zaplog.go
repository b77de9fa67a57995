package consensus

import (
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"metropolis.dev/metropolis/osbase/logtree"
)

// newZapLogger sends etcd's structured logs into the log tree, so that an operator reads them
// with every other service's logs over the node API. Etcd's fields are kept as key=value after
// the message; its debug chatter is dropped.
func newZapLogger(l logtree.LeveledLogger) *zap.Logger {
	return zap.New(&zapToLogtree{out: l, level: zapcore.InfoLevel}, zap.AddCaller())
}

type zapToLogtree struct {
	out    logtree.LeveledLogger
	level  zapcore.Level
	fields []zapcore.Field
}

func (z *zapToLogtree) Enabled(l zapcore.Level) bool { return l >= z.level }

func (z *zapToLogtree) With(fields []zapcore.Field) zapcore.Core {
	merged := append(append([]zapcore.Field(nil), z.fields...), fields...)
	return &zapToLogtree{out: z.out, level: z.level, fields: merged}
}

func (z *zapToLogtree) Check(e zapcore.Entry, ce *zapcore.CheckedEntry) *zapcore.CheckedEntry {
	if z.Enabled(e.Level) {
		return ce.AddCore(e, z)
	}
	return ce
}

func (z *zapToLogtree) Write(e zapcore.Entry, fields []zapcore.Field) error {
	enc := zapcore.NewMapObjectEncoder()
	for _, f := range append(append([]zapcore.Field(nil), z.fields...), fields...) {
		f.AddTo(enc)
	}
	var b strings.Builder
	b.WriteString(e.Message)
	keys := make([]string, 0, len(enc.Fields))
	for k := range enc.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, " %s=%v", k, enc.Fields[k])
	}
	entry := logtree.ExternalEntry{Time: e.Time, Severity: severityOf(e.Level), Message: b.String()}
	if e.Caller.Defined {
		entry.File, entry.Line = filepath.Base(e.Caller.File), e.Caller.Line
	}
	z.out.LogExternal(entry)
	return nil
}

func (z *zapToLogtree) Sync() error { return nil }

func severityOf(l zapcore.Level) logtree.Severity {
	switch {
	case l >= zapcore.DPanicLevel:
		return logtree.FATAL
	case l >= zapcore.ErrorLevel:
		return logtree.ERROR
	case l >= zapcore.WarnLevel:
		return logtree.WARNING
	default:
		return logtree.INFO
	}
}
