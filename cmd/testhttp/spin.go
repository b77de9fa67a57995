package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"time"
)

// runSpin keeps one CPU busy until -for has passed or ctx ends: load for the autoscaling
// tests, which a pod's CPU limit bounds.
func runSpin(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("spin", flag.ContinueOnError)
	d := fs.Duration("for", time.Minute, "how long to spin")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	if *d <= 0 {
		return fmt.Errorf("%w: -for %v is not a positive duration", errUsage, *d)
	}
	if _, err := fmt.Fprintf(stdout, "spinning for %v\n", *d); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *d)
	defer cancel()
	for n := uint64(0); ; n++ {
		// Check for the end only now and then: the loop is the load.
		if n%(1<<20) == 0 && ctx.Err() != nil {
			return nil
		}
	}
}
