package supervisor

import (
	"context"
	"errors"
	"fmt"
	"io"

	"metropolis.dev/metropolis/osbase/logtree"
)

// errNotRunnableContext explains the most likely mistake behind a context
// without an instance: using context.Background() or a context from outside
// the supervisor.
var errNotRunnableContext = errors.New("context does not belong to a supervised runnable (it must be the ctx passed to a Runnable, or derived from it)")

func instanceFrom(ctx context.Context) (*instance, error) {
	inst, ok := ctx.Value(ctxKey{}).(*instance)
	if !ok {
		return nil, errNotRunnableContext
	}
	return inst, nil
}

func mustInstance(ctx context.Context, what string) *instance {
	inst, err := instanceFrom(ctx)
	if err != nil {
		panic(fmt.Sprintf("supervisor.%s: %v", what, err))
	}
	return inst
}

// DN returns the distinguished name of the runnable owning ctx, such as
// "root.consensus.etcd". It panics if ctx is not a runnable's context.
func DN(ctx context.Context) logtree.DN {
	return mustInstance(ctx, "DN").n.dn
}

// Logger returns the leveled logger of the runnable owning ctx, writing to
// its DN. It panics if ctx is not a runnable's context.
func Logger(ctx context.Context) logtree.LeveledLogger {
	return mustInstance(ctx, "Logger").n.logger
}

// RawLogger returns a writer whose lines become raw entries in the
// runnable's DN. All instances of the runnable share one writer, so partial
// lines written concurrently interleave. It panics if ctx is not a
// runnable's context.
func RawLogger(ctx context.Context) io.Writer {
	inst := mustInstance(ctx, "RawLogger")
	inst.s.mu.Lock()
	defer inst.s.mu.Unlock()
	n := inst.n
	if n.raw == nil {
		// The DN was validated when the node was made.
		w, err := inst.s.lt.RawFor(n.dn)
		if err != nil {
			panic(fmt.Sprintf("supervisor.RawLogger: %v", err))
		}
		n.raw = w
	}
	return n.raw
}

// Of returns the supervisor running the runnable that owns ctx: how a runnable reaches its
// tree (to report every runnable's state, say) without being handed it after construction. It
// panics if ctx is not a runnable's context.
func Of(ctx context.Context) *Supervisor {
	return mustInstance(ctx, "Of").s
}
