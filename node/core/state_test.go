package core

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestMembershipFileErrorsNameTheFileAndField(t *testing.T) {
	for _, tc := range []struct {
		name, content, wantErr string
	}{
		{"not JSON", "{", "membership.json is damaged"},
		{"unknown field", `{"surprise": 1}`, "unknown field"},
		{"CA is not a certificate", `{"ca_certificate": "AAAA", "node_certificate": "AAAA", "curators": ["10.0.0.2:7835"]}`, "ca_certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, membershipFile), []byte(tc.content), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := loadMembership(dir); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("loadMembership error = %v, want one mentioning %q", err, tc.wantErr)
			}
		})
	}
	if m, err := loadMembership(t.TempDir()); m != nil || err != nil {
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
