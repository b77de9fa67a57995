package worker

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	srvconfig "github.com/containerd/containerd/v2/cmd/containerd/server/config"
	containerdversion "github.com/containerd/containerd/v2/version"
	"golang.org/x/sys/unix"

	cpb "metropolis.dev/metropolis/api/curator/v1"
)

// cgroup2Root returns a mounted cgroup v2 hierarchy of this machine, or "" if it has none.
func cgroup2Root() string {
	for _, p := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if unix.Statfs(p, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return p
		}
	}
	return ""
}

func TestCheckConfigRefusesCgroupV1(t *testing.T) {
	var st unix.Statfs_t
	if err := unix.Statfs("/sys/fs/cgroup", &st); err != nil || st.Type == unix.CGROUP2_SUPER_MAGIC {
		t.Skip("this machine mounts cgroup v2 at /sys/fs/cgroup: nothing to refuse")
	}
	_, err := New(Config{NodeID: "n", Address: net.IPv4(10, 0, 0, 1), StateDir: "s", RunDir: "r"})
	if !errors.Is(err, ErrCgroupV1) || !strings.Contains(err.Error(), "cgroup v2") {
		t.Fatalf("New on a cgroup v1 host: %v, want ErrCgroupV1", err)
	}
}

func TestCheckConfigNamesWhatIsMissing(t *testing.T) {
	root := cgroup2Root()
	if root == "" {
		t.Skip("no cgroup v2 hierarchy on this machine")
	}
	bin := t.TempDir()
	for _, b := range binaries {
		if b == "runc" {
			continue
		}
		if err := os.WriteFile(filepath.Join(bin, b), nil, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	_, err := New(Config{NodeID: "", Address: net.IPv4(127, 0, 0, 1), StateDir: "s", RunDir: "r",
		BinDir: bin, CgroupRoot: root, Curator: cpb.NewCuratorClient(nil)})
	if err == nil {
		t.Fatal("New accepted a config without node ID, with a loopback address and no runc")
	}
	for _, want := range []string{"node ID is empty", "not a routable node address", filepath.Join(bin, "runc") + " is missing",
		filepath.Join(bin, "cni", "ptp") + " is missing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

func TestGeneratedConfigurations(t *testing.T) {
	s := &Service{cfg: Config{NodeID: "metropolis-00", Address: net.IPv4(10, 64, 0, 2), StateDir: "/data/w", RunDir: "/run/w", BinDir: "/bin"}}
	for _, tc := range []struct {
		name, text string
		want       []string
	}{
		{"containerd", s.containerdConfig(), []string{`root = "/data/w/containerd"`, `address = "/run/w/containerd/containerd.sock"`,
			`sandbox = "metropolis.dev/pause:v1"`, `BinaryName = "/bin/runc"`, `bin_dirs = ["/bin/cni"]`, `conf_dir = "/run/w/cni/net.d"`}},
		{"kubelet", s.kubeletConfig(nil), []string{`address: "10.64.0.2"`, "port: 10250", "anonymous: {enabled: false}",
			`clusterDNS: ["169.254.20.10"]`, `containerRuntimeEndpoint: "unix:///run/w/containerd/containerd.sock"`, "cgroupDriver: cgroupfs"}},
	} {
		for _, w := range tc.want {
			if !strings.Contains(tc.text, w) {
				t.Errorf("%s configuration lacks %q:\n%s", tc.name, w, tc.text)
			}
		}
	}
}

// TestContainerdConfigIsCurrent loads the containerd configuration with containerd's own
// loader: it must be the version the containerd we build reads without migrating, and carry
// the socket addresses where the kubelet and the shims look for them, and the metrics
// listener where the node's metrics port reads containerd (MetricsComponents).
func TestContainerdConfigIsCurrent(t *testing.T) {
	s := &Service{cfg: Config{StateDir: "/data/w", RunDir: "/run/w", BinDir: "/bin"}}
	path := filepath.Join(t.TempDir(), "containerd.toml")
	if err := os.WriteFile(path, []byte(s.containerdConfig()), 0o600); err != nil {
		t.Fatal(err)
	}
	var loaded srvconfig.Config
	if err := srvconfig.LoadConfig(context.Background(), path, &loaded); err != nil {
		t.Fatalf("containerd cannot load the configuration: %v", err)
	}
	if loaded.Version != containerdversion.ConfigVersion {
		t.Errorf("configuration version %d, containerd %s reads version %d", loaded.Version, containerdversion.Version, containerdversion.ConfigVersion)
	}
	for plugin, want := range map[string]string{
		"io.containerd.server.v1.grpc":  "/run/w/containerd/containerd.sock",
		"io.containerd.server.v1.ttrpc": "/run/w/containerd/containerd.sock.ttrpc",
		// Loopback only: containerd's metrics carry no authentication of their own.
		"io.containerd.server.v1.metrics": "127.0.0.1:1338",
	} {
		cfg, _ := loaded.Plugins[plugin].(map[string]any)
		if got := cfg["address"]; got != want {
			t.Errorf("%s address = %v, want %q", plugin, got, want)
		}
	}
}
