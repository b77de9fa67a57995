package mkimage

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestBadInput checks that each kind of bad input fails saying what is wrong and what to do.
func TestBadInput(t *testing.T) {
	ctx := context.Background()
	wrongDeb := filepath.Join(t.TempDir(), kernelDebName())
	if err := os.WriteFile(wrongDeb, []byte("not a kernel"), 0o644); err != nil {
		t.Fatal(err)
	}
	p := &progress{w: testWriter{t}}
	for _, tc := range []struct {
		name string
		err  func() error
		want []string
	}{
		{"kernel package with a wrong checksum", func() error {
			_, err := fetchKernel(ctx, p, t.TempDir(), wrongDeb)
			return err
		}, []string{wrongDeb, "SHA-256", kernelDebSHA256}},
		{"missing kernel package", func() error {
			_, err := fetchKernel(ctx, p, t.TempDir(), "/nonexistent/kernel.deb")
			return err
		}, []string{"/nonexistent/kernel.deb", KernelPackage}},
		{"missing tool", func() error {
			return checkTools([]tool{{"mkimage-no-such-tool", "no-such-package"}}, "/nonexistent/stub.efi")
		}, []string{"mkimage-no-such-tool", "install no-such-package", "/nonexistent/stub.efi", "systemd-boot-efi"}},
		{"disk too small", func() error {
			_, err := Build(ctx, Options{OutDir: t.TempDir(), SourceDir: ".", DiskSize: 1 << 30})
			return err
		}, []string{"disk size", "minimum"}},
		{"missing stage 1", func() error {
			return goBuild(ctx, t.TempDir(), "./cmd/metropolis-init", filepath.Join(t.TempDir(), "init"))
		}, []string{"./cmd/metropolis-init", "prebuilt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.err()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
		})
	}
}
