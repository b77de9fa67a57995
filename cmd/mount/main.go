// Command mount is the node's mount(8), umount(8) and losetup(8): one static binary that acts
// as `mount`, `umount` or `losetup` by the name it is started under (the image holds `mount`
// and symlinks `umount` and `losetup` pointing at it).
//
// It is ours because the kubelet needs a mount binary: k8s.io/mount-utils, which the kubelet
// uses for every volume it sets up, runs `mount` and `umount` from $PATH rather than calling
// mount(2) itself. The node image has no shell and no util-linux; it ships only our Go
// programs. So this command turns exactly the argument forms mount-utils produces into
// mount(2) and umount2(2) calls, and refuses anything else with an error naming the argument.
//
// Supported (the forms k8s.io/mount-utils v0.37 builds, plus a few long spellings of them):
//
//	mount [--no-canonicalize|-c] [-t TYPE] [-o OPTS] SOURCE TARGET
//	mount [-t TYPE] -o remount[,OPTS] [SOURCE] TARGET
//	mount --bind|--rbind [-o OPTS] SOURCE TARGET
//	mount --make-{shared,slave,private,unbindable} and their --make-r* forms TARGET
//	mount --version | --help
//	umount [-l|--lazy] [-f|--force] TARGET
//	losetup -f FILE | -d /dev/loopN     (raw block volumes: losetup.go)
//
// OPTS are the util-linux words for mount flags (ro, rw, nosuid, nodev, noexec, bind, rbind,
// remount, the atime family, sync, dirsync, …), propagation words (shared, rprivate, …), which
// become their own mount(2) call after the main one as the kernel requires, userspace-only
// words that util-linux also never hands the kernel (defaults, _netdev, nofail, auto, noauto,
// x-*), and everything else, which is the filesystem's data string (tmpfs size=, mode=,
// noswap; hugetlbfs pagesize=; ext4 options). A bind mount with per-mount flags is two calls,
// the bind and then a bind remount with the flags, since the kernel ignores flags on the
// first; if the second fails the bind is undone, so a failed read-only bind never stays
// writable. Not supported: listing mounts, fstab lookups, filesystem type probing
// (`-t` is required for a new non-bind mount), loop devices, and types that need a mount
// helper (nfs, cifs, ceph, glusterfs, fuse).
//
// Exit codes follow util-linux: 0 done, 1 usage error (an unsupported or malformed argument),
// 32 the mount or unmount failed. `umount` of a path that is not a mount point says
// "not mounted", which mount-utils detects at start and then trusts instead of checking
// mount points itself.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Exit codes of util-linux mount(8) and umount(8), which mount-utils' callers may inspect.
const (
	exitOK      = 0
	exitUsage   = 1
	exitFailure = 32
)

const version = "mount from Metropolis (the kubelet's subset of util-linux mount; see its package comment)"

func main() {
	os.Exit(run(filepath.Base(os.Args[0]), os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches by the program name and returns the exit code. It is main without the
// process, so that tests can drive the argument handling.
func run(name string, args []string, stdout, stderr io.Writer) int {
	switch name {
	case "mount":
		return runMount(args, stdout, stderr)
	case "umount":
		return runUmount(args, stdout, stderr)
	case "losetup":
		return runLosetup(args, stdout, stderr)
	default:
		fmt.Fprintf(stderr, "%s: started under an unknown name; this binary acts as \"mount\", \"umount\" or \"losetup\" by the name it is started under (os.Args[0])\n", name)
		return exitUsage
	}
}

// exitCodeFor tells a usage error (the arguments) from a failed system call.
func exitCodeFor(err error) int {
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	return exitFailure
}

// usageError is an argument this command does not take. Token is the offending argument or
// option word, when there is one, so the message can name it.
type usageError struct {
	Token  string
	Reason string
}

func (e *usageError) Error() string {
	if e.Token == "" {
		return e.Reason
	}
	return fmt.Sprintf("%q: %s", e.Token, e.Reason)
}

func badToken(token, format string, a ...any) error {
	return &usageError{Token: token, Reason: fmt.Sprintf(format, a...)}
}

func badUsage(format string, a ...any) error {
	return &usageError{Reason: fmt.Sprintf(format, a...)}
}
