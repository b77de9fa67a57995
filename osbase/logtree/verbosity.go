package logtree

import "fmt"

// VerbosityLevel gates V() logging, as in glog: V(n) logs only if the DN's
// level is n or higher. Levels are inherited down the tree, so raising
// "root.consensus" to 2 also raises "root.consensus.etcd" unless that DN has a
// level of its own.
type VerbosityLevel int32

// SetVerbosity sets dn's level, and that of every descendant that has no
// level of its own. The default everywhere is 0.
func (t *LogTree) SetVerbosity(dn DN, level VerbosityLevel) error {
	if err := dn.Validate(); err != nil {
		return fmt.Errorf("set verbosity: %w", err)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.explicitVerbosity[dn] = level
	var apply func(n *node, v VerbosityLevel)
	apply = func(n *node, v VerbosityLevel) {
		n.verbosity.Store(int32(v))
		for _, c := range n.children {
			if own, ok := t.explicitVerbosity[c.dn]; ok {
				apply(c, own)
			} else {
				apply(c, v)
			}
		}
	}
	apply(t.nodeFor(dn), level)
	return nil
}

func (l *leveledLogger) V(level VerbosityLevel) VerboseLeveledLogger {
	if VerbosityLevel(l.node.verbosity.Load()) >= level {
		return &l.vOn
	}
	return &l.vOff
}

type verboseLogger struct {
	parent  *leveledLogger
	enabled bool
}

func (v *verboseLogger) Enabled() bool { return v.enabled }

func (v *verboseLogger) Info(args ...any) {
	if v.enabled {
		v.parent.log(INFO, fmt.Sprint(args...))
	}
}

func (v *verboseLogger) Infof(format string, args ...any) {
	if v.enabled {
		v.parent.log(INFO, fmt.Sprintf(format, args...))
	}
}
