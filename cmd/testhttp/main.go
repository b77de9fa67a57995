// Command testhttp is the workload of Metropolis' Kubernetes tests: one static binary,
// made into an image by osbase/ociimage like the pause image, so that tests need no
// registry. Our images hold no shell, so `kubectl exec` runs this binary's subcommands:
//
//	testhttp serve [-listen :8080]              answer every request with the pod's name
//	testhttp get URL [-timeout 5s] [-n N]       fetch URL N times, printing each body
//	testhttp resolve NAME [-timeout 5s]         print the addresses Go's resolver finds
//	testhttp spin [-for 1m]                     keep one CPU busy (autoscaling tests)
//	testhttp write PATH TEXT                    write TEXT to the file PATH and sync it
//	testhttp cat PATH [-bytes N]                print the file PATH (or its first N bytes)
//	testhttp fill PATH [-mib 1]                 write that many MiB to PATH and sync them
//
// Exit status: 0 on success, 1 when the subcommand fails (with the reason on stderr), 2 on
// bad usage. SIGTERM or SIGINT stops any subcommand; serve then shuts down cleanly.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

const usage = `usage:
  testhttp serve [-listen :8080]
  testhttp get URL [-timeout 5s] [-n N]
  testhttp resolve NAME [-timeout 5s]
  testhttp spin [-for 1m]
  testhttp write PATH TEXT
  testhttp cat PATH [-bytes N]
  testhttp fill PATH [-mib 1]
`

// errUsage marks errors in the command line (exit status 2).
var errUsage = errors.New("bad usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run runs the subcommand args name and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = runServe(ctx, args[1:], stdout)
	case "get":
		err = runGet(ctx, args[1:], stdout)
	case "resolve":
		err = runResolve(ctx, args[1:], stdout, goResolver)
	case "spin":
		err = runSpin(ctx, args[1:], stdout)
	case "write":
		err = runWrite(args[1:], stdout)
	case "cat":
		err = runCat(args[1:], stdout)
	case "fill":
		err = runFill(args[1:], stdout)
	default:
		err = fmt.Errorf("%w: unknown subcommand %q", errUsage, args[0])
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage) || errors.Is(err, flag.ErrHelp):
		fmt.Fprintf(stderr, "testhttp %s: %v\n%s", args[0], err, usage)
		return 2
	default:
		fmt.Fprintf(stderr, "testhttp %s: %v\n", args[0], err)
		return 1
	}
}

// parseArgs parses flags that may come before or after the positional arguments
// (`get URL -n 3`, as a person types it), and checks their count.
func parseArgs(fs *flag.FlagSet, args []string, positional int) ([]string, error) {
	fs.SetOutput(io.Discard)
	var rest []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		if fs.NArg() == 0 {
			break
		}
		rest = append(rest, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(rest) != positional {
		return nil, fmt.Errorf("%w: want %d argument(s), got %d %q", errUsage, positional, len(rest), rest)
	}
	return rest, nil
}
