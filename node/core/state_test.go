package core

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/osbase/supervisor"
)

func TestLegacyMembershipFileErrorsNameTheFileAndField(t *testing.T) {
	for _, tc := range []struct {
		name, content, wantErr string
	}{
		{"not JSON", "{", "membership.json is damaged"},
		{"unknown field", `{"surprise": 1}`, "unknown field"},
		{"CA is not a certificate", `{"ca_certificate": "AAAA", "node_certificate": "AAAA", "curators": ["10.0.0.2:7835"]}`, "ca_certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, legacyMembershipFile), []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := loadLegacyMembership(dir); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("loadLegacyMembership error = %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
	if m, err := loadLegacyMembership(t.TempDir()); m != nil || err != nil {
		t.Errorf("a node without a membership file: got %v, %v; want nil, nil", m, err)
	}
}

func TestNodeKeySurvivesRestarts(t *testing.T) {
	dir := t.TempDir()
	first, err := loadOrCreateKey(dir, nodeKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	again, err := loadOrCreateKey(dir, nodeKeyFile)
	if err != nil || !first.Equal(again) {
		t.Fatalf("the node key changed across loads (err %v)", err)
	}
	if err := os.WriteFile(filepath.Join(dir, nodeKeyFile), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadOrCreateKey(dir, nodeKeyFile); err == nil || !strings.Contains(err.Error(), nodeKeyFile) {
		t.Errorf("damaged key file: error = %v, want one naming the file", err)
	}
}

// TestFoldLegacyMembership: a node of an older release kept its certificate and curators in
// membership.json on the data partition. Its next start moves them into the sealed record,
// keeps the escrow as it was, and removes the file, so there is one record from then on.
func TestFoldLegacyMembership(t *testing.T) {
	ca, err := pki.NewCA("test", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	pub, _, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	nodeCert, err := ca.IssueNodeCertificate(pub, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	legacy := membership{CACertificate: ca.Certificate().Raw, NodeCertificate: nodeCert.Raw, Curators: []string{"10.0.0.1:7835"}}
	data, err := json.Marshal(legacy)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, legacyMembershipFile), data, 0o600); err != nil {
		t.Fatal(err)
	}
	// The older release's sealed record: a member's, without the node certificate, its
	// curators kept, the cluster half escrowed (a consensus member).
	rec, err := newSealedRecord()
	if err != nil {
		t.Fatal(err)
	}
	rec.NodeID, rec.CACertificate, rec.Curators = identity.NodeID(pub), ca.Certificate().Raw, []string{"10.0.0.1:7835", "10.0.0.2:7835"}
	st := &memStorage{}
	store := &sealedStore{storage: st}
	if err := store.update(func(r *sealedRecord) { *r = *rec }); err != nil {
		t.Fatal(err)
	}

	folded := make(chan error, 1)
	supervisor.TestHarness(t, func(ctx context.Context) error {
		_, err := (&Node{}).foldLegacyMembership(ctx, dir, store, &legacy, identity.NodeID(pub))
		folded <- err
		supervisor.Signal(ctx, supervisor.SignalHealthy)
		supervisor.Signal(ctx, supervisor.SignalDone)
		return nil
	})
	if err := <-folded; err != nil {
		t.Fatal(err)
	}
	sealed, _ := st.ReadSealed()
	got, err := parseSealedRecord(sealed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.NodeCertificate, nodeCert.Raw) || len(got.Curators) != 2 || !bytes.Equal(got.ClusterHalf, rec.ClusterHalf) {
		t.Errorf("sealed record after folding: certificate kept %v, curators %v, escrow kept %v", bytes.Equal(got.NodeCertificate, nodeCert.Raw), got.Curators, bytes.Equal(got.ClusterHalf, rec.ClusterHalf))
	}
	if _, err := os.Stat(filepath.Join(dir, legacyMembershipFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s still there after folding (%v)", legacyMembershipFile, err)
	}
}
