package image

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"

	"metropolis.dev/metropolis/node/platform/image/layout"
)

// mount is one file system PID 1 mounts on the read-only root before anything else runs.
type mount struct {
	source, target, fstype string
	flags                  uintptr
	data                   string
}

// baseMounts are what every process on the node may expect. /proc, /sys and /dev were set up
// by the initramfs and moved here with the root.
var baseMounts = []mount{
	{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "gid=5,mode=620,ptmxmode=666"},
	{"tmpfs", "/dev/shm", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777"},
	{"cgroup2", "/sys/fs/cgroup", "cgroup2", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "nsdelegate"},
	{"securityfs", "/sys/kernel/security", "securityfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	{"tmpfs", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=755"},
	{"tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777"},
	// /etc is a small tmpfs: the system partition is read-only, but resolv.conf and hosts are
	// written at run time from the node's network configuration.
	{"tmpfs", "/etc", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, "mode=755,size=1m"},
	// /var is where upstream programs keep state they assume is writable (the kubelet's
	// /var/log/containers, the CNI result cache); none of it must outlive a boot.
	{"tmpfs", "/var", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=755"},
}

// prepareMachine mounts the base file systems and loads the kernel modules the system needs.
// Every mount is shared, recursively, as systemd makes it: the kubelet's volume mounts must
// propagate into the containers that ask for it.
func prepareMachine() error {
	if err := unix.Mount("", "/", "", unix.MS_SHARED|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make / shared: %w", err)
	}
	for _, m := range baseMounts {
		if err := os.MkdirAll(m.target, 0o755); err != nil && !os.IsExist(err) {
			return fmt.Errorf("mount point %s: %w", m.target, err)
		}
		if err := unix.Mount(m.source, m.target, m.fstype, m.flags, m.data); err != nil {
			return fmt.Errorf("mount %s on %s: %w", m.fstype, m.target, err)
		}
	}
	if err := writeEtc(); err != nil {
		return err
	}
	if err := loadSystemModules(); err != nil {
		return err
	}
	mountEFIVars()
	return nil
}

// etcFiles are what programs of the system expect in /etc: the kubelet and runc look users and
// groups up by name, and there is only root; containerd copies hosts into every pod.
var etcFiles = map[string]string{
	"/etc/hosts":  "127.0.0.1 localhost\n::1 localhost\n",
	"/etc/passwd": "root:x:0:0:root:/:/nonexistent\n",
	"/etc/group":  "root:x:0:\n",
}

func writeEtc() error {
	for path, content := range etcFiles {
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	// A machine ID for this boot, as systemd makes one on a system without persistent /etc:
	// the kubelet (cAdvisor) reads it for the Node's machine ID and logs an error without it.
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return err
	}
	if err := os.WriteFile("/etc/machine-id", []byte(hex.EncodeToString(id)+"\n"), 0o444); err != nil {
		return fmt.Errorf("write /etc/machine-id: %w", err)
	}
	// The release the system partition carries; an image without one is a build of the
	// development tree.
	version, err := os.ReadFile(layout.SystemVersionPath)
	if err != nil {
		version = []byte("dev")
	}
	if err := os.WriteFile("/etc/os-release", []byte(osRelease(string(version))), 0o644); err != nil {
		return fmt.Errorf("write /etc/os-release: %w", err)
	}
	return nil
}

// osRelease is /etc/os-release for the release version: the kubelet (cAdvisor) reports its
// PRETTY_NAME as the Node's OS image. Characters os-release(5) does not allow in a quoted value
// are dropped, and the version is bounded.
func osRelease(version string) string {
	version = strings.Map(func(r rune) rune {
		if r < 0x20 || r > 0x7e || r == '"' || r == '\\' || r == '`' || r == '$' {
			return -1
		}
		return r
	}, strings.TrimSpace(version))
	if len(version) > 64 {
		version = version[:64]
	}
	if version == "" {
		version = "dev"
	}
	return fmt.Sprintf("NAME=\"Metropolis\"\nID=metropolis\nVERSION=%q\nPRETTY_NAME=\"Metropolis %s\"\n", version, version)
}

// unmountForPowerOff unmounts what holds data (the data partition, the ESP) so a power off
// leaves them clean. Failures are reported, not fatal: the machine goes down either way.
func unmountForPowerOff() {
	for _, target := range []string{layout.DataMount, layout.ESPMount} {
		if err := unix.Unmount(target, 0); err != nil && err != unix.EINVAL {
			say(fmt.Sprintf("metropolis-node: unmount %s: %v (detaching)", target, err))
			_ = unix.Unmount(target, unix.MNT_DETACH)
		}
	}
}
