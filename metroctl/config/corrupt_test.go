package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"metropolis.dev/metropolis/node/pki"
)

// TestCorruptedFilesNameTheFile damages one file of a good context at a time and expects
// loading to fail with an error naming that file and the problem.
func TestCorruptedFilesNameTheFile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		file    string
		content string // "" means: remove the file
		mode    os.FileMode
		wantErr string
	}{
		{"context file is not YAML", "context.yaml", "endpoints: [", 0o644, "not a valid context file"},
		{"context file has an unknown key", "context.yaml", "endpoints: []\nendpoint: x\n", 0o644, "unknown field"},
		{"context file is empty", "context.yaml", "\n", 0o644, "file is empty"},
		{"context file has a bad endpoint", "context.yaml", "endpoints: ['a b']\n", 0o644, "endpoints[0]"},
		{"owner key is missing", "owner-key.pem", "", 0, "is missing"},
		{"owner key is not PEM", "owner-key.pem", "garbage", 0o600, "owner key file"},
		{"owner key is readable by others", "owner-key.pem", "keep", 0o644, "chmod 600"},
		{"CA file is not a certificate", "ca.pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 0o644, "ca.pem"},
		{"owner certificate is truncated", "owner.pem", "-----BEGIN CERTIFICATE-----\n", 0o644, "owner.pem"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := NewStore(t.TempDir())
			key := testKey(t)
			if err := s.CreateContext("c", key, nil); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(s.Dir(), "contexts", "c", tc.file)
			switch {
			case tc.content == "":
				os.Remove(path)
			case tc.content == "keep":
				os.Chmod(path, tc.mode)
			default:
				if err := os.WriteFile(path, []byte(tc.content), tc.mode); err != nil {
					t.Fatal(err)
				}
				os.Chmod(path, tc.mode)
			}
			_, err := s.LoadContext("c")
			if err == nil {
				t.Fatal("loading succeeded")
			}
			if !strings.Contains(err.Error(), path) && !strings.Contains(err.Error(), tc.file) {
				t.Errorf("error %q does not name %s", err, tc.file)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not say %q", err, tc.wantErr)
			}
		})
	}
}

func TestCorruptedCurrentContext(t *testing.T) {
	s := NewStore(t.TempDir())
	if err := os.WriteFile(filepath.Join(s.Dir(), "current-context"), []byte("../../etc\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := s.Resolve("")
	if err == nil || !strings.Contains(err.Error(), "current-context") {
		t.Errorf("got %v, want an error naming the current-context file", err)
	}
}

func TestOwnerCertificateOfAnotherKeyIsRefusedOnLoad(t *testing.T) {
	s := NewStore(t.TempDir())
	if err := s.CreateContext("c", testKey(t), nil); err != nil {
		t.Fatal(err)
	}
	ca := testCA(t)
	dir := filepath.Join(s.Dir(), "contexts", "c")
	os.WriteFile(filepath.Join(dir, "ca.pem"), pki.EncodeCertificatePEM(ca.Certificate()), 0o644)
	os.WriteFile(filepath.Join(dir, "owner.pem"), pki.EncodeCertificatePEM(ownerCert(t, ca, testKey(t))), 0o644)
	_, err := s.LoadContext("c")
	if err == nil || !strings.Contains(err.Error(), "does not belong to the owner key") {
		t.Errorf("got %v, want 'does not belong to the owner key'", err)
	}
}
