package main

import (
	"strings"

	"golang.org/x/sys/unix"
)

// umountRequest is an umount command line.
type umountRequest struct {
	Target string
	// Flags are umount2(2) flags: MNT_DETACH for -l, MNT_FORCE for -f.
	Flags         int
	Version, Help bool
}

// parseUmountArgs reads umount's arguments (without the program name). mount-utils runs
// `umount TARGET` and, when that times out, `umount -f TARGET`; -l is there for people.
func parseUmountArgs(args []string) (umountRequest, error) {
	var req umountRequest
	var positional []string
	for i, arg := range args {
		switch {
		case arg == "--":
			positional = append(positional, args[i+1:]...)
		case arg == "-l" || arg == "--lazy":
			req.Flags |= unix.MNT_DETACH
		case arg == "-f" || arg == "--force":
			req.Flags |= unix.MNT_FORCE
		case arg == "-V" || arg == "--version":
			req.Version = true
		case arg == "-h" || arg == "--help":
			req.Help = true
		case strings.HasPrefix(arg, "-") && arg != "-":
			return req, badToken(arg, "unsupported argument; this umount takes only -l, -f and one mount point")
		default:
			positional = append(positional, arg)
		}
		if arg == "--" {
			break
		}
	}
	if req.Version || req.Help {
		return req, nil
	}
	switch len(positional) {
	case 0:
		return req, badUsage("no mount point given")
	case 1:
		req.Target = positional[0]
	default:
		return req, badToken(positional[1], "extra argument; this umount takes one mount point")
	}
	if req.Target == "" {
		return req, badUsage("empty mount point")
	}
	return req, nil
}
