package curator

import (
	"context"
	"crypto/ed25519"
	"crypto/x509"
	"fmt"
	"net"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	"metropolis.dev/metropolis/node/consensus"
	"metropolis.dev/metropolis/node/pki"
)

// Certificate lifetimes. Nothing revokes a certificate (the registry refuses deleted nodes
// instead), so leaf lifetimes only bound how long a stolen key stays useful against other
// parties.
//
// Renewal is not implemented yet: Curator.IssueCertificate can issue a fresh node or etcd
// certificate, but no node asks for one before its certificate expires (roleserve asks only
// for an etcd certificate, when it is granted the consensus member role). A node certificate
// therefore lasts NodeCertificateValidity (a year) from CommitNode, and an etcd certificate
// ConsensusCertificateValidity from the role grant; after that the node's calls are refused
// until renewal exists. The owner escrows again for a new owner certificate.
const (
	// CAValidity is the cluster CA's lifetime; no leaf may outlive it.
	CAValidity = 20 * 365 * 24 * time.Hour
	// NodeCertificateValidity is a node certificate's lifetime.
	NodeCertificateValidity = 365 * 24 * time.Hour
	// OwnerCertificateValidity is the lifetime of an owner certificate from AAA.Escrow; the
	// owner escrows again (with the owner key) for a new one.
	OwnerCertificateValidity = 365 * 24 * time.Hour
	// ConsensusCertificateValidity is an etcd member certificate's lifetime.
	ConsensusCertificateValidity = 365 * 24 * time.Hour
)

// caCommonName names every Metropolis cluster CA; clusters are told apart by the CA's key.
const caCommonName = "Metropolis cluster CA"

// ownerUserName is the user name in owner certificates.
const ownerUserName = "owner"

// NewClusterCA creates the CA of a new cluster. The bootstrapping node calls it before etcd
// runs, issues its etcd certificate from it, and hands it to Bootstrap.
func NewClusterCA() (*pki.CA, error) {
	return pki.NewCA(caCommonName, CAValidity)
}

// IssueConsensusCertificate issues the etcd certificate (peer and client use, from the same
// certificate as package consensus wants) of node nodeID, for key pub, valid at ip. The
// bootstrapping node calls it for itself; the curator for other nodes
// (Curator.IssueCertificate).
func IssueConsensusCertificate(ca *pki.CA, nodeID string, pub ed25519.PublicKey, ip net.IP) (*x509.Certificate, error) {
	if ip == nil {
		return nil, fmt.Errorf("consensus certificate for %s: no IP address", nodeID)
	}
	return ca.IssueServiceCertificate(pki.ServiceRequest{
		CommonName:  consensus.PeerCommonName,
		IPAddresses: []net.IP{ip},
		Usage:       pki.ServicePeer,
		PublicKey:   pub,
	}, ConsensusCertificateValidity)
}

// issueNodeCertificate issues a node certificate, valid at the node's reported address if it
// has one.
func issueNodeCertificate(ca *pki.CA, n *cpb.NodeRecord) (*x509.Certificate, error) {
	var ips []net.IP
	if ip := net.ParseIP(n.GetStatus().GetExternalAddress()); ip != nil {
		ips = append(ips, ip)
	}
	return ca.IssueNodeCertificate(n.GetPublicKey(), ips, NodeCertificateValidity)
}

// getCA loads the CA with its key; only the leader needs the key.
func getCA(ctx context.Context, kv clientv3.KV) (*pki.CA, error) {
	var rec cpb.CARecord
	found, err := getProto(ctx, kv, keyCA, &rec)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errNotBootstrapped
	}
	return pki.ParseCADER(rec.GetCertificate(), rec.GetPrivateKey())
}

// getCACertificate loads the CA certificate alone, which is what every curator needs to
// verify callers and answer Discovery.
func getCACertificate(ctx context.Context, kv clientv3.KV) (*x509.Certificate, error) {
	var rec cpb.CARecord
	found, err := getProto(ctx, kv, keyCA, &rec)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, errNotBootstrapped
	}
	return pki.ParseCertificateDER(rec.GetCertificate())
}

func putCAOp(ca *pki.CA) (clientv3.Op, error) {
	certDER, keyDER, err := ca.MarshalDER()
	if err != nil {
		return clientv3.Op{}, err
	}
	return putProtoOp(keyCA, &cpb.CARecord{Certificate: certDER, PrivateKey: keyDER})
}
