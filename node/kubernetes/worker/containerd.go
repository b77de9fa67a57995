package worker

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"metropolis.dev/metropolis/osbase/supervisor"
)

// containerdNamespace is the containerd namespace of the CRI plugin: images the kubelet may
// use must be imported there.
const containerdNamespace = "k8s.io"

// PauseImage is the sandbox image: cmd/pause, shipped in the node image (build/mkimage).
const PauseImage = "metropolis.dev/pause:v1"

// containerdConfig is containerd's configuration (version 4, the newest containerd 2.4 reads:
// an older one is migrated at every start, with a warning). The CRI plugin
// uses the pause image we ship and never pulls it; runc runs with the cgroupfs driver (there is
// no systemd); CNI configuration appears in conf_dir once the node has a pod subnet.
func (s *Service) containerdConfig() string {
	return fmt.Sprintf(`version = 4
root = %q
state = %q
disabled_plugins = [
  "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.blockfile",
  "io.containerd.snapshotter.v1.erofs", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing", "io.containerd.nri.v1.nri", "io.containerd.internal.v1.opt",
]

[plugins.'io.containerd.server.v1.grpc']
  address = %q
[plugins.'io.containerd.server.v1.ttrpc']
  address = %q
[plugins.'io.containerd.server.v1.metrics']
  address = %q

[plugins.'io.containerd.cri.v1.images']
  snapshotter = "overlayfs"
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = %q

[plugins.'io.containerd.cri.v1.runtime']
  enable_selinux = false
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = "runc"
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        BinaryName = %q
        SystemdCgroup = false
  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = [%q]
    conf_dir = %q
    use_internal_loopback = true
`, filepath.Join(s.cfg.StateDir, "containerd"), filepath.Join(s.cfg.RunDir, "containerd"),
		s.containerdSocket(), s.containerdSocket()+".ttrpc", containerdMetricsAddress(), PauseImage, filepath.Join(s.cfg.BinDir, "runc"),
		filepath.Join(s.cfg.BinDir, "cni"), s.cniConfDir())
}

func (s *Service) containerdSocket() string {
	return filepath.Join(s.cfg.RunDir, "containerd", "containerd.sock")
}

// runContainerd runs containerd as a child process. Pdeathsig: no containerd outlives its
// node process. Containers do: their shims are reparented, as upstream intends, and the next
// containerd finds them again.
func (s *Service) runContainerd(ctx context.Context) error {
	cfgPath := filepath.Join(s.cfg.RunDir, "containerd.toml")
	if err := os.MkdirAll(filepath.Join(s.cfg.RunDir, "containerd"), 0o711); err != nil {
		return err
	}
	if err := os.WriteFile(cfgPath, []byte(s.containerdConfig()), 0o600); err != nil {
		return fmt.Errorf("write containerd configuration: %w", err)
	}
	cmd := exec.Command(filepath.Join(s.cfg.BinDir, "containerd"), "--config", cfgPath, "--log-level", "warn")
	// The shim is found by PATH; runc by the path in the configuration.
	cmd.Env = []string{"PATH=" + s.cfg.BinDir, "TMPDIR=" + s.cfg.RunDir, childGOGC}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return supervisor.RunCommand(ctx, cmd)
}

// waitForSocket returns once a unix socket at path accepts connections.
func waitForSocket(ctx context.Context, path string) error {
	for {
		c, err := net.DialTimeout("unix", path, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
