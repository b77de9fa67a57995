package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"metropolis.dev/metropolis/node/core"
	"metropolis.dev/metropolis/node/platform/image"
	"metropolis.dev/metropolis/node/update"
	"metropolis.dev/metropolis/osbase/logtree"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// kernelDN is where the kernel's log goes in the log tree.
const kernelDN logtree.DN = "root.kernel"

// runImageNode is the node program on the image, started by the init process (PID 1). Its
// exit code tells the init process to power off or reboot.
func runImageNode() int {
	lt := logtree.New()
	stopConsole := mirrorToConsole(lt, kernelDN)
	defer stopConsole()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	plat, err := image.New(ctx, cancel, lt)
	if err != nil {
		fmt.Fprintf(os.Stderr, "metropolis-node: %v\n", err)
		return image.ExitFailed
	}
	node := core.New(plat, lt)
	sup := supervisor.New(ctx, func(ctx context.Context) error {
		// The kernel's log joins the log tree, so `metroctl node logs` shows it too.
		if err := supervisor.Run(ctx, "kernel", func(ctx context.Context) error {
			return logtree.KmsgPipe(ctx, supervisor.Logger(ctx))
		}); err != nil {
			return err
		}
		if err := supervisor.Run(ctx, "network", plat.RunNetwork); err != nil {
			return err
		}
		if err := supervisor.Run(ctx, "node", node.Run); err != nil {
			return err
		}
		// Beside the node, not in it: a trial must end even if the node never gets going.
		if err := supervisor.Run(ctx, "update-trial", func(ctx context.Context) error {
			err := plat.Updates().RunTrial(ctx, node.Rejoined())
			if errors.Is(err, update.ErrTrialFailed) {
				supervisor.Logger(ctx).Errorf("%v", err)
				return plat.Reboot(ctx)
			}
			return err
		}); err != nil {
			return err
		}
		supervisor.Signal(ctx, supervisor.SignalHealthy)
		<-ctx.Done()
		return ctx.Err()
	}, supervisor.WithExistingLogtree(lt))
	<-sup.Done()
	stopConsole()
	return plat.ExitCode()
}
