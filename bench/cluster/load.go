package clusterbench

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
)

// LoadOptions say how to load the curator with simulated nodes.
type LoadOptions struct {
	// Steps are the numbers of simulated nodes to measure at, ascending. Nodes are added
	// from one step to the next; those of earlier steps keep beating.
	Steps []int
	// Interval is how often each simulated node beats (curator.HeartbeatInterval for real
	// nodes).
	Interval time.Duration
	// Window is how long each step is measured, after every node of the step has beaten once.
	Window time.Duration
	// P99Goal ends the run after the first step whose p99 round trip exceeds it.
	P99Goal time.Duration
	// EnrolWorkers is how many simulated nodes are enrolled at the same time.
	EnrolWorkers int
	// Log receives a line per step and per enrolment milestone; nil discards them.
	Log io.Writer
}

// LoadStep is what one step of the curator load measured.
type LoadStep struct {
	// Nodes is how many simulated nodes were beating.
	Nodes int
	// Heartbeats summarizes the round trips of the window.
	Heartbeats Summary
	// Failures counts simulated nodes whose heartbeat stream failed in the window.
	Failures int
	// Window is the measured wall time.
	Window time.Duration
	// EnrolRate is how many nodes per second were enrolled on the way to this step (register,
	// approve, commit).
	EnrolRate float64
	// Leader is the curator leader's process during the window: its CPU (percent of one core)
	// and its resident memory at the end.
	LeaderCPU float64
	LeaderRSS int64
	// BenchCPU and BenchRSS are this process's CPU during the window and its resident memory
	// at the end: the simulated nodes' side of the same connections.
	BenchCPU float64
	BenchRSS int64
	// HostBusy is the share of all cores that was busy during the window, by anyone: the
	// cluster, the benchmark, and whatever else ran on the machine.
	HostBusy float64
}

// RunCuratorLoad enrols simulated nodes step by step and measures their heartbeat round trips
// to the curator leader; see the package documentation. It returns the steps measured so far
// also when it fails.
func RunCuratorLoad(ctx context.Context, c *Cluster, o LoadOptions) ([]LoadStep, error) {
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	if len(o.Steps) == 0 {
		return nil, fmt.Errorf("curator load: no steps")
	}
	if err := RaiseFileLimit(FilesForLoad(o.Steps[len(o.Steps)-1], o.EnrolWorkers)); err != nil {
		return nil, err
	}
	leader, err := c.Leader(ctx)
	if err != nil {
		return nil, err
	}
	leaderPID, err := c.NodePID(leader.Index)
	if err != nil {
		return nil, err
	}
	ticketCtx, cancel := context.WithTimeout(ctx, callTimeout)
	ticket, err := c.Management.GetRegisterTicket(ticketCtx, &apb.GetRegisterTicketRequest{})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("get register ticket: %w", err)
	}
	fmt.Fprintf(log, "curator leader is node %d (%s, pid %d)\n", leader.Index, leader.NodeID, leaderPID)

	l := &loadRun{
		enroller: enroller{leader: leader, ca: c.CA(), ticket: ticket.Ticket, mgmt: c.Management},
		opts:     o,
		log:      log,
	}
	beatCtx, stopBeating := context.WithCancel(ctx)
	defer func() {
		stopBeating()
		l.beating.Wait()
	}()

	var steps []LoadStep
	for _, n := range o.Steps {
		step, err := l.step(ctx, beatCtx, n, leaderPID)
		if err != nil {
			return steps, fmt.Errorf("curator load at %d nodes: %w", n, err)
		}
		steps = append(steps, step)
		fmt.Fprintf(log, "%d nodes: heartbeats %s, %d failed; leader CPU %.0f%% RSS %d MiB; benchmark CPU %.0f%%; host busy %.0f%%\n",
			n, step.Heartbeats, step.Failures, step.LeaderCPU, step.LeaderRSS>>20, step.BenchCPU, step.HostBusy)
		if step.Heartbeats.P99 > o.P99Goal {
			fmt.Fprintf(log, "p99 %s exceeds the goal of %s: stopping\n", ms(step.Heartbeats.P99), ms(o.P99Goal))
			break
		}
	}
	return steps, nil
}

