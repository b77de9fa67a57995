package roleserve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	"metropolis.dev/metropolis/node/consensus"
	"metropolis.dev/metropolis/node/kubernetes"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// kubernetesDir holds the control plane's files in the state directory.
const kubernetesDir = "kubernetes"

func hasKubernetesRole(r *cpb.NodeRoles) bool { return r != nil && r.KubernetesController != nil }

// runKubernetes runs the Kubernetes control plane while the node has KubernetesController, on
// top of this node's etcd member: etcd serves clients on loopback only, so a controller must
// also be a consensus member (the worker waits, saying so, until the member runs). Removing
// the role (or a restart of the etcd member) ends the worker, which stops the components; the
// supervisor starts it again, and it waits for the role.
func (s *Service) runKubernetes(ctx context.Context, cur cpb.CuratorClient) error {
	logger := supervisor.Logger(ctx)
	w := s.roles.Watch()
	defer w.Close()
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	if _, err := w.Get(ctx, event.Filter(hasKubernetesRole)); err != nil {
		return err
	}
	ew := s.localEtcd.Watch()
	defer ew.Close()
	logger.Infof("KubernetesController: waiting for this node's etcd member (a controller must also be a ConsensusMember)")
	st, err := ew.Get(ctx, event.Filter(func(st *consensus.Status) bool { return st != nil }))
	if err != nil {
		return err
	}
	svc, err := s.newKubernetes(st, cur)
	if err != nil {
		// A missing kube binary does not get better by retrying: say so once and wait for
		// the role to change.
		logger.Errorf("not starting the Kubernetes control plane: %v", err)
	} else if err := supervisor.Run(ctx, "controlplane", svc.Run); err != nil {
		return err
	} else {
		s.controlPlane.Store(svc)
		defer s.controlPlane.Store(nil)
	}
	// Run until the role goes, or until the etcd member restarts (the control plane's etcd
	// client, used for the Kubernetes PKI, would then be stale).
	ended := make(chan string, 2)
	go func() {
		if _, err := w.Get(ctx, event.Filter(func(r *cpb.NodeRoles) bool { return r != nil && !hasKubernetesRole(r) })); err == nil {
			ended <- "KubernetesController removed"
		}
	}()
	go func() {
		if _, err := ew.Get(ctx, event.Filter(func(now *consensus.Status) bool { return now != st })); err == nil {
			ended <- "this node's etcd member stopped"
		}
	}()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case why := <-ended:
		logger.Infof("%s: stopping the Kubernetes control plane", why)
		return errors.New(why)
	}
}

func (s *Service) newKubernetes(st *consensus.Status, cur cpb.CuratorClient) (*kubernetes.Service, error) {
	certPEM, err := os.ReadFile(filepath.Join(s.cfg.StateDir, consensusCertFile))
	if err != nil {
		return nil, fmt.Errorf("consensus certificate: %w", err)
	}
	cert, err := pki.ParseCertificatePEM(certPEM)
	if err != nil {
		return nil, fmt.Errorf("consensus certificate: %w", err)
	}
	etcdCert, err := pki.TLSCertificate(cert, s.cfg.NodeKey)
	if err != nil {
		return nil, err
	}
	return kubernetes.New(kubernetes.Config{
		KubeBinary:            s.cfg.KubeBinary,
		Hostname:              s.cfg.NodeID,
		StateDir:              filepath.Join(s.cfg.StateDir, kubernetesDir),
		Address:               s.cfg.Address,
		Etcd:                  st.Client,
		EtcdAddress:           net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports.ConsensusClient))),
		EtcdCA:                s.cfg.CA,
		EtcdClientCertificate: etcdCert,
		Curator:               cur,
		ClusterConfiguration:  s.clusterConfig.Watch,
		Clock:                 s.cfg.Clock,
	})
}
