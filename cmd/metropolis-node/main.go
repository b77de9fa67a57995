// Command metropolis-node is the Metropolis node program. On the image it is PID 1 (see
// node/platform/image: the init process, which starts this same binary again as the node
// program); hosted, it runs as an ordinary process (one per node, each in its own network namespace) with a state
// directory standing in for the data partition. Every service of the node runs under one
// supervisor tree, and every log line goes to the log tree, which is mirrored to stderr (the
// console) so that a launcher can keep each node's log in a file.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"metropolis.dev/metropolis/node/core"
	"metropolis.dev/metropolis/node/platform/hosted"
	"metropolis.dev/metropolis/node/platform/image"
	"metropolis.dev/metropolis/osbase/logtree"
	"metropolis.dev/metropolis/osbase/supervisor"
)

func main() {
	if os.Getpid() == 1 {
		image.RunInit()
	}
	if os.Getenv(image.NodeProgramEnv) != "" {
		os.Exit(runImageNode())
	}
	runHosted()
}

func runHosted() {
	stateDir := flag.String("state-dir", "", "hosted: directory holding the node's state (stands in for the data partition)")
	parameters := flag.String("parameters", "", "hosted: node parameters file (binary NodeParameters protobuf); needed on first start only")
	address := flag.String("address", "", "hosted: the IP address other nodes reach this node at")
	flag.Parse()

	lt := logtree.New()
	stopConsole := mirrorToConsole(lt, "")
	defer stopConsole()

	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()
	plat, err := hosted.New(*stateDir, *parameters, *address, cancel)
	if err != nil {
		fmt.Fprintf(os.Stderr, "metropolis-node: %v\n", err)
		os.Exit(2)
	}
	node := core.New(plat, lt)
	sup := supervisor.New(ctx, node.Run, supervisor.WithExistingLogtree(lt))
	<-sup.Done()
	stopConsole()

	if plat.Stopping() == hosted.StopReboot {
		fmt.Fprintln(os.Stderr, "metropolis-node: rebooting (re-executing the node program)")
		exe, err := os.Executable()
		if err == nil {
			err = syscall.Exec(exe, os.Args, os.Environ())
		}
		fmt.Fprintf(os.Stderr, "metropolis-node: reboot failed: %v\n", err)
		os.Exit(1)
	}
}

// mirrorToConsole prints every log entry of the node to stderr as it is written, except those
// under the DN skip (if not empty; the kernel's own log, which the kernel already prints). The
// returned function stops the mirror after it printed what was already written.
func mirrorToConsole(lt *logtree.LogTree, skip logtree.DN) func() {
	reader, err := lt.Read("", logtree.WithChildren(), logtree.WithStream(), logtree.WithStreamBuffer(4096))
	if err != nil {
		fmt.Fprintf(os.Stderr, "metropolis-node: console log: %v\n", err)
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for e := range reader.Stream {
			if skip != "" && (e.DN == skip || strings.HasPrefix(string(e.DN), string(skip)+".")) {
				continue
			}
			fmt.Fprintln(os.Stderr, e.String())
		}
	}()
	stopped := false
	return func() {
		if !stopped {
			stopped = true
			reader.Close()
			<-done
		}
	}
}
