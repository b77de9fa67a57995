package main

import (
	"errors"
	"fmt"
	"io"

	"golang.org/x/sys/unix"
)

const mountUsage = `Usage (the subset of util-linux mount the kubelet uses):
  mount [--no-canonicalize|-c] [-t TYPE] [-o OPTIONS] SOURCE TARGET
  mount [-t TYPE] -o remount[,OPTIONS] [SOURCE] TARGET
  mount --bind|--rbind [-o OPTIONS] SOURCE TARGET
  mount --make-[r]{shared,slave,private,unbindable} TARGET
  mount --version | --help
`

const umountUsage = `Usage (the subset of util-linux umount the kubelet uses):
  umount [-l|--lazy] [-f|--force] TARGET
  umount --version | --help
`

func runMount(args []string, stdout, stderr io.Writer) int {
	req, err := parseMountArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "mount: %v\n%s", err, mountUsage)
		return exitUsage
	}
	switch {
	case req.Help:
		fmt.Fprint(stdout, mountUsage)
		return exitOK
	case req.Version:
		fmt.Fprintln(stdout, version)
		return exitOK
	}
	p, err := planMount(req)
	if err != nil {
		fmt.Fprintf(stderr, "mount: %s: %v\n", req.Target, err)
		return exitCodeFor(err)
	}
	if p.Ignored != "" {
		fmt.Fprintf(stderr, "mount: %s: ignoring filesystem options %q: a bind mount takes none (the kernel ignores them, as with util-linux)\n", req.Target, p.Ignored)
	}
	if err := applyPlan(p.Calls); err != nil {
		fmt.Fprintf(stderr, "mount: %s: %v\n", req.Target, err)
		return exitFailure
	}
	return exitOK
}

// applyPlan makes the calls in order. If one fails after an earlier call created a mount,
// that mount is detached again: a bind that was asked to be read-only must not stay
// writable, and the kubelet retries a failed mount from scratch.
func applyPlan(calls []mountCall) error {
	for i, c := range calls {
		err := unix.Mount(c.Source, c.Target, c.FSType, c.Flags, c.Data)
		if err == nil {
			continue
		}
		failure := fmt.Errorf("%v failed: %w%s", c, err, errnoHint(err, c))
		if i == 0 || !calls[0].createsMount() {
			return failure
		}
		if uerr := unix.Unmount(c.Target, unix.MNT_DETACH); uerr != nil {
			return fmt.Errorf("%w; undoing the mount made by %v also failed: %v", failure, calls[0], uerr)
		}
		return fmt.Errorf("%w; the mount made by %v was undone", failure, calls[0])
	}
	return nil
}

// errnoHint says what an errno usually means for mount(2), which tells little by itself.
func errnoHint(err error, c mountCall) string {
	switch {
	case errors.Is(err, unix.ENOENT):
		return " (the source or the mount point does not exist)"
	case errors.Is(err, unix.ENOTDIR):
		return " (the mount point is not a directory, or a path component is not)"
	case errors.Is(err, unix.ENODEV):
		return fmt.Sprintf(" (the kernel does not know filesystem type %q; is its module loaded?)", c.FSType)
	case errors.Is(err, unix.ENOTBLK):
		return " (the source is not a block device)"
	case errors.Is(err, unix.EINVAL) && c.Flags&unix.MS_REMOUNT != 0:
		return " (the mount point is not a mount point, or an option is wrong; the kernel log says which)"
	case errors.Is(err, unix.EINVAL):
		return " (an option or the source is wrong for this filesystem; the kernel log says which)"
	}
	return ""
}

func runUmount(args []string, stdout, stderr io.Writer) int {
	req, err := parseUmountArgs(args)
	if err != nil {
		fmt.Fprintf(stderr, "umount: %v\n%s", err, umountUsage)
		return exitUsage
	}
	switch {
	case req.Help:
		fmt.Fprint(stdout, umountUsage)
		return exitOK
	case req.Version:
		fmt.Fprintln(stdout, version)
		return exitOK
	}
	if err := unix.Unmount(req.Target, req.Flags); err != nil {
		// mount-utils looks for "not mounted" in this output: at start, to learn that
		// it may trust umount instead of checking mount points itself, and later, to
		// treat an unmount of something not mounted as done. umount2(2) gives EINVAL
		// for a path that is not a mount point (the flags here are always valid).
		switch {
		case errors.Is(err, unix.EINVAL):
			fmt.Fprintf(stderr, "umount: %s: not mounted.\n", req.Target)
		case errors.Is(err, unix.EBUSY):
			fmt.Fprintf(stderr, "umount: %s: target is busy (%v); -l detaches it now and unmounts it once unused\n", req.Target, err)
		default:
			fmt.Fprintf(stderr, "umount: %s: %v\n", req.Target, err)
		}
		return exitFailure
	}
	return exitOK
}
