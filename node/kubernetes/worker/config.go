package worker

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
	"k8s.io/utils/clock"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/event"

	cpb "metropolis.dev/metropolis/api/curator/v1"
)

// Files the worker runs, looked for in Config.BinDir.
var binaries = []string{"kube", "containerd", "containerd-shim-runc-v2", "runc", "mount", "umount", "losetup"}

// CNI plugins the pod network uses, looked for in Config.BinDir/cni.
var cniPlugins = []string{"ptp", "host-local"}

// Config is what the worker needs from the node.
type Config struct {
	// NodeID is the node's name in Kubernetes.
	NodeID string
	// Address is the node's address: the kubelet's node IP and where it serves.
	Address net.IP
	// StateDir keeps the worker's files across restarts (on the data partition).
	StateDir string
	// RunDir keeps what means nothing after a reboot (a tmpfs): sockets, CNI state.
	RunDir string
	// BinDir holds kube, containerd, containerd-shim-runc-v2, runc, mount, umount and losetup, and
	// the CNI plugins in BinDir/cni. Empty: the node program's directory.
	BinDir string
	// ImagesDir holds the OCI archives imported at start. Empty: BinDir/../images.
	ImagesDir string
	// Curator issues the worker's certificates.
	Curator cpb.CuratorClient
	// CgroupRoot is where the cgroup v2 hierarchy is mounted; empty: /sys/fs/cgroup.
	CgroupRoot string
	// ResolvConf lists the node's resolvers, to which the cluster DNS forwards names outside
	// the cluster; empty: /etc/resolv.conf.
	ResolvConf string
	// Clock is the time certificate renewals wait by; nil: the real clock.
	Clock clock.WithTicker
	// Kubelet, if set, follows the node's configured kubelet reservations; the kubelet is
	// restarted with each change (pods keep running). Nil: none.
	Kubelet func() event.Watcher[*apb.KubeletConfiguration]
}

// ErrCgroupV1 is why a worker does not start on a host without the unified cgroup hierarchy.
var ErrCgroupV1 = errors.New("the KubernetesWorker role needs cgroup v2 (the unified hierarchy) and this host mounts cgroup v1; " +
	"run workers on nodes booted from the node image (metroctl cluster launch without --hosted)")

// checkConfig fills in defaults and checks what the worker needs is there.
func checkConfig(cfg Config) (Config, error) {
	root := cfg.CgroupRoot
	if root == "" {
		root = "/sys/fs/cgroup"
	}
	var st unix.Statfs_t
	if err := unix.Statfs(root, &st); err != nil {
		return cfg, fmt.Errorf("kubernetes worker: cgroup hierarchy %s: %w", root, err)
	}
	if st.Type != unix.CGROUP2_SUPER_MAGIC {
		return cfg, fmt.Errorf("kubernetes worker: %w", ErrCgroupV1)
	}
	var errs []error
	if cfg.NodeID == "" {
		errs = append(errs, errors.New("node ID is empty"))
	}
	if cfg.Address == nil || cfg.Address.IsLoopback() || cfg.Address.IsUnspecified() {
		errs = append(errs, fmt.Errorf("address %v is not a routable node address", cfg.Address))
	}
	if cfg.StateDir == "" || cfg.RunDir == "" {
		errs = append(errs, errors.New("state and run directories are required"))
	}
	if cfg.Curator == nil {
		errs = append(errs, errors.New("a curator client is required"))
	}
	if cfg.BinDir == "" {
		self, err := os.Executable()
		if err != nil {
			return cfg, fmt.Errorf("kubernetes worker: find the node program: %w", err)
		}
		cfg.BinDir = filepath.Dir(self)
	}
	if cfg.ImagesDir == "" {
		cfg.ImagesDir = filepath.Join(cfg.BinDir, "..", "images")
	}
	if cfg.ResolvConf == "" {
		cfg.ResolvConf = defaultResolvConf
	}
	for _, b := range binaries {
		errs = append(errs, checkExecutable(filepath.Join(cfg.BinDir, b)))
	}
	for _, p := range cniPlugins {
		errs = append(errs, checkExecutable(filepath.Join(cfg.BinDir, "cni", p)))
	}
	if err := errors.Join(errs...); err != nil {
		return cfg, fmt.Errorf("kubernetes worker: %w", err)
	}
	return cfg, nil
}

func checkExecutable(path string) error {
	st, err := os.Stat(path)
	if err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return fmt.Errorf("%s is missing or not executable (the node image ships it; scripts/build-runtime builds it)", path)
	}
	return nil
}
