package core

import (
	"bytes"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/osbase/atomicfile"
)

// The node's own files in its state directory. Everything else there belongs to the services
// (consensus/ to the etcd member).
const (
	nodeKeyFile  = "node.key"  // the node's ed25519 key (PKCS#8 PEM)
	consensusDir = "consensus" // the etcd member's data, owned by node/consensus
	// legacyMembershipFile is where releases before the one membership record kept the node
	// certificate, curators and pending bootstrap. A node that finds it folds it into its
	// sealed record once (enrol) and removes it.
	legacyMembershipFile = "membership.json"
)

// membership is what a node gets by becoming a member of its cluster (bootstrap or
// registration), for its sealed record.
type membership struct {
	// CACertificate and NodeCertificate are DER.
	CACertificate   []byte   `json:"ca_certificate"`
	NodeCertificate []byte   `json:"node_certificate"`
	Curators        []string `json:"curators"`
	// Bootstrap is set on the first node until the cluster has been created.
	Bootstrap *pendingBootstrap `json:"bootstrap,omitempty"`
	// AttestationKey is the blob of the attestation key this node enrolled with; not part of
	// the legacy membership file.
	AttestationKey []byte `json:"-"`
}

// record puts m into r: the node is a member from now on. The storage key's cluster half stays
// escrowed only on the first node (a consensus member from the start); any other node gets it
// from the cluster at its next start, and keepClusterHalfEscrow escrows it again if the node
// becomes a consensus member.
func (m *membership) record(r *sealedRecord, nodeID string) {
	r.NodeID, r.CACertificate, r.NodeCertificate, r.Curators, r.Bootstrap = nodeID, m.CACertificate, m.NodeCertificate, m.Curators, m.Bootstrap
	r.AttestationKey = m.AttestationKey
	if m.Bootstrap == nil {
		r.ClusterHalf = nil
	}
}

// loadLegacyMembership reads a membership file of an older release; a node that has none gets
// (nil, nil).
func loadLegacyMembership(stateDir string) (*membership, error) {
	path := filepath.Join(stateDir, legacyMembershipFile)
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m membership
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%s is damaged: %w", path, err)
	}
	if _, err := pki.ParseCertificateDER(m.CACertificate); err != nil {
		return nil, fmt.Errorf("%s: ca_certificate: %w", path, err)
	}
	if _, err := pki.ParseCertificateDER(m.NodeCertificate); err != nil {
		return nil, fmt.Errorf("%s: node_certificate: %w", path, err)
	}
	if len(m.Curators) == 0 {
		return nil, fmt.Errorf("%s: curators: empty", path)
	}
	return &m, nil
}

// loadOrCreateKey returns the ed25519 key in file, creating it on the node's first start.
func loadOrCreateKey(stateDir, file string) (ed25519.PrivateKey, error) {
	path := filepath.Join(stateDir, file)
	data, err := os.ReadFile(path)
	if err == nil {
		key, err := identity.ParsePrivateKeyPEM(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		return key, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	_, key, err := identity.GenerateKey()
	if err != nil {
		return nil, err
	}
	pemData, err := identity.MarshalPrivateKeyPEM(key)
	if err != nil {
		return nil, err
	}
	if err := atomicfile.Write(path, pemData, 0o600); err != nil {
		return nil, err
	}
	return key, nil
}
