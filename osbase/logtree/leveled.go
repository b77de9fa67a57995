package logtree

import (
	"fmt"
	"path/filepath"
	"runtime"
	"time"
)

// LeveledLogger writes leveled entries to one DN. The supervisor hands each
// runnable one bound to its own DN; code outside a runnable gets one from
// LogTree.LeveledFor. Every entry records the file and line of the call to
// Info (or Warning, ...), so wrappers must use WithAddedStackDepth.
type LeveledLogger interface {
	Info(args ...any)
	Infof(format string, args ...any)
	Warning(args ...any)
	Warningf(format string, args ...any)
	Error(args ...any)
	Errorf(format string, args ...any)
	// Fatal and Fatalf log at FATAL and then panic with the message. Inside a
	// runnable the supervisor turns that panic into a failure and restarts
	// it; elsewhere it ends the program, as glog's Fatal would.
	Fatal(args ...any)
	Fatalf(format string, args ...any)

	// V returns a logger that writes INFO entries only if the DN's verbosity
	// (see LogTree.SetVerbosity) is at least level, and does nothing
	// otherwise. V(0) is always enabled.
	V(level VerbosityLevel) VerboseLeveledLogger

	// WithAddedStackDepth returns a logger that attributes entries to a
	// caller depth frames further up, for helpers that wrap this logger.
	WithAddedStackDepth(depth int) LeveledLogger

	// LogExternal writes an entry that was produced elsewhere (a child
	// process's klog line, the kernel) with its own time, severity and
	// location instead of the caller's.
	LogExternal(e ExternalEntry)
}

// VerboseLeveledLogger is what V returns.
type VerboseLeveledLogger interface {
	// Enabled reports whether entries are written, so callers can skip
	// building an expensive message.
	Enabled() bool
	Info(args ...any)
	Infof(format string, args ...any)
}

// ExternalEntry is a leveled entry made outside this process. A zero Time is
// replaced by the time of logging, and an invalid Severity by INFO.
type ExternalEntry struct {
	Time     time.Time
	Severity Severity
	// File and Line locate the message in the source of whatever wrote it;
	// an empty File means unknown.
	File    string
	Line    int
	Message string
}

// LeveledFor returns a LeveledLogger for dn, or an error if dn is invalid.
func (t *LogTree) LeveledFor(dn DN) (LeveledLogger, error) {
	n, err := t.lookup(dn)
	if err != nil {
		return nil, fmt.Errorf("leveled logger: %w", err)
	}
	return newLeveledLogger(t, n, 0), nil
}

// MustLeveledFor is LeveledFor for DNs known to be valid, such as constants;
// it panics on an invalid DN.
func (t *LogTree) MustLeveledFor(dn DN) LeveledLogger {
	l, err := t.LeveledFor(dn)
	if err != nil {
		panic(err)
	}
	return l
}

type leveledLogger struct {
	tree  *LogTree
	node  *node
	depth int
	// vOn and vOff are what V returns, made once so that V never allocates.
	vOn, vOff verboseLogger
}

func newLeveledLogger(t *LogTree, n *node, depth int) *leveledLogger {
	l := &leveledLogger{tree: t, node: n, depth: depth}
	l.vOn = verboseLogger{parent: l, enabled: true}
	l.vOff = verboseLogger{parent: l}
	return l
}

// callerSkip is how many frames callerLocation skips to reach the user's
// call: callerLocation itself, log, and the exported method (Info, ...).
const callerSkip = 3

// log must be called directly from the exported method, never through
// another helper, or the recorded location would be off by a frame.
func (l *leveledLogger) log(sev Severity, msg string) {
	file, line := callerLocation(callerSkip + l.depth)
	l.tree.append(l.node, newLeveledEntry(l.node.dn, time.Now(), sev, file, line, msg))
}

// callerLocation is runtime.Caller without its allocations, which are most
// of the cost of logging an entry. skip 0 is callerLocation itself, 1 its
// caller, and so on. The user's frame is never inlined into ours
// (LeveledLogger is always called through an interface), so the return PC
// minus one is the call instruction, and the line tables resolve it
// correctly even where the caller's own callers were inlined.
func callerLocation(skip int) (string, int) {
	var pcs [1]uintptr
	if runtime.Callers(skip+1, pcs[:]) < 1 {
		return "", 0
	}
	pc := pcs[0] - 1
	fn := runtime.FuncForPC(pc)
	if fn == nil {
		return "", 0
	}
	file, line := fn.FileLine(pc)
	return filepath.Base(file), line
}

func (l *leveledLogger) Info(args ...any) { l.log(INFO, fmt.Sprint(args...)) }
func (l *leveledLogger) Infof(format string, args ...any) {
	l.log(INFO, fmt.Sprintf(format, args...))
}
func (l *leveledLogger) Warning(args ...any) { l.log(WARNING, fmt.Sprint(args...)) }
func (l *leveledLogger) Warningf(format string, args ...any) {
	l.log(WARNING, fmt.Sprintf(format, args...))
}
func (l *leveledLogger) Error(args ...any) { l.log(ERROR, fmt.Sprint(args...)) }
func (l *leveledLogger) Errorf(format string, args ...any) {
	l.log(ERROR, fmt.Sprintf(format, args...))
}

func (l *leveledLogger) Fatal(args ...any) {
	msg := fmt.Sprint(args...)
	l.log(FATAL, msg)
	panic("fatal: " + msg)
}

func (l *leveledLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	l.log(FATAL, msg)
	panic("fatal: " + msg)
}

func (l *leveledLogger) WithAddedStackDepth(depth int) LeveledLogger {
	return newLeveledLogger(l.tree, l.node, l.depth+depth)
}

func (l *leveledLogger) LogExternal(e ExternalEntry) {
	l.tree.appendExternal(l.node, e)
}

func (t *LogTree) appendExternal(n *node, e ExternalEntry) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if !e.Severity.Valid() {
		e.Severity = INFO
	}
	t.append(n, newLeveledEntry(n.dn, e.Time, e.Severity, e.File, e.Line, e.Message))
}
