// Command pause is PID 1 of every Kubernetes pod sandbox on a Metropolis node: it holds the
// pod's namespaces open, reaps the zombies of processes that were reparented to it, and
// exits 0 when asked to stop (SIGINT or SIGTERM).
//
// It is ours, not registry.k8s.io/pause, because nodes pull from no registry: the sandbox
// image is this static binary (CGO_ENABLED=0), made into an OCI archive at build time
// (osbase/ociimage) and imported into containerd when the node starts.
//
// It prints one line when it is ready, so that its tests (and a person) know the signal
// handlers are in place.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 32)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGCHLD)
	fmt.Fprintln(os.Stderr, "pause: waiting for a signal")
	for sig := range signals {
		if sig == syscall.SIGCHLD {
			reap()
			continue
		}
		fmt.Fprintf(os.Stderr, "pause: %v, exiting\n", sig)
		os.Exit(0)
	}
}

// reap waits for every child that has exited. Signals coalesce, so one SIGCHLD may stand
// for several children.
func reap() {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if pid <= 0 || err != nil {
			return
		}
	}
}
