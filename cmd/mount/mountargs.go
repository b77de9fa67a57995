package main

import (
	"strings"
)

// mountRequest is a mount command line, understood but not yet checked for sense.
type mountRequest struct {
	// Source is empty when only the target was given (remounts, propagation changes).
	Source string
	Target string
	// FSType is the -t argument, empty when there was none.
	FSType string
	// Options are the -o arguments and the words --bind and friends stand for, in order.
	Options []string
	// Version and Help ask for text instead of a mount.
	Version, Help bool
}

// longOptionWords are the long options that only stand for an -o word.
var longOptionWords = map[string]string{
	"--bind":             "bind",
	"--rbind":            "rbind",
	"--make-shared":      "shared",
	"--make-rshared":     "rshared",
	"--make-slave":       "slave",
	"--make-rslave":      "rslave",
	"--make-private":     "private",
	"--make-rprivate":    "rprivate",
	"--make-unbindable":  "unbindable",
	"--make-runbindable": "runbindable",
}

// parseMountArgs reads mount's arguments (without the program name). mount-utils builds
// `[--no-canonicalize] [-t TYPE] [-o OPTS] [SOURCE] TARGET`; util-linux takes options and
// positionals in any order, and so does this.
func parseMountArgs(args []string) (mountRequest, error) {
	var req mountRequest
	var positional []string
	for i := 0; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			positional = append(positional, args[i+1:]...)
			i = len(args)
		case arg == "--no-canonicalize" || arg == "-c":
			// util-linux would otherwise resolve symlinks in the paths; this command
			// never does, which is what the kubelet asks for with this flag (it bind
			// mounts /proc/PID/fd/N, which must not be resolved to a path).
		case arg == "-t" || arg == "--types":
			value, err := optionValue(args, &i)
			if err != nil {
				return req, err
			}
			if req.FSType != "" {
				return req, badToken(value, "a second filesystem type (-t) was given; give one")
			}
			if value == "" {
				return req, badToken(arg, "empty filesystem type")
			}
			req.FSType = value
		case arg == "-o" || arg == "--options":
			value, err := optionValue(args, &i)
			if err != nil {
				return req, err
			}
			req.Options = append(req.Options, value)
		case longOptionWords[arg] != "":
			req.Options = append(req.Options, longOptionWords[arg])
		case arg == "-V" || arg == "--version":
			req.Version = true
		case arg == "-h" || arg == "--help":
			req.Help = true
		case strings.HasPrefix(arg, "-") && arg != "-":
			return req, badToken(arg, "unsupported argument; this mount takes only the forms the kubelet uses (see --help)")
		default:
			positional = append(positional, arg)
		}
	}
	if req.Version || req.Help {
		return req, nil
	}
	switch len(positional) {
	case 0:
		return req, badUsage("no mount point given; listing mounts is not supported (read /proc/self/mountinfo)")
	case 1:
		req.Target = positional[0]
	case 2:
		req.Source, req.Target = positional[0], positional[1]
	default:
		return req, badToken(positional[2], "extra argument; mount takes at most SOURCE and TARGET")
	}
	if req.Target == "" {
		return req, badUsage("empty mount point")
	}
	return req, nil
}

// optionValue returns the argument after args[*i] and advances past it.
func optionValue(args []string, i *int) (string, error) {
	if *i+1 >= len(args) {
		return "", badToken(args[*i], "needs a value")
	}
	*i++
	return args[*i], nil
}