// loadRun is the state of one RunCuratorLoad: the nodes enrolled so far and their heartbeats.
type loadRun struct {
	enroller
	opts LoadOptions
	log  io.Writer

	rec      Recorder
	nodes    int
	started  atomic.Int64
	failures atomic.Int64
	beating  sync.WaitGroup
}

// step enrols nodes until there are n, waits for each to have beaten once, and measures one
// window.
func (l *loadRun) step(ctx, beatCtx context.Context, n, leaderPID int) (LoadStep, error) {
	enrolStart := time.Now()
	added := n - l.nodes
	if err := l.enrolAndBeat(ctx, beatCtx, added); err != nil {
		return LoadStep{}, err
	}
	enrolRate := float64(added) / time.Since(enrolStart).Seconds()
	fmt.Fprintf(l.log, "%d nodes enrolled (%.0f per second); waiting for each to beat once\n", n, enrolRate)
	if err := l.waitStarted(ctx, n); err != nil {
		return LoadStep{}, err
	}

	l.rec.Take() // start the window
	failuresBefore := l.failures.Load()
	leaderBefore, err := ReadProcessUsage(leaderPID)
	if err != nil {
		return LoadStep{}, err
	}
	benchBefore, err := ReadProcessUsage(os.Getpid())
	if err != nil {
		return LoadStep{}, err
	}
	hostBefore, err := ReadHostCPU()
	if err != nil {
		return LoadStep{}, err
	}
	windowStart := time.Now()
	select {
	case <-ctx.Done():
		return LoadStep{}, ctx.Err()
	case <-time.After(l.opts.Window):
	}
	samples := l.rec.Take()
	window := time.Since(windowStart)
	leaderAfter, err := ReadProcessUsage(leaderPID)
	if err != nil {
		return LoadStep{}, err
	}
	benchAfter, err := ReadProcessUsage(os.Getpid())
	if err != nil {
		return LoadStep{}, err
	}
	hostAfter, err := ReadHostCPU()
	if err != nil {
		return LoadStep{}, err
	}
	return LoadStep{
		Nodes:      n,
		Heartbeats: Summarize(samples),
		Failures:   int(l.failures.Load() - failuresBefore),
		Window:     window,
		EnrolRate:  enrolRate,
		LeaderCPU:  CPUPercent(leaderBefore, leaderAfter, window),
		LeaderRSS:  leaderAfter.RSS,
		BenchCPU:   CPUPercent(benchBefore, benchAfter, window),
		BenchRSS:   benchAfter.RSS,
		HostBusy:   HostBusyPercent(hostBefore, hostAfter),
	}, nil
}

// enrolAndBeat enrols count more simulated nodes with EnrolWorkers at a time and starts each
// one's heartbeats, at a random phase within the interval, as a fleet that did not boot all
// at once.
func (l *loadRun) enrolAndBeat(ctx, beatCtx context.Context, count int) error {
	work := make(chan struct{})
	errs := make(chan error, l.opts.EnrolWorkers)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var workers sync.WaitGroup
	for range l.opts.EnrolWorkers {
		workers.Go(func() {
			for range work {
				node, err := l.enrol(ctx)
				if err != nil {
					errs <- err
					cancel()
					return
				}
				phase := rand.N(l.opts.Interval)
				l.beating.Go(func() {
					if err := node.heartbeat(beatCtx, l.leader, l.ca, l.opts.Interval, phase, &l.rec, func() { l.started.Add(1) }); err != nil {
						l.failures.Add(1)
						fmt.Fprintln(l.log, err)
					}
				})
			}
		})
	}
	sent := 0
feed:
	for ; sent < count; sent++ {
		select {
		case work <- struct{}{}:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	workers.Wait()
	l.nodes += sent
	select {
	case err := <-errs:
		return err
	default:
		return ctx.Err()
	}
}

// waitStarted waits until n simulated nodes have beaten once (or failed), for at most an
// interval and a minute: a node beats within one interval of its enrolment.
func (l *loadRun) waitStarted(ctx context.Context, n int) error {
	deadline := time.Now().Add(l.opts.Interval + time.Minute)
	for l.started.Load() < int64(n) {
		if time.Now().After(deadline) {
			return fmt.Errorf("only %d of %d simulated nodes have beaten once after waiting until %s", l.started.Load(), n, deadline.Format(time.TimeOnly))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}
