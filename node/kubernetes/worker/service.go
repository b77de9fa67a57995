package worker

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	containerd "github.com/containerd/containerd/v2/client"

	"metropolis.dev/metropolis/node/kubernetes/apiproxy"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// Service runs one node's Kubernetes worker. Run it under the supervisor.
type Service struct {
	cfg Config
}

// New checks cfg (cgroup v2, the runtime's binaries) and returns the worker.
func New(cfg Config) (*Service, error) {
	cfg, err := checkConfig(cfg)
	if err != nil {
		return nil, err
	}
	return &Service{cfg: cfg}, nil
}

func (s *Service) pkiDir() string     { return filepath.Join(s.cfg.StateDir, "pki") }
func (s *Service) cniConfDir() string { return filepath.Join(s.cfg.RunDir, "cni", "net.d") }

// proxyAddress is the loopback listener the kubelet (and this node's clients) reach the
// apiservers through.
func proxyAddress() string {
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports.KubernetesAPIProxy)))
}

// Run gets the worker's certificates, starts containerd, imports the shipped images, then
// starts the kubelet, the node's pod network, service proxy and DNS, and its local volumes. It signals healthy
// once all of them run; each restarts on its own when it fails.
func (s *Service) Run(ctx context.Context) error {
	logger := supervisor.Logger(ctx)
	start := time.Now()
	for _, d := range []string{s.cfg.StateDir, s.cniConfDir()} {
		if err := os.MkdirAll(d, 0o711); err != nil {
			return err
		}
	}
	creds, err := fetchCredentials(ctx, s.cfg.Curator, s.cfg.Address)
	if err != nil {
		return err
	}
	if err := creds.write(s.pkiDir(), "https://"+proxyAddress()); err != nil {
		return err
	}
	logger.Infof("Kubernetes credentials issued; apiservers: %v", creds.apiserverEndpoints)
	renew := &renewer{s: s, current: creds}
	if err := supervisor.Run(ctx, "renew-certificates", renew.run); err != nil {
		return err
	}
	servers := &apiservers{endpoints: creds.apiserverEndpoints}
	if err := supervisor.Run(ctx, "apiservers", func(ctx context.Context) error { return servers.follow(ctx, s) }); err != nil {
		return err
	}
	proxy := &apiproxy.Proxy{Endpoints: servers.get, Log: logger.Infof}
	if err := supervisor.Run(ctx, "apiproxy", func(ctx context.Context) error {
		l, err := net.Listen("tcp", proxyAddress())
		if err != nil {
			return fmt.Errorf("apiserver proxy: %w", err)
		}
		supervisor.Signal(ctx, supervisor.SignalHealthy)
		return proxy.Serve(ctx, l)
	}); err != nil {
		return err
	}
	if err := supervisor.Run(ctx, "containerd", s.runContainerd); err != nil {
		return err
	}
	if err := waitForSocket(ctx, s.containerdSocket()); err != nil {
		return err
	}
	client, err := containerd.New(s.containerdSocket(), containerd.WithDefaultNamespace(containerdNamespace))
	if err != nil {
		return fmt.Errorf("connect to containerd: %w", err)
	}
	defer client.Close()
	if err := importShipped(ctx, client, s.cfg.ImagesDir, logger.Infof); err != nil {
		return err
	}
	logger.Infof("containerd up, shipped images imported %.1fs after start", time.Since(start).Seconds())
	if err := supervisor.Run(ctx, "kubelet", s.runKubelets); err != nil {
		return err
	}
	if err := s.runNetwork(ctx, creds); err != nil {
		return err
	}
	if err := s.runLocalVolumes(ctx, creds); err != nil {
		return err
	}
	if err := supervisor.Run(ctx, "memory", s.manageMemory); err != nil {
		return err
	}
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	<-ctx.Done()
	return ctx.Err()
}
