// Package swtpm manufactures software TPMs (swtpm's state) the way a TPM vendor manufactures
// chips: with an endorsement key and an EK certificate issued by the vendor's CA. The vendor
// here is swtpm_localca, swtpm's local CA, with its keys in a directory of their own, so that
// each local cluster (and each test) has a vendor of its own and trusts only it. The QEMU
// launcher gives every node's TPM a certificate this way, so that attestation checks the EK
// certificate path as on real hardware; tests use it through osbase/tpm/tpmtest.
package swtpm

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// VendorCA is a local TPM vendor: swtpm_localca's state in Dir. Its keys are made when the
// first TPM is manufactured.
type VendorCA struct {
	Dir string
}

// Manufacture makes a new TPM 2.0 in the empty directory state: its seeds, an RSA and an ECC
// endorsement key with certificates from ca, a platform certificate, and the SHA-256 PCR bank
// only. Neither path may hold a comma (swtpm's options are comma-separated).
func (ca VendorCA) Manufacture(state string) error {
	for _, p := range []string{state, ca.Dir} {
		if strings.Contains(p, ",") {
			return fmt.Errorf("swtpm cannot use %s: its options are comma-separated", p)
		}
	}
	if err := os.MkdirAll(ca.Dir, 0o700); err != nil {
		return fmt.Errorf("vendor CA: %w", err)
	}
	conf := map[string]string{
		"localca.conf":    fmt.Sprintf("statedir = %[1]s\nsigningkey = %[1]s/signkey.pem\nissuercert = %[1]s/issuercert.pem\ncertserial = %[1]s/certserial\n", ca.Dir),
		"localca.options": "--platform-manufacturer Metropolis\n--platform-version 2.1\n--platform-model swtpm\n",
	}
	conf["setup.conf"] = fmt.Sprintf("create_certs_tool = /usr/bin/swtpm_localca\ncreate_certs_tool_config = %s\ncreate_certs_tool_options = %s\nactive_pcr_banks = sha256\n",
		filepath.Join(ca.Dir, "localca.conf"), filepath.Join(ca.Dir, "localca.options"))
	for name, content := range conf {
		if err := os.WriteFile(filepath.Join(ca.Dir, name), []byte(content), 0o600); err != nil {
			return fmt.Errorf("vendor CA: %w", err)
		}
	}
	cmd := exec.Command("swtpm_setup", "--tpm2", "--tpmstate", state, "--create-ek-cert", "--create-platform-cert",
		"--config", filepath.Join(ca.Dir, "setup.conf"), "--overwrite")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("swtpm_setup (Debian package swtpm-tools): %w: %s", err, tail(string(out)))
	}
	return nil
}

// Manufactured says whether state holds a TPM already.
func Manufactured(state string) (bool, error) {
	_, err := os.Stat(filepath.Join(state, "tpm2-00.permall"))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// Certificates returns the vendor's root certificate and the intermediate that issues EK
// certificates: what a cluster's attestation policy trusts (AttestationPolicy
// .ek_ca_certificates). The CA exists once a TPM was manufactured with it.
func (ca VendorCA) Certificates() (root, intermediate *x509.Certificate, err error) {
	if root, err = readCert(filepath.Join(ca.Dir, "swtpm-localca-rootca-cert.pem")); err != nil {
		return nil, nil, err
	}
	if intermediate, err = readCert(filepath.Join(ca.Dir, "issuercert.pem")); err != nil {
		return nil, nil, err
	}
	return root, intermediate, nil
}

func readCert(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("vendor CA: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("vendor CA: %s holds no PEM certificate", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("vendor CA: %s: %w", path, err)
	}
	return cert, nil
}

// tail is the end of a tool's output, for an error.
func tail(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 500 {
		return "…" + s[len(s)-500:]
	}
	return s
}
