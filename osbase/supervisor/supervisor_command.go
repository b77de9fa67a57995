package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"metropolis.dev/metropolis/osbase/logtree"
)

// DefaultGracePeriod is how long RunCommand waits after SIGTERM before it
// sends SIGKILL.
const DefaultGracePeriod = 5 * time.Second

// CommandOption configures RunCommand.
type CommandOption func(*commandConfig)

type commandConfig struct {
	parser logtree.LineParser
	grace  time.Duration
}

// WithLineParser turns output lines that p understands into leveled entries,
// for instance logtree.ParseKlog for Kubernetes components.
func WithLineParser(p logtree.LineParser) CommandOption {
	return func(c *commandConfig) { c.parser = p }
}

// WithGracePeriod sets how long a stopping process has between SIGTERM and
// SIGKILL (default DefaultGracePeriod).
func WithGracePeriod(d time.Duration) CommandOption {
	return func(c *commandConfig) { c.grace = d }
}

// RunCommand runs cmd as the body of the runnable owning ctx, and returns
// when the process exits: with an error carrying the exit status (exit code
// 0 included, since a runnable must not return while it should run), or
// with ctx's error if it was stopped. Its stdout and stderr become raw
// entries in the runnable's DN, line by line. It signals healthy once the
// process has started. cmd's Stdout and Stderr must be unset.
//
// The process gets a process group of its own (or a session, if cmd asks
// for one with Setsid). When ctx is cancelled the
// whole group gets SIGTERM, then SIGKILL after the grace period; and once
// the process itself has exited, whatever is left of its group is killed,
// so that grandchildren never outlive their runnable.
//
// Reaping: the process is reaped here, by cmd.Wait (wait on its own PID).
// When the node runs as PID 1, a zombie reaper will also wait for children:
// it must not reap PIDs started here, or cmd.Wait would fail with ECHILD and
// the exit status would be lost. Such a reaper should look with
// waitid(P_ALL, WEXITED|WNOWAIT) and only reap children it does not know,
// such as orphaned grandchildren that the kernel reparents to PID 1. This
// function itself only waits with WNOWAIT before cmd.Wait, so it cannot
// steal anything from such a reaper.
func RunCommand(ctx context.Context, cmd *exec.Cmd, opts ...CommandOption) error {
	cfg := commandConfig{grace: DefaultGracePeriod}
	for _, o := range opts {
		o(&cfg)
	}
	inst, err := instanceFrom(ctx)
	if err != nil {
		return fmt.Errorf("run command: %w", err)
	}
	name := filepath.Base(cmd.Path)
	if cmd.Stdout != nil || cmd.Stderr != nil {
		return fmt.Errorf("run command %s: cmd.Stdout and cmd.Stderr must be unset, output goes to the log tree", name)
	}
	var rawOpts []logtree.RawOption
	if cfg.parser != nil {
		rawOpts = append(rawOpts, logtree.WithLineParser(cfg.parser))
	}
	// One writer per stream, so that partial lines of stdout and stderr do
	// not mix.
	stdout, err := inst.s.lt.RawFor(inst.n.dn, rawOpts...)
	if err != nil {
		return fmt.Errorf("run command %s: %w", name, err)
	}
	defer stdout.Close()
	stderr, err := inst.s.lt.RawFor(inst.n.dn, rawOpts...)
	if err != nil {
		return fmt.Errorf("run command %s: %w", name, err)
	}
	defer stderr.Close()
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	// A new session also makes a new process group; asking for both would
	// fail in the child.
	if !cmd.SysProcAttr.Setsid {
		cmd.SysProcAttr.Setpgid = true
		cmd.SysProcAttr.Pgid = 0
	}
	// A grandchild that left our process group can hold the output pipes
	// open; don't let it keep Wait from returning.
	cmd.WaitDelay = cfg.grace

	log := inst.n.logger
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start %s: %w", name, err)
	}
	pid := cmd.Process.Pid
	log.Infof("started %s (pid %d)", cmd.String(), pid)
	Signal(ctx, SignalHealthy)

	exited := make(chan error, 1)
	go func() { exited <- waitExitedNoReap(pid) }()
	var waitErr error
	select {
	case waitErr = <-exited:
	case <-ctx.Done():
		waitErr = stopGroup(log, pid, cfg.grace, exited)
	}
	if waitErr == nil {
		// The process is a zombie until cmd.Wait, so its PID (and thus our
		// process group ID) cannot have been reused yet.
		_ = unix.Kill(-pid, unix.SIGKILL)
	} else {
		log.Warningf("waiting for pid %d: %v; not killing its process group, as its ID may be reused", pid, waitErr)
	}
	err = cmd.Wait()
	switch {
	case ctx.Err() != nil:
		log.Infof("%s (pid %d) stopped: %v", name, pid, err)
		return fmt.Errorf("%s stopped (%v): %w", name, err, ctx.Err())
	case err == nil:
		return fmt.Errorf("%s exited with status 0", name)
	default:
		return fmt.Errorf("%s: %w", name, err)
	}
}

// stopGroup sends SIGTERM to the process group led by pid, then SIGKILL if
// the leader is still there after grace. It returns once the leader exited.
func stopGroup(log logtree.LeveledLogger, pid int, grace time.Duration, exited <-chan error) error {
	log.Infof("stopping: sending SIGTERM to process group %d", pid)
	if err := unix.Kill(-pid, unix.SIGTERM); err != nil && !errors.Is(err, unix.ESRCH) {
		log.Warningf("SIGTERM to process group %d: %v", pid, err)
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case err := <-exited:
		return err
	case <-timer.C:
	}
	log.Warningf("process %d still running %v after SIGTERM: sending SIGKILL to its process group", pid, grace)
	if err := unix.Kill(-pid, unix.SIGKILL); err != nil && !errors.Is(err, unix.ESRCH) {
		log.Warningf("SIGKILL to process group %d: %v", pid, err)
	}
	return <-exited
}

// waitExitedNoReap blocks until pid has exited but leaves it a zombie
// (WNOWAIT), for cmd.Wait to reap.
func waitExitedNoReap(pid int) error {
	var info unix.Siginfo
	for {
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if !errors.Is(err, unix.EINTR) {
			return err
		}
	}
}
