package roleserve

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	"metropolis.dev/metropolis/node/consensus"
	"metropolis.dev/metropolis/node/curator"
	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/node/update"
	"metropolis.dev/metropolis/osbase/atomicfile"
	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// Files of the consensus worker in the state directory.
const (
	consensusDataDir  = "consensus"
	consensusCertFile = "consensus-certificate.pem"
)

// ConsensusDataExists says whether stateDir holds an etcd member that once started: such a
// node starts its member before it can reach any curator.
func ConsensusDataExists(stateDir string) bool {
	return consensus.HasMember(filepath.Join(stateDir, consensusDataDir))
}

// WriteConsensusCertificate stores the etcd certificate of a node that starts a member (the
// bootstrapping node, which issues its own).
func WriteConsensusCertificate(stateDir string, certDER []byte) error {
	cert, err := pki.ParseCertificateDER(certDER)
	if err != nil {
		return fmt.Errorf("consensus certificate: %w", err)
	}
	return atomicfile.Write(filepath.Join(stateDir, consensusCertFile), pki.EncodeCertificatePEM(cert), 0o600)
}

func hasConsensusRole(r *cpb.NodeRoles) bool { return r != nil && r.ConsensusMember != nil }

// runConsensus runs this node's etcd member and curator while the node has ConsensusMember.
func (s *Service) runConsensus(ctx context.Context, cur cpb.CuratorClient) error {
	logger := supervisor.Logger(ctx)
	w := s.roles.Watch()
	defer w.Close()

	// A member that started once restarts from its data; the first node bootstraps with the
	// certificate it issued itself; any other node joins with the peers and certificate the
	// curator hands out, and tries again that way if its first start failed.
	var initial map[string]string
	if !ConsensusDataExists(s.cfg.StateDir) && !s.cfg.BootstrapConsensus {
		supervisor.Signal(ctx, supervisor.SignalHealthy)
		roles, err := w.Get(ctx, event.Filter(hasConsensusRole))
		if err != nil {
			return err
		}
		initial = map[string]string{}
		for _, p := range roles.ConsensusMember.Peers {
			initial[p.Name] = p.Url
		}
		logger.Infof("given ConsensusMember: joining etcd with %d peers", len(initial))
		if err := s.fetchConsensusCertificate(ctx, cur); err != nil {
			return err
		}
	}
	certPEM, err := os.ReadFile(filepath.Join(s.cfg.StateDir, consensusCertFile))
	if err != nil {
		return fmt.Errorf("consensus certificate: %w", err)
	}
	keyPEM, err := identity.MarshalPrivateKeyPEM(s.cfg.NodeKey)
	if err != nil {
		return err
	}
	member, err := consensus.New(consensus.Config{
		DataDir: filepath.Join(s.cfg.StateDir, consensusDataDir), Name: s.cfg.NodeID,
		Host: s.cfg.Address.String(), PeerPort: int(ports.ConsensusPeer), ClientPort: int(ports.ConsensusClient),
		CACertificate: pki.EncodeCertificatePEM(s.cfg.CA), Certificate: certPEM, Key: keyPEM,
		InitialCluster: initial,
	})
	if err != nil {
		return err
	}
	if err := supervisor.Run(ctx, "etcd", member.Run); err != nil {
		return err
	}
	if err := supervisor.Run(ctx, "curator", func(ctx context.Context) error { return s.runCurator(ctx, member) }); err != nil {
		return err
	}
	if s.cfg.Time != nil {
		if err := supervisor.Run(ctx, "ntp", s.serveTime); err != nil {
			return err
		}
	}
	supervisor.Signal(ctx, supervisor.SignalHealthy)

	// Run until the curator says the role is gone; then stop, and forget the member. Restart
	// when the etcd certificate was renewed: the member reads it when it starts.
	if err := s.waitForRoleRemoval(ctx, w, cur); err != nil {
		return err
	}
	logger.Infof("ConsensusMember removed: stopping the etcd member and deleting its data")
	s.removeConsensusData.Store(true)
	return errors.New("consensus role removed")
}

