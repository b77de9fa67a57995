package core

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"

	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/osbase/atomicfile"
)

// The node's own files in its state directory. Everything else there belongs to the services
// (consensus/ to the etcd member).
const (
	nodeKeyFile    = "node.key"        // the node's ed25519 key (PKCS#8 PEM)
	membershipFile = "membership.json" // what the node got when it became part of a cluster
	consensusDir   = "consensus"       // the etcd member's data, owned by node/consensus
)

// membership is what a node that belongs to a cluster keeps: enough to call the cluster again
// after its data is unlocked. What it needs before that (the join key, the storage key's node
// half) is in the sealed record (sealed.go).
type membership struct {
	// CACertificate and NodeCertificate are DER.
	CACertificate   []byte `json:"ca_certificate"`
	NodeCertificate []byte `json:"node_certificate"`
	// Curators lists host:port of the cluster's curators when this node last heard.
	Curators []string `json:"curators"`
	// Bootstrap is set on the first node until the cluster has been created.
	Bootstrap *pendingBootstrap `json:"bootstrap,omitempty"`
}

func (m *membership) ca() (*x509.Certificate, error) {
	cert, err := pki.ParseCertificateDER(m.CACertificate)
	if err != nil {
		return nil, fmt.Errorf("membership: ca_certificate: %w", err)
	}
	return cert, nil
}

func (m *membership) nodeCertificate() (*x509.Certificate, error) {
	cert, err := pki.ParseCertificateDER(m.NodeCertificate)
	if err != nil {
		return nil, fmt.Errorf("membership: node_certificate: %w", err)
	}
	return cert, nil
}

// loadMembership reads the membership file; a node that has none yet gets (nil, nil).
func loadMembership(stateDir string) (*membership, error) {
	path := filepath.Join(stateDir, membershipFile)
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
	if _, err := m.ca(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if _, err := m.nodeCertificate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(m.Curators) == 0 {
		return nil, fmt.Errorf("%s: membership: curators: empty", path)
	}
	return &m, nil
}

// membershipStore serializes changes to the membership record after the node started, when
// the role workers change it from their own goroutines (the bootstrap finishing, curators
// learned).
type membershipStore struct {
	stateDir string
	mu       sync.Mutex
	current  membership
}

// get returns the record as last saved.
func (s *membershipStore) get() membership {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current
}

// update applies change to a copy of the record and saves it; the record changes only if the
// save succeeded.
func (s *membershipStore) update(change func(m *membership)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.current
	change(&next)
	if err := saveMembership(s.stateDir, &next); err != nil {
		return err
	}
	s.current = next
	return nil
}

func saveMembership(stateDir string, m *membership) error {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(stateDir, membershipFile), data, 0o600)
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
