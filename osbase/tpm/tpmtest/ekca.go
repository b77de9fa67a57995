package tpmtest

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// VendorCA is a local stand-in for a TPM vendor's certificate authority (swtpm_localca): the
// TPMs Manufacture makes with it carry endorsement-key certificates it issued.
type VendorCA struct {
	dir string
	// Root is the CA's self-signed root certificate, the one to trust; EK certificates are
	// issued by an intermediate (Intermediate) under it, as real vendors' are.
	Root, Intermediate *x509.Certificate
}

// NewVendorCA creates a vendor CA in a directory of its own; it skips the test without
// swtpm_setup. The CA's keys are made when the first TPM is manufactured with it.
func NewVendorCA(t testing.TB) *VendorCA {
	t.Helper()
	if _, err := exec.LookPath("swtpm_setup"); err != nil {
		t.Skip("swtpm_setup (Debian package swtpm-tools) is not installed; these tests need it to make EK certificates")
	}
	return &VendorCA{dir: TempDir(t)}
}

// Manufacture makes a new TPM in the empty directory state, as a vendor would: its seeds, an
// RSA and an ECC endorsement key with certificates from ca, and the SHA-256 PCR bank. Start
// runs it.
func Manufacture(t testing.TB, state string, ca *VendorCA) {
	t.Helper()
	checkPath(t, state)
	conf := map[string]string{
		"localca.conf": fmt.Sprintf("statedir = %[1]s\nsigningkey = %[1]s/signkey.pem\nissuercert = %[1]s/issuercert.pem\ncertserial = %[1]s/certserial\n", ca.dir),
		"options":      "--platform-manufacturer Metropolis\n--platform-version 2.1\n--platform-model test\n",
	}
	conf["setup.conf"] = fmt.Sprintf("create_certs_tool = /usr/bin/swtpm_localca\ncreate_certs_tool_config = %s\ncreate_certs_tool_options = %s\nactive_pcr_banks = sha256\n",
		filepath.Join(ca.dir, "localca.conf"), filepath.Join(ca.dir, "options"))
	for name, content := range conf {
		if err := os.WriteFile(filepath.Join(ca.dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("swtpm_setup", "--tpm2", "--tpmstate", state, "--create-ek-cert", "--create-platform-cert",
		"--config", filepath.Join(ca.dir, "setup.conf"), "--overwrite")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("swtpm_setup: %v\n%s", err, out)
	}
	ca.Root = readCert(t, filepath.Join(ca.dir, "swtpm-localca-rootca-cert.pem"))
	ca.Intermediate = readCert(t, filepath.Join(ca.dir, "issuercert.pem"))
}

func readCert(t testing.TB, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s holds no PEM certificate", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return cert
}