// forgetRemovedMember deletes the data of a member whose role was removed, once the worker that
// ran it has stopped (the supervisor restarts a worker only after its children ended).
func (s *Service) forgetRemovedMember() error {
	if !s.removeConsensusData.Swap(false) {
		return nil
	}
	if err := os.RemoveAll(filepath.Join(s.cfg.StateDir, consensusDataDir)); err != nil {
		return err
	}
	if err := os.Remove(filepath.Join(s.cfg.StateDir, consensusCertFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (s *Service) fetchConsensusCertificate(ctx context.Context, cur cpb.CuratorClient) error {
	res, err := cur.IssueCertificate(ctx, &cpb.IssueCertificateRequest{
		Kind:      cpb.CertificateKind_CERTIFICATE_KIND_CONSENSUS_PEER,
		PublicKey: s.cfg.NodeKey.Public().(ed25519.PublicKey),
	})
	if err != nil {
		return fmt.Errorf("get etcd certificate: %w", err)
	}
	if len(res.RevocationList) > 0 {
		// Checked from the member's first connection on, not only once its curator runs.
		if _, err := s.applyRevocationList(res.RevocationList); err != nil {
			return err
		}
	}
	return WriteConsensusCertificate(s.cfg.StateDir, res.Certificate)
}

// applyRevocationList checks that the cluster CA signed the revocation list der and writes it
// where this node's etcd member reads it.
func (s *Service) applyRevocationList(der []byte) (*x509.RevocationList, error) {
	crl, err := pki.VerifyRevocationList(der, s.cfg.CA)
	if err != nil {
		return nil, err
	}
	return crl, consensus.WriteRevocationList(filepath.Join(s.cfg.StateDir, consensusDataDir), der)
}

// followRevocations keeps the member's revocation list the cluster's, read from the local
// member (cl): the etcd certificates of nodes that stopped being members are refused on its
// ports from the moment the curator revokes them.
func (s *Service) followRevocations(ctx context.Context, cl *clientv3.Client) error {
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	return curator.WatchRevocationList(ctx, cl, func(der []byte) error {
		crl, err := s.applyRevocationList(der)
		if err != nil {
			return err
		}
		supervisor.Logger(ctx).Infof("revocation list %v: %d etcd certificates refused", crl.Number, len(crl.RevokedCertificateEntries))
		return nil
	})
}

// runCurator runs the curator on top of the local member once the member is ready.
func (s *Service) runCurator(ctx context.Context, member *consensus.Service) error {
	w := member.Watch()
	defer w.Close()
	st, err := w.Get(ctx, event.Filter(func(st *consensus.Status) bool { return st != nil }))
	if err != nil {
		return err
	}
	// A learner cannot serve the curator (its reads would fail) and does not yet count for
	// quorum: start the curator, and so report it running, once this member votes.
	if err := waitUntilVoter(ctx, st); err != nil {
		return err
	}
	s.localEtcd.Set(st)
	defer s.localEtcd.Set(nil)
	if err := supervisor.Run(ctx, "revocations", func(ctx context.Context) error { return s.followRevocations(ctx, st.Client) }); err != nil {
		return err
	}
	if s.cfg.OnMemberReady != nil {
		if err := s.cfg.OnMemberReady(ctx, st.Client); err != nil {
			return err
		}
	}
	svc, err := curator.New(curator.Config{
		Etcd:             st.Client,
		NodeCertificate:  s.cfg.NodeCertificate,
		ListenAddress:    fmt.Sprintf(":%d", ports.Curator),
		ServerOptions:    s.cfg.RPCServerOptions,
		AdvertiseAddress: fmt.Sprintf("%s:%d", s.cfg.Address, ports.Curator),
		Bundles:          bundleKeeper(s.cfg.Bundles),
	})
	if err != nil {
		return err
	}
	s.curatorRunning.Set(true)
	defer s.curatorRunning.Set(false)
	return svc.Run(ctx)
}

// bundleKeeper is k as the curator's BundleKeeper: nil stays nil (an interface holding a nil
// pointer would not).
func bundleKeeper(k *update.Keeper) curator.BundleKeeper {
	if k == nil {
		return nil
	}
	return k
}

// waitUntilVoter returns once the local member is a voting member of etcd.
func waitUntilVoter(ctx context.Context, st *consensus.Status) error {
	logged := false
	for {
		list, err := st.Client.MemberList(ctx)
		if err == nil {
			for _, m := range list.Members {
				if m.ID == st.MemberID && !m.IsLearner {
					return nil
				}
			}
		}
		if !logged {
			supervisor.Logger(ctx).Infof("waiting for this etcd member to be promoted from learner to voter")
			logged = true
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
