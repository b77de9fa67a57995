package main

import (
	"fmt"
	"io"
	"strings"

	"metropolis.dev/metropolis/osbase/loopdev"
)

// The kubelet hands a pod a raw block volume by holding the published device open through
// a loop device of its own (k8s.io/kubernetes' volumepathhandler), which it makes and removes
// with util-linux losetup: `losetup -f PATH` and `losetup -d DEVICE`. It finds the device it
// made in sysfs, not in losetup's output. This is that subset.

const losetupUsage = `Usage (the subset of util-linux losetup the kubelet uses):
  losetup -f FILE       attach FILE to the first free loop device
  losetup -d DEVICE     detach a loop device
  losetup --version | --help
`

// losetupRequest is a losetup command line.
type losetupRequest struct {
	Attach, Detach string
	Version, Help  bool
}

// parseLosetupArgs reads losetup's arguments (without the program name).
func parseLosetupArgs(args []string) (losetupRequest, error) {
	var req losetupRequest
	switch {
	case len(args) == 1 && (args[0] == "-V" || args[0] == "--version"):
		req.Version = true
	case len(args) == 1 && (args[0] == "-h" || args[0] == "--help"):
		req.Help = true
	case len(args) == 2 && (args[0] == "-f" || args[0] == "--find") && args[1] != "" && !strings.HasPrefix(args[1], "-"):
		req.Attach = args[1]
	case len(args) == 2 && (args[0] == "-d" || args[0] == "--detach") && strings.HasPrefix(args[1], "/dev/loop"):
		req.Detach = args[1]
	case len(args) == 0:
		return req, badUsage("no arguments; this losetup takes -f FILE or -d DEVICE")
	case len(args) == 2 && (args[0] == "-d" || args[0] == "--detach"):
		return req, badToken(args[1], "not a loop device (/dev/loopN)")
	default:
		return req, badToken(args[0], "unsupported arguments; this losetup takes -f FILE or -d DEVICE")
	}
	return req, nil
}

func runLosetup(args []string, stdout, stderr io.Writer) int {
	req, err := parseLosetupArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "losetup: %v\n%s", err, losetupUsage)
		return exitUsage
	}
	switch {
	case req.Help:
		fmt.Fprint(stdout, losetupUsage)
		return exitOK
	case req.Version:
		fmt.Fprintln(stdout, "losetup from Metropolis (the kubelet's subset of util-linux losetup; see cmd/mount)")
		return exitOK
	case req.Attach != "":
		if _, err := loopdev.Attach(req.Attach); err != nil {
			fmt.Fprintf(stderr, "losetup: %v\n", err)
			return exitUsage
		}
		return exitOK
	default:
		n, ok := loopNumber(req.Detach)
		if !ok {
			fmt.Fprintf(stderr, "losetup: %s: not a loop device\n", req.Detach)
			return exitUsage
		}
		if err := loopdev.Detach(loopdev.Device{Path: req.Detach, Number: n}); err != nil {
			fmt.Fprintf(stderr, "losetup: %v\n", err)
			return exitUsage
		}
		return exitOK
	}
}

// loopNumber parses N out of /dev/loopN.
func loopNumber(path string) (int, bool) {
	var n int
	if _, err := fmt.Sscanf(path, "/dev/loop%d", &n); err != nil || n < 0 || path != fmt.Sprintf("/dev/loop%d", n) {
		return 0, false
	}
	return n, true
}
