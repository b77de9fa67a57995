package roleserve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"sync"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	"metropolis.dev/metropolis/node/kubernetes/worker"
	"metropolis.dev/metropolis/node/nodemgmt"
	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// Directories of the Kubernetes worker: its persistent files in the state directory, its
// volatile ones (sockets, CNI state) in defaultRunDir unless Config.RunDir says otherwise.
const (
	workerDir     = "kubernetes-worker"
	defaultRunDir = "/run/metropolis/kubernetes-worker"
)

func hasWorkerRole(r *cpb.NodeRoles) bool { return r != nil && r.KubernetesWorker != nil }

// LoadImage imports a container image archive into this node's Kubernetes worker, if it runs
// one (see worker.Service.LoadImage).
func (s *Service) LoadImage(ctx context.Context, path string) ([]string, error) {
	w := s.worker.Load()
	if w == nil {
		return nil, fmt.Errorf("%w: it lacks the KubernetesWorker role, or its worker could not start", nodemgmt.ErrNoWorker)
	}
	return w.LoadImage(ctx, path)
}

// runWorker runs the Kubernetes worker while the node has KubernetesWorker. A node that cannot
// run one (a hosted node on a cgroup v1 machine, a node program without the runtime next to
// it) fails here with the reason, which the node's status shows as this runnable's last error.
func (s *Service) runWorker(ctx context.Context, cur cpb.CuratorClient) error {
	w := s.roles.Watch()
	defer w.Close()
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	if _, err := w.Get(ctx, event.Filter(hasWorkerRole)); err != nil {
		return err
	}
	runDir := s.cfg.RunDir
	if runDir == "" {
		runDir = defaultRunDir
	}
	binDir := ""
	if s.cfg.KubeBinary != "" {
		binDir = filepath.Dir(s.cfg.KubeBinary)
	}
	address := s.Address()
	svc, err := worker.New(worker.Config{
		NodeID:   s.cfg.NodeID,
		Address:  address,
		StateDir: filepath.Join(s.cfg.StateDir, workerDir),
		RunDir:   runDir,
		BinDir:   binDir,
		Curator:  cur,
		Clock:    s.cfg.Clock,
		Kubelet:  s.KubeletConfiguration,
	})
	if err != nil {
		supervisor.Logger(ctx).Errorf("not starting the Kubernetes worker: %v", err)
		return err
	}
	if err := supervisor.Run(ctx, "worker", svc.Run); err != nil {
		return err
	}
	s.worker.Store(svc)
	defer s.worker.Store(nil)
	// The worker serves and registers its Node at the node's address: when the address moves
	// (the node's network configuration), the worker starts over at the new one. Containers
	// keep running meanwhile; the kubelet takes them up again.
	wctx, cancel := context.WithCancel(ctx)
	var waits sync.WaitGroup
	defer waits.Wait() // before w.Close: the watchers are the goroutines' until then
	defer cancel()
	moved := make(chan net.IP, 1)
	waits.Go(func() {
		aw := s.address.Watch()
		defer aw.Close()
		if addr, err := aw.Get(wctx, event.Filter(func(a net.IP) bool { return !a.Equal(address) })); err == nil {
			moved <- addr
		}
	})
	removed := make(chan error, 1)
	waits.Go(func() {
		_, err := w.Get(wctx, event.Filter(func(r *cpb.NodeRoles) bool { return r != nil && !hasWorkerRole(r) }))
		removed <- err
	})
	select {
	case <-ctx.Done():
		return ctx.Err()
	case addr := <-moved:
		supervisor.Logger(ctx).Infof("the node's address moved from %s to %s: restarting the Kubernetes worker there", address, addr)
		return fmt.Errorf("the node's address moved from %s to %s", address, addr)
	case err := <-removed:
		if err != nil {
			return err
		}
	}
	supervisor.Logger(ctx).Infof("KubernetesWorker removed: stopping the Kubernetes worker")
	return errors.New("KubernetesWorker removed")
}
