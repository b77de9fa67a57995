package main

import (
	"fmt"
	"strings"

	"golang.org/x/sys/unix"
)

// mountCall is one mount(2) call.
type mountCall struct {
	Source, Target, FSType string
	Flags                  uintptr
	Data                   string
}

// perMountFlags are the flags a bind remount can change: the mount's own flags, not its
// filesystem's.
const perMountFlags = unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC |
	unix.MS_NOATIME | unix.MS_NODIRATIME | unix.MS_RELATIME | unix.MS_STRICTATIME |
	unix.MS_NOSYMFOLLOW

// helperTypes need a userspace mount helper (mount.TYPE) that resolves names or starts a
// daemon before the kernel can mount them; the node ships none.
var helperTypes = map[string]bool{
	"nfs": true, "nfs4": true, "cifs": true, "smb3": true,
	"ceph": true, "glusterfs": true, "fuse": true, "fuseblk": true,
}

// plan is what a mount command line does: the mount(2) calls, in order, and what it drops
// that util-linux would hand the kernel for nothing (said on stderr, not an error).
type plan struct {
	Calls []mountCall
	// Ignored is filesystem data given to a bind mount, which the kernel ignores.
	Ignored string
}

// planMount turns a mount request into mount(2) calls, the way util-linux's libmount does:
//   - propagation words alone: one call per word on the target;
//   - remount (with or without bind): one call;
//   - bind: the bind, then a bind remount carrying the per-mount flags, if any;
//   - otherwise a new mount of SOURCE as TYPE, which needs both;
//
// and after any of the last three, one call per propagation word.
func planMount(req mountRequest) (plan, error) {
	opts, err := parseOptions(req.Options...)
	if err != nil {
		return plan{}, err
	}
	var p plan
	switch {
	case opts.Flags == 0 && opts.Data == "" && req.FSType == "" && len(opts.Propagation) > 0:
		if req.Source != "" {
			return plan{}, badToken(req.Source, "a propagation change takes only the mount point, not a source")
		}
	case opts.Flags&unix.MS_REMOUNT != 0:
		source := req.Source
		if source == "" {
			source = "none"
		}
		call := mountCall{Source: source, Target: req.Target, FSType: req.FSType, Flags: opts.Flags, Data: opts.Data}
		if opts.Flags&unix.MS_BIND != 0 {
			// A bind remount changes the mount's own flags only; the kernel looks at
			// neither type nor data (nor MS_REC).
			p.Ignored = opts.Data
			call.FSType, call.Data = "", ""
			call.Flags = unix.MS_REMOUNT | unix.MS_BIND | opts.Flags&perMountFlags
		}
		p.Calls = append(p.Calls, call)
	case opts.Flags&unix.MS_BIND != 0:
		if req.Source == "" {
			return plan{}, badUsage("a bind mount needs SOURCE and TARGET; fstab lookups are not supported")
		}
		p.Ignored = opts.Data
		p.Calls = append(p.Calls, mountCall{Source: req.Source, Target: req.Target, Flags: opts.Flags & (unix.MS_BIND | unix.MS_REC)})
		if extra := opts.Flags & perMountFlags; extra != 0 {
			// The kernel ignores all flags but MS_REC when it creates a bind mount.
			p.Calls = append(p.Calls, mountCall{Source: req.Source, Target: req.Target, Flags: unix.MS_REMOUNT | unix.MS_BIND | extra})
		}
	default:
		if req.Source == "" {
			return plan{}, badUsage("mount needs SOURCE and TARGET; fstab lookups are not supported")
		}
		if err := checkFSType(req.FSType); err != nil {
			return plan{}, err
		}
		p.Calls = append(p.Calls, mountCall{Source: req.Source, Target: req.Target, FSType: req.FSType, Flags: opts.Flags, Data: opts.Data})
	}
	for _, prop := range opts.Propagation {
		p.Calls = append(p.Calls, mountCall{Source: "none", Target: req.Target, Flags: prop})
	}
	return p, nil
}

// checkFSType refuses the types a plain mount(2) cannot mount here.
func checkFSType(fsType string) error {
	switch {
	case fsType == "" || fsType == "auto":
		return badUsage("no filesystem type given; give -t TYPE, this mount does not probe filesystems")
	case strings.Contains(fsType, ","):
		return badToken(fsType, "filesystem type lists are not supported; give one type")
	case helperTypes[fsType] || strings.HasPrefix(fsType, "fuse."):
		return badToken(fsType, "this filesystem type needs a mount helper (mount.%s), which the node does not ship", fsType)
	}
	return nil
}

// flagNames name MS_* flags in the order they are printed.
var flagNames = []struct {
	flag uintptr
	name string
}{
	{unix.MS_REMOUNT, "MS_REMOUNT"}, {unix.MS_BIND, "MS_BIND"}, {unix.MS_REC, "MS_REC"},
	{unix.MS_SHARED, "MS_SHARED"}, {unix.MS_SLAVE, "MS_SLAVE"}, {unix.MS_PRIVATE, "MS_PRIVATE"},
	{unix.MS_UNBINDABLE, "MS_UNBINDABLE"}, {unix.MS_RDONLY, "MS_RDONLY"},
	{unix.MS_NOSUID, "MS_NOSUID"}, {unix.MS_NODEV, "MS_NODEV"}, {unix.MS_NOEXEC, "MS_NOEXEC"},
	{unix.MS_SYNCHRONOUS, "MS_SYNCHRONOUS"}, {unix.MS_DIRSYNC, "MS_DIRSYNC"},
	{unix.MS_NOATIME, "MS_NOATIME"}, {unix.MS_NODIRATIME, "MS_NODIRATIME"},
	{unix.MS_RELATIME, "MS_RELATIME"}, {unix.MS_STRICTATIME, "MS_STRICTATIME"},
	{unix.MS_LAZYTIME, "MS_LAZYTIME"}, {unix.MS_MANDLOCK, "MS_MANDLOCK"},
	{unix.MS_I_VERSION, "MS_I_VERSION"}, {unix.MS_NOSYMFOLLOW, "MS_NOSYMFOLLOW"},
	{unix.MS_SILENT, "MS_SILENT"},
}

// flagString names flags for messages and tests, e.g. "MS_REMOUNT|MS_BIND|MS_RDONLY".
func flagString(flags uintptr) string {
	var names []string
	for _, f := range flagNames {
		if flags&f.flag != 0 {
			names = append(names, f.name)
			flags &^= f.flag
		}
	}
	if flags != 0 {
		names = append(names, fmt.Sprintf("%#x", flags))
	}
	if len(names) == 0 {
		return "0"
	}
	return strings.Join(names, "|")
}

func (c mountCall) String() string {
	return fmt.Sprintf("mount(%q, %q, %q, %s, %q)", c.Source, c.Target, c.FSType, flagString(c.Flags), c.Data)
}

// createsMount says whether the call adds a mount (rather than changing one), so that a
// later failure should take it away again.
func (c mountCall) createsMount() bool {
	return c.Flags&(unix.MS_REMOUNT|unix.MS_SHARED|unix.MS_SLAVE|unix.MS_PRIVATE|unix.MS_UNBINDABLE) == 0
}
