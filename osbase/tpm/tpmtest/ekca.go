package tpmtest

import (
	"crypto/x509"
	"os/exec"
	"testing"

	"metropolis.dev/metropolis/osbase/swtpm"
)

// VendorCA is a local stand-in for a TPM vendor's certificate authority (osbase/swtpm): the
// TPMs Manufacture makes with it carry endorsement-key certificates it issued.
type VendorCA struct {
	ca swtpm.VendorCA
	// Root is the CA's self-signed root certificate, the one to trust; EK certificates are
	// issued by an intermediate (Intermediate) under it, as real vendors' are. Set once a TPM
	// was manufactured with the CA.
	Root, Intermediate *x509.Certificate
}

// NewVendorCA creates a vendor CA in a directory of its own; it skips the test without
// swtpm_setup.
func NewVendorCA(t testing.TB) *VendorCA {
	t.Helper()
	if _, err := exec.LookPath("swtpm_setup"); err != nil {
		t.Skip("swtpm_setup (Debian package swtpm-tools) is not installed; these tests need it to make EK certificates")
	}
	return &VendorCA{ca: swtpm.VendorCA{Dir: TempDir(t)}}
}

// Manufacture makes a new TPM in the empty directory state, as a vendor would: its seeds, an
// RSA and an ECC endorsement key with certificates from ca, and the SHA-256 PCR bank. Start
// runs it.
func Manufacture(t testing.TB, state string, ca *VendorCA) {
	t.Helper()
	checkPath(t, state)
	if err := ca.ca.Manufacture(state); err != nil {
		t.Fatal(err)
	}
	var err error
	if ca.Root, ca.Intermediate, err = ca.ca.Certificates(); err != nil {
		t.Fatal(err)
	}
}
