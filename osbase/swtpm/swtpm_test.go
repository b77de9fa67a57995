package swtpm

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestManufacture(t *testing.T) {
	if _, err := exec.LookPath("swtpm_setup"); err != nil {
		t.Skip("swtpm_setup (Debian package swtpm-tools) is not installed")
	}
	base, err := os.MkdirTemp("", "swtpm-test")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(base)
	ca, state := VendorCA{Dir: filepath.Join(base, "ca")}, filepath.Join(base, "state")
	if err := os.MkdirAll(state, 0o700); err != nil {
		t.Fatal(err)
	}
	if ok, err := Manufactured(state); ok || err != nil {
		t.Fatalf("an empty directory: manufactured %v (%v)", ok, err)
	}
	if err := ca.Manufacture(state); err != nil {
		t.Fatal(err)
	}
	if ok, err := Manufactured(state); !ok || err != nil {
		t.Fatalf("after Manufacture: manufactured %v (%v)", ok, err)
	}
	root, intermediate, err := ca.Certificates()
	if err != nil {
		t.Fatal(err)
	}
	if err := intermediate.CheckSignatureFrom(root); err != nil {
		t.Errorf("the vendor's intermediate is not issued by its root: %v", err)
	}
	if err := (VendorCA{Dir: filepath.Join(base, "a,b")}).Manufacture(state); err == nil || !strings.Contains(err.Error(), "comma") {
		t.Errorf("a path with a comma: %v, want it refused", err)
	}
}
