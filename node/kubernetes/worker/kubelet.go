package worker

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	apb "metropolis.dev/metropolis/api/v1"

	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/osbase/logtree"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// Cluster DNS as pods see it: every worker serves it on this link-local address (the way
// NodeLocal DNSCache does), so a pod's queries never leave its node.
const (
	ClusterDomain = "cluster.local"
	DNSAddress    = "169.254.20.10"
)

// kubeletConfig is the kubelet's KubeletConfiguration. Anonymous access is off: the apiserver
// and metrics readers authenticate with certificates from the Kubernetes CA and are authorized
// by the apiserver (webhook). Swap is tolerated (the kubelet is told it may run with it; the
// image has none). resolvConf is empty: the node has no resolver configuration of its own to
// pass to pods, which resolve through the cluster DNS.
func (s *Service) kubeletConfig(reserved *apb.KubeletConfiguration) string {
	pki := s.pkiDir()
	return fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
address: %q
port: %d
readOnlyPort: 0
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %q}
authorization: {mode: Webhook}
tlsCertFile: %q
tlsPrivateKeyFile: %q
rotateCertificates: false
serverTLSBootstrap: false
containerRuntimeEndpoint: %q
cgroupDriver: cgroupfs
failSwapOn: false
clusterDomain: %s
clusterDNS: [%q]
resolvConf: ""
podLogsDir: %q
staticPodPath: ""
volumePluginDir: %q
enableDebuggingHandlers: true
`, s.cfg.Address, ports.Kubelet, filepath.Join(pki, caFile),
		filepath.Join(pki, kubeletServingFile), filepath.Join(pki, kubeletServingFile),
		"unix://"+s.containerdSocket(), ClusterDomain, DNSAddress,
		filepath.Join(s.cfg.StateDir, "pod-logs"), filepath.Join(s.cfg.StateDir, "volume-plugins")) +
		yamlMap("systemReserved", reserved.GetSystemReserved()) + yamlMap("evictionHard", reserved.GetEvictionHard())
}

// yamlMap renders a map of the node's configuration (keys and values checked by
// apb.ValidateNodeConfiguration) as one line of YAML, in key order; nothing if it is empty.
func yamlMap(name string, m map[string]string) string {
	if len(m) == 0 {
		return ""
	}
	parts := make([]string, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%q: %q", k, m[k]))
	}
	return name + ": {" + strings.Join(parts, ", ") + "}\n"
}

// runKubelets runs the kubelet with the node's configured reservations, and again with each
// change of them.
func (s *Service) runKubelets(ctx context.Context) error {
	if s.cfg.Kubelet == nil {
		return s.runKubelet(ctx, nil)
	}
	w := s.cfg.Kubelet()
	defer w.Close()
	waitCtx, cancel := context.WithTimeout(ctx, time.Minute)
	reserved, err := w.Get(waitCtx)
	cancel()
	if err != nil {
		return fmt.Errorf("waiting for the node's configuration from the curator, to start the kubelet with its reservations: %w", err)
	}
	for {
		runCtx, stop := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- s.runKubelet(runCtx, reserved) }()
		next, err := w.Get(ctx)
		stop()
		runErr := <-done
		if err != nil {
			return err
		}
		if !errors.Is(runErr, context.Canceled) && runErr != nil {
			return runErr
		}
		supervisor.Logger(ctx).Infof("kubelet reservations changed (system reserved %v, eviction thresholds %v): restarting the kubelet", next.GetSystemReserved(), next.GetEvictionHard())
		reserved = next
	}
}

// runKubelet runs `kube kubelet` as a child process. It stays in the node's namespaces: its
// mounts must be seen by containerd and the containers.
func (s *Service) runKubelet(ctx context.Context, reserved *apb.KubeletConfiguration) error {
	cfgPath := filepath.Join(s.cfg.RunDir, "kubelet.yaml")
	if err := os.WriteFile(cfgPath, []byte(s.kubeletConfig(reserved)), 0o600); err != nil {
		return fmt.Errorf("write kubelet configuration: %w", err)
	}
	cmd := exec.Command(filepath.Join(s.cfg.BinDir, "kube"), "kubelet",
		"--config="+cfgPath,
		"--kubeconfig="+filepath.Join(s.pkiDir(), kubeletKubeconfig),
		"--hostname-override="+s.cfg.NodeID,
		"--node-ip="+s.cfg.Address.String(),
		"--root-dir="+filepath.Join(s.cfg.StateDir, "kubelet"),
		"--cert-dir="+filepath.Join(s.cfg.StateDir, "kubelet-certs"),
		"--node-labels=node.metropolis.dev/id="+s.cfg.NodeID,
		"--v="+strconv.Itoa(0),
	)
	// mount and umount (cmd/mount) are next to the kubelet: the kubelet mounts volumes with them.
	cmd.Env = []string{"PATH=" + s.cfg.BinDir, childGOGC}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return supervisor.RunCommand(ctx, cmd, supervisor.WithLineParser(logtree.ParseKlog))
}
