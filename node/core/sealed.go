package core

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/node/platform"
)

// storageKeyHalfSize is the size of each half of the storage key (XORed into a 256-bit key).
const storageKeyHalfSize = 32

// sealedRecord is the node's one record of itself and its cluster: what it needs before its
// data partition is unlocked (the node half of its storage key, and how to get the cluster half
// back: its join key, the cluster's CA and curators) and what it got by becoming a member (its
// node certificate, and on the first node a bootstrap not finished yet). The platform seals it
// (on the image: to the TPM, under a policy covering the boot chain), so it is only readable
// on this machine, booted as it was. Every change is one sealed write (sealedStore.update).
//
// ClusterHalf is kept here only while the node cannot get it from the cluster: while it
// registers (the cluster has not taken it yet) and while the node is a consensus member (the
// cluster it would ask keeps its state on this very disk; a node that is the last member could
// never start again). Everyone else gets it back from the cluster at every start, so a machine
// taken out of the cluster, or out of its network, cannot read its own data.
type sealedRecord struct {
	NodeID        string   `json:"node_id,omitempty"`
	JoinKey       []byte   `json:"join_key"` // PKCS#8 PEM
	NodeHalf      []byte   `json:"node_half"`
	ClusterHalf   []byte   `json:"cluster_half,omitempty"`
	CACertificate []byte   `json:"ca_certificate,omitempty"` // DER; set once the node is a member
	Curators      []string `json:"curators,omitempty"`
	// NodeCertificate is DER, set with CACertificate. Records of releases that kept it on the
	// data partition (membership.json) lack it until the node's next start folds that file in.
	NodeCertificate []byte `json:"node_certificate,omitempty"`
	// Bootstrap is set on the first node until the cluster has been created.
	Bootstrap *pendingBootstrap `json:"bootstrap,omitempty"`
	// AttestationKey is the blob of the attestation key made in this machine's TPM when the
	// node enrolled (only this TPM can load it); nil on a node without a TPM.
	AttestationKey []byte `json:"attestation_key,omitempty"`
}

// member says whether the record is a cluster member's.
func (r *sealedRecord) member() bool { return r.CACertificate != nil }

func (r *sealedRecord) ca() (*x509.Certificate, error) {
	cert, err := pki.ParseCertificateDER(r.CACertificate)
	if err != nil {
		return nil, fmt.Errorf("sealed record: ca_certificate: %w", err)
	}
	return cert, nil
}

func (r *sealedRecord) nodeCertificate() (*x509.Certificate, error) {
	cert, err := pki.ParseCertificateDER(r.NodeCertificate)
	if err != nil {
		return nil, fmt.Errorf("sealed record: node_certificate: %w", err)
	}
	return cert, nil
}

// newSealedRecord makes a first start's record: fresh key halves and join key.
func newSealedRecord() (*sealedRecord, error) {
	r := &sealedRecord{NodeHalf: make([]byte, storageKeyHalfSize), ClusterHalf: make([]byte, storageKeyHalfSize)}
	if _, err := rand.Read(r.NodeHalf); err != nil {
		return nil, err
	}
	if _, err := rand.Read(r.ClusterHalf); err != nil {
		return nil, err
	}
	_, joinKey, err := identity.GenerateKey()
	if err != nil {
		return nil, err
	}
	if r.JoinKey, err = identity.MarshalPrivateKeyPEM(joinKey); err != nil {
		return nil, err
	}
	return r, nil
}

// parseSealedRecord decodes and checks a record, naming the field that is wrong.
func parseSealedRecord(data []byte) (*sealedRecord, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r sealedRecord
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("sealed record is damaged: %w", err)
	}
	if _, err := r.joinKey(); err != nil {
		return nil, err
	}
	if len(r.NodeHalf) != storageKeyHalfSize {
		return nil, fmt.Errorf("sealed record: node_half is %d bytes, want %d", len(r.NodeHalf), storageKeyHalfSize)
	}
	if r.ClusterHalf != nil && len(r.ClusterHalf) != storageKeyHalfSize {
		return nil, fmt.Errorf("sealed record: cluster_half is %d bytes, want %d", len(r.ClusterHalf), storageKeyHalfSize)
	}
	if r.CACertificate != nil {
		if _, err := pki.ParseCertificateDER(r.CACertificate); err != nil {
			return nil, fmt.Errorf("sealed record: ca_certificate: %w", err)
		}
		if len(r.Curators) == 0 || r.NodeID == "" {
			return nil, errors.New("sealed record: a member's record names no curators or no node_id")
		}
	}
	if r.NodeCertificate != nil {
		if r.CACertificate == nil {
			return nil, errors.New("sealed record: node_certificate without ca_certificate")
		}
		if _, err := r.nodeCertificate(); err != nil {
			return nil, err
		}
	}
	if r.CACertificate == nil && r.ClusterHalf == nil {
		return nil, errors.New("sealed record: neither cluster_half nor the cluster to get it from (ca_certificate)")
	}
	return &r, nil
}

func (r *sealedRecord) joinKey() (ed25519.PrivateKey, error) {
	key, err := identity.ParsePrivateKeyPEM(r.JoinKey)
	if err != nil {
		return nil, fmt.Errorf("sealed record: join_key: %w", err)
	}
	return key, nil
}

// storageKey is the key of the data partition: node half XOR cluster half.
func storageKey(nodeHalf, clusterHalf []byte) ([]byte, error) {
	if len(nodeHalf) != storageKeyHalfSize || len(clusterHalf) != storageKeyHalfSize {
		return nil, fmt.Errorf("storage key halves are %d and %d bytes, want %d each", len(nodeHalf), len(clusterHalf), storageKeyHalfSize)
	}
	key := make([]byte, storageKeyHalfSize)
	for i := range key {
		key[i] = nodeHalf[i] ^ clusterHalf[i]
	}
	return key, nil
}

// sealedStore serializes changes to the sealed record. clusterHalf is the cluster's half as
// this start learned it, kept in memory so the record can escrow it again when the node
// becomes a consensus member.
type sealedStore struct {
	storage     platform.Storage
	mu          sync.Mutex
	current     sealedRecord
	clusterHalf []byte
}

// update applies change to a copy of the record and seals it; the record changes only if that
// succeeded.
func (s *sealedStore) update(change func(r *sealedRecord)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.current
	change(&next)
	data, err := json.Marshal(&next)
	if err != nil {
		return err
	}
	if err := s.storage.WriteSealed(data); err != nil {
		return fmt.Errorf("seal record: %w", err)
	}
	s.current = next
	return nil
}

// escrowClusterHalf keeps (member) or drops the cluster half in the record; it seals again
// only if that changes the record, and says whether it did.
func (s *sealedStore) escrowClusterHalf(member bool) (changed bool, err error) {
	if s.escrowed() == member {
		return false, nil
	}
	return true, s.update(func(r *sealedRecord) {
		if member {
			r.ClusterHalf = bytes.Clone(s.clusterHalf)
		} else {
			r.ClusterHalf = nil
		}
	})
}

// get returns the record as last sealed.
func (s *sealedStore) get() sealedRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current
}

func (s *sealedStore) escrowed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.current.ClusterHalf != nil
}
