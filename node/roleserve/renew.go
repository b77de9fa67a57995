package roleserve

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	"metropolis.dev/metropolis/node/consensus"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/renewal"
	"metropolis.dev/metropolis/osbase/event"
)

// renewNodeCertificates keeps the node certificate valid while the node runs: once two thirds
// of its lifetime have passed the curator issues a new one for the same key, which is checked
// and then presented by every new connection (pki.Renewable, which the node watches to keep it
// for its next start). A failed attempt is logged and retried; the node keeps the certificate
// it has (renewal.Loop).
func (s *Service) renewNodeCertificates(ctx context.Context, cur cpb.CuratorClient) error {
	loop := renewal.Loop{
		What: "node certificate", Clock: s.cfg.Clock,
		Current: func() (renewal.Validity, error) {
			leaf := s.cfg.NodeCertificate.Current().Leaf
			return renewal.Validity{NotBefore: leaf.NotBefore, NotAfter: leaf.NotAfter, Outdated: lacksAddress(leaf, s.Address())}, nil
		},
		Renew: func(ctx context.Context) error { return s.renewNodeCertificate(ctx, cur) },
	}
	return loop.Run(ctx)
}

// lacksAddress says why a node certificate is outdated if it does not name the node's address
// (issued before the curator knew it, or before a DHCP change): clients that dial the node by
// address and verify it by it (a Prometheus server scraping node/metrics) would refuse it.
// Empty if it names addr, or if the node has no address to name.
func lacksAddress(leaf *x509.Certificate, addr net.IP) string {
	if addr == nil || addr.IsUnspecified() {
		return ""
	}
	for _, ip := range leaf.IPAddresses {
		if ip.Equal(addr) {
			return ""
		}
	}
	return fmt.Sprintf("does not name this node's address %s", addr)
}

// renewNodeCertificate has the curator issue a node certificate for this node's key and, if
// it is one this node can use (pki.RenewedNodeCertificate), presents it.
func (s *Service) renewNodeCertificate(ctx context.Context, cur cpb.CuratorClient) error {
	_, der, err := s.issue(ctx, cur, cpb.CertificateKind_CERTIFICATE_KIND_NODE)
	if err != nil {
		return err
	}
	tlsCert, err := pki.RenewedNodeCertificate(der, s.cfg.NodeCertificate.Current().Leaf, s.cfg.CA, s.cfg.NodeKey)
	if err != nil {
		return err
	}
	s.cfg.NodeCertificate.Replace(tlsCert)
	return nil
}

func (s *Service) consensusCertificate() (*x509.Certificate, error) {
	return ReadConsensusCertificate(s.cfg.StateDir)
}

// ReadConsensusCertificate reads the etcd certificate stored in stateDir.
func ReadConsensusCertificate(stateDir string) (*x509.Certificate, error) {
	data, err := os.ReadFile(filepath.Join(stateDir, consensusCertFile))
	if err != nil {
		return nil, fmt.Errorf("consensus certificate: %w", err)
	}
	return pki.ParseCertificatePEM(data)
}

// renewConsensusCertificate has the curator issue an etcd certificate for this node's key
// and, if this member can use it, replaces the stored one. The member reads it when it
// starts: the caller restarts it.
func (s *Service) renewConsensusCertificate(ctx context.Context, cur cpb.CuratorClient) (*x509.Certificate, error) {
	current, err := s.consensusCertificate()
	if err != nil {
		return nil, err
	}
	cert, der, err := s.issue(ctx, cur, cpb.CertificateKind_CERTIFICATE_KIND_CONSENSUS_PEER)
	if err != nil {
		return nil, err
	}
	if name, err := pki.VerifyService(cert, s.cfg.CA, pki.PurposeServer, time.Now()); err != nil {
		return nil, fmt.Errorf("the curator issued an unusable etcd certificate: %w", err)
	} else if name != consensus.PeerCommonName {
		return nil, fmt.Errorf("the curator issued a certificate for %q, not an etcd peer certificate (%q)", name, consensus.PeerCommonName)
	}
	if err := s.checkRenewal(cert, current); err != nil {
		return nil, err
	}
	return cert, WriteConsensusCertificate(s.cfg.StateDir, der)
}

// issue asks the curator for a certificate of kind for this node's key.
func (s *Service) issue(ctx context.Context, cur cpb.CuratorClient, kind cpb.CertificateKind) (*x509.Certificate, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	res, err := cur.IssueCertificate(ctx, &cpb.IssueCertificateRequest{
		Kind: kind, PublicKey: s.cfg.NodeKey.Public().(ed25519.PublicKey),
	})
	if err != nil {
		return nil, nil, err
	}
	cert, err := pki.ParseCertificateDER(res.Certificate)
	if err != nil {
		return nil, nil, fmt.Errorf("the curator issued an unparseable certificate: %w", err)
	}
	return cert, res.Certificate, nil
}

// checkRenewal refuses a renewed certificate for another key, or one that expires no later
// than the certificate it replaces.
func (s *Service) checkRenewal(renewed, current *x509.Certificate) error {
	pub, ok := renewed.PublicKey.(ed25519.PublicKey)
	if !ok || !pub.Equal(s.cfg.NodeKey.Public()) {
		return fmt.Errorf("the curator issued a certificate for another key")
	}
	if !renewed.NotAfter.After(current.NotAfter) {
		return fmt.Errorf("the renewed certificate expires at %s, no later than the current one (%s)",
			formatTime(renewed.NotAfter), formatTime(current.NotAfter))
	}
	return nil
}

func formatTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// waitForRoleRemoval returns nil once the curator says this node is no consensus member any
// more. Meanwhile it renews the member's etcd certificate when due and then returns an error:
// the supervisor restarts the member, which reads the new certificate (restarting one member
// at a time, once in eight months, costs less than teaching etcd and every client of it to
// swap certificates while running). A failed renewal is logged and retried, never a restart.
func (s *Service) waitForRoleRemoval(ctx context.Context, w event.Watcher[*cpb.NodeRoles], cur cpb.CuratorClient) error {
	loop := renewal.Loop{
		What: "etcd certificate", Clock: s.cfg.Clock,
		Current: func() (renewal.Validity, error) {
			cert, err := s.consensusCertificate()
			if err != nil {
				return renewal.Validity{}, err
			}
			return renewal.Validity{NotBefore: cert.NotBefore, NotAfter: cert.NotAfter}, nil
		},
		Renew: func(ctx context.Context) error {
			cert, err := s.renewConsensusCertificate(ctx, cur)
			if err != nil {
				return err
			}
			return renewal.Restart(fmt.Errorf("etcd certificate renewed (valid until %s): restarting this node's member with it", formatTime(cert.NotAfter)))
		},
	}
	// The loop ends only to have the member restarted (or on a broken certificate file); the
	// role's removal ends the wait for it.
	waitCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	renewed := make(chan error, 1)
	go func() {
		renewed <- loop.Run(waitCtx)
		cancel()
	}()
	removed := event.Filter(func(r *cpb.NodeRoles) bool { return r != nil && !hasConsensusRole(r) })
	_, err := w.Get(waitCtx, removed)
	cancel()
	renewErr := <-renewed
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return ctx.Err()
	default:
		return renewErr
	}
}
