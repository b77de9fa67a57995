// Command metroctl is the operator's CLI for Metropolis clusters: contexts, taking ownership,
// and managing nodes. The commands live in package metroctl/cli; this file only wires the
// process (signals, exit code) to it, and on Linux adds the local-cluster commands of package
// launch/launchcmd.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"metropolis.dev/metropolis/metroctl/cli"
)

func main() {
	// An interrupt cancels the command's context, so that `node logs -f` ends cleanly.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	app := cli.NewApp()
	addLocalClusters(app)
	code := app.Run(ctx, os.Args[1:])
	stop()
	os.Exit(code)
}
