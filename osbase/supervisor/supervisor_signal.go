package supervisor

import (
	"context"
	"time"
)

// SignalType is what a runnable tells its supervisor about itself.
type SignalType int

const (
	// SignalHealthy says the runnable has finished starting up and is doing
	// its job. It shows in States, and a runnable that stays healthy for
	// Backoff.ResetAfter has its restart backoff reset when it next fails.
	SignalHealthy SignalType = iota + 1
	// SignalDone says the runnable's work is complete: if it then returns
	// nil, it is not restarted. Children it started keep running.
	SignalDone
)

func (s SignalType) String() string {
	switch s {
	case SignalHealthy:
		return "healthy"
	case SignalDone:
		return "done"
	}
	return "unknown signal"
}

// Signal reports sig for the runnable owning ctx. Signals from an instance
// that has since been replaced are ignored. It panics if ctx is not a
// runnable's context, or sig is not a SignalType constant.
func Signal(ctx context.Context, sig SignalType) {
	inst := mustInstance(ctx, "Signal")
	s := inst.s
	s.mu.Lock()
	defer s.mu.Unlock()
	n := inst.n
	if n.gen != inst.gen || !n.running {
		return
	}
	switch sig {
	case SignalHealthy:
		if !n.healthy {
			n.healthy = true
			n.healthySince = time.Now()
		}
	case SignalDone:
		n.doneSignaled = true
	default:
		panic("supervisor.Signal: unknown signal " + sig.String())
	}
}
