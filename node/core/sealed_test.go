package core

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"metropolis.dev/metropolis/node/curator"
	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/osbase/tpm"
)

// memStorage is a platform.Storage in memory for unit tests: it keeps the record and checks
// the key like the hosted platform does.
type memStorage struct {
	mu     sync.Mutex
	record []byte
	key    []byte
}

func (m *memStorage) ReadSealed() ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return bytes.Clone(m.record), nil
}

func (m *memStorage) WriteSealed(r []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.record = bytes.Clone(r)
	return nil
}
func (m *memStorage) Create(_ context.Context, key []byte) error {
	m.key = bytes.Clone(key)
	return nil
}
func (m *memStorage) Unlock(_ context.Context, key []byte) error {
	if !bytes.Equal(m.key, key) {
		return errWrongKey
	}
	return nil
}

var errWrongKey = errors.New("wrong key")

func TestSealedRecordEscrowFollowsConsensusRole(t *testing.T) {
	rec, err := newSealedRecord()
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.NewCA("test", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	st := &memStorage{}
	store := &sealedStore{storage: st, clusterHalf: rec.ClusterHalf}
	if err := store.update(func(r *sealedRecord) { *r = *rec }); err != nil {
		t.Fatal(err)
	}
	m := &membership{CACertificate: ca.Certificate().Raw, Curators: []string{"10.0.0.1:7835"}}
	if err := store.update(func(r *sealedRecord) { m.record(r, "metropolis-0011223344556677") }); err != nil {
		t.Fatal(err)
	}
	saved, err := parseSealedRecord(st.record)
	if err != nil {
		t.Fatal(err)
	}
	if saved.ClusterHalf != nil || saved.NodeID == "" || len(saved.Curators) != 1 {
		t.Fatalf("a registered worker's record = %+v; want no cluster half, its ID and curators", saved)
	}
	if changed, err := store.escrowClusterHalf(true); err != nil || !changed {
		t.Fatalf("escrowClusterHalf(true) = %v, %v; want a change", changed, err)
	}
	if changed, err := store.escrowClusterHalf(true); err != nil || changed {
		t.Fatalf("escrowClusterHalf(true) again = %v, %v; want no change", changed, err)
	}
	if saved, _ = parseSealedRecord(st.record); !bytes.Equal(saved.ClusterHalf, rec.ClusterHalf) {
		t.Fatal("a consensus member's record does not escrow the cluster half")
	}
	if _, err := store.escrowClusterHalf(false); err != nil {
		t.Fatal(err)
	}
	if saved, _ = parseSealedRecord(st.record); saved.ClusterHalf != nil {
		t.Fatal("the record still escrows the cluster half after the consensus role went")
	}
}

func TestStorageKeyIsTheXOROfBothHalves(t *testing.T) {
	a, b := bytes.Repeat([]byte{0x0f}, 32), bytes.Repeat([]byte{0xf0}, 32)
	key, err := storageKey(a, b)
	if err != nil || !bytes.Equal(key, bytes.Repeat([]byte{0xff}, 32)) {
		t.Fatalf("storageKey = %x, %v", key, err)
	}
	if _, err := storageKey(a, b[:31]); err == nil {
		t.Fatal("a short half was accepted")
	}
}

func TestParseSealedRecordNamesTheField(t *testing.T) {
	rec, err := newSealedRecord()
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(f func(r *sealedRecord)) string {
		r := *rec
		f(&r)
		data, _ := json.Marshal(&r)
		return string(data)
	}
	for _, tc := range []struct{ name, in, want string }{
		{"not JSON", "{", "damaged"},
		{"unknown field", `{"x":1}`, "unknown field"},
		{"short node half", mutate(func(r *sealedRecord) { r.NodeHalf = r.NodeHalf[:3] }), "node_half"},
		{"bad join key", mutate(func(r *sealedRecord) { r.JoinKey = []byte("x") }), "join_key"},
		{"no way to the cluster half", mutate(func(r *sealedRecord) { r.ClusterHalf = nil }), "cluster_half"},
		{"bad CA", mutate(func(r *sealedRecord) { r.CACertificate = []byte("x") }), "ca_certificate"},
	} {
		if _, err := parseSealedRecord([]byte(tc.in)); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error = %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}

func FuzzParseSealedRecord(f *testing.F) {
	rec, err := newSealedRecord()
	if err != nil {
		f.Fatal(err)
	}
	data, _ := json.Marshal(rec)
	f.Add(data)
	f.Add([]byte(`{"node_half":"AAAA"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := parseSealedRecord(data)
		if err != nil {
			return
		}
		if len(r.NodeHalf) != storageKeyHalfSize || (r.ClusterHalf == nil && r.CACertificate == nil) {
			t.Fatalf("accepted an unusable record: %+v", r)
		}
	})
}

// TestLargestSealedRecordFitsTheTPM: the largest record a node writes (the first node's, with
// its bootstrap pending and so the CA's key, and a cluster of seven curators) must fit what the
// image platform can seal, with room to spare.
func TestLargestSealedRecordFitsTheTPM(t *testing.T) {
	rec, err := newSealedRecord()
	if err != nil {
		t.Fatal(err)
	}
	ca, err := curator.NewClusterCA()
	if err != nil {
		t.Fatal(err)
	}
	pub, _, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	nodeCert, err := ca.IssueNodeCertificate(pub, []net.IP{net.IPv4(203, 0, 113, 200)}, curator.NodeCertificateValidity)
	if err != nil {
		t.Fatal(err)
	}
	caDER, caKey, err := ca.MarshalDER()
	if err != nil {
		t.Fatal(err)
	}
	m := membership{CACertificate: caDER, NodeCertificate: nodeCert.Raw, Bootstrap: &pendingBootstrap{
		OwnerPublicKey: make([]byte, 32), ClusterUnlockKey: rec.ClusterHalf, CA: caDER, CAKey: caKey,
	}}
	for i := range 7 {
		m.Curators = append(m.Curators, fmt.Sprintf("[2001:db8:ffff:ffff::%d]:7835", 1000+i))
	}
	m.record(rec, identity.NodeID(pub))
	data, err := json.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("largest sealed record: %d bytes of at most %d", len(data), tpm.MaxPayload)
	if len(data) > tpm.MaxPayload/2 {
		t.Errorf("the largest sealed record is %d bytes, more than half of what the TPM seals (%d)", len(data), tpm.MaxPayload)
	}
}
