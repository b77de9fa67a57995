package clusterbench

import (
	"fmt"
	"syscall"
)

// RaiseFileLimit makes sure this process may hold need open files: every simulated node keeps
// its own TLS connection. Go already raises the soft limit to the hard one at start; as root
// the hard limit can be raised too. Call it before launching a cluster: node processes
// started afterwards inherit the limit, and the leader needs it as much (it serves one
// connection per simulated node).
func RaiseFileLimit(need uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("read RLIMIT_NOFILE: %w", err)
	}
	if lim.Cur >= need {
		return nil
	}
	lim.Cur = need
	lim.Max = max(lim.Max, need)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise RLIMIT_NOFILE to %d (for one connection per simulated node): %w", need, err)
	}
	return nil
}

// FilesForLoad is how many open files the benchmark process needs for nodes simulated nodes
// enrolled by workers at a time: a connection each, one per enrolment under way, and slack
// for the rest of the process.
func FilesForLoad(nodes, workers int) uint64 { return uint64(nodes + workers + 1024) }
