package mkimage

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// The kernel: Debian's package, pinned by version and by the SHA-256 of its .deb, so a
// changed package cannot slip into an image unnoticed.
const (
	KernelPackage        = "linux-image-6.1.0-56-amd64"
	KernelPackageVersion = "6.1.192-2"
	// KernelVersion is the release (uname -r) of that kernel: /lib/modules/<KernelVersion>.
	KernelVersion   = "6.1.0-56-amd64"
	kernelDebSHA256 = "a86e2049672f52354c4536a089203b6c82639420424d31c91cf31a181fd4d8f1"
)

// kernelTree is an unpacked kernel package.
type kernelTree struct {
	Vmlinuz    string
	ModulesDir string // /lib/modules/<kver> of the package
}

func kernelDebName() string {
	return fmt.Sprintf("%s_%s_amd64.deb", KernelPackage, KernelPackageVersion)
}

// fetchKernel returns the unpacked kernel package, downloading (apt-get download) and
// unpacking (dpkg -x) it into cacheDir the first time. debPath, if set, is a .deb to use
// instead of downloading (a machine without the Debian archive); it is verified all the same.
func fetchKernel(ctx context.Context, p *progress, cacheDir, debPath string) (*kernelTree, error) {
	if err := os.MkdirAll(cacheDir, 0o755); err != nil {
		return nil, fmt.Errorf("kernel cache: %w", err)
	}
	fix := "pass the pinned package instead"
	if debPath == "" {
		fix = "delete it to download it again"
		debPath = filepath.Join(cacheDir, kernelDebName())
		if _, err := os.Stat(debPath); os.IsNotExist(err) {
			if err := downloadKernel(ctx, p, cacheDir, debPath); err != nil {
				return nil, err
			}
		}
	}
	sum, err := fileSHA256(debPath)
	if err != nil {
		return nil, fmt.Errorf("kernel package: %w (pass a .deb of %s %s, or leave it out to download it)", err, KernelPackage, KernelPackageVersion)
	}
	if sum != kernelDebSHA256 {
		return nil, fmt.Errorf("kernel package %s has SHA-256 %s, want %s (%s %s): %s, or to move to another kernel update the pin in build/mkimage/kernel.go",
			debPath, sum, kernelDebSHA256, KernelPackage, KernelPackageVersion, fix)
	}

	unpacked := filepath.Join(cacheDir, fmt.Sprintf("%s_%s-%s", KernelPackage, KernelPackageVersion, sum[:12]))
	tree := &kernelTree{
		Vmlinuz:    filepath.Join(unpacked, "boot", "vmlinuz-"+KernelVersion),
		ModulesDir: filepath.Join(unpacked, "lib", "modules", KernelVersion),
	}
	if _, err := os.Stat(filepath.Join(unpacked, ".unpacked")); err == nil {
		p.printf("kernel package %s %s: cached in %s", KernelPackage, KernelPackageVersion, unpacked)
		return tree, nil
	}
	if err := checkTools([]tool{toolDpkg}, ""); err != nil {
		return nil, err
	}
	p.printf("unpacking %s (dpkg -x, about 400 MB)", filepath.Base(debPath))
	// Unpack into a scratch directory and rename it into place: a concurrent build (tests of
	// several packages run at once) either wins the rename or finds the tree complete.
	tmp, err := os.MkdirTemp(cacheDir, "unpack-")
	if err != nil {
		return nil, fmt.Errorf("kernel cache: %w", err)
	}
	defer os.RemoveAll(tmp)
	if _, err := run(ctx, "", nil, "dpkg", "-x", debPath, tmp); err != nil {
		return nil, fmt.Errorf("unpacking kernel package: %w", err)
	}
	for _, want := range []string{tree.Vmlinuz, tree.ModulesDir} {
		rel, _ := filepath.Rel(unpacked, want)
		if _, err := os.Stat(filepath.Join(tmp, rel)); err != nil {
			return nil, fmt.Errorf("kernel package %s lacks %s: not the kernel this builder was written for", debPath, rel)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, ".unpacked"), nil, 0o644); err != nil {
		return nil, err
	}
	if _, err := os.Stat(filepath.Join(unpacked, ".unpacked")); err != nil {
		os.RemoveAll(unpacked) // left by an interrupted build
	}
	if err := os.Rename(tmp, unpacked); err != nil {
		if _, statErr := os.Stat(filepath.Join(unpacked, ".unpacked")); statErr == nil {
			return tree, nil // another build unpacked it first
		}
		return nil, fmt.Errorf("kernel cache: %w (delete %s and retry)", err, unpacked)
	}
	return tree, nil
}

// downloadKernel fetches the pinned package with apt-get download into a scratch directory
// and moves it to debPath once complete, so an interrupted download leaves no partial file.
func downloadKernel(ctx context.Context, p *progress, cacheDir, debPath string) error {
	if err := checkTools([]tool{toolAptGet}, ""); err != nil {
		return err
	}
	p.printf("downloading %s=%s (apt-get download, about 70 MB)", KernelPackage, KernelPackageVersion)
	scratch, err := os.MkdirTemp(cacheDir, "download-")
	if err != nil {
		return fmt.Errorf("kernel cache: %w", err)
	}
	defer os.RemoveAll(scratch)
	// apt drops privileges to _apt when it can; a private scratch directory only makes it
	// warn, so let it in.
	if err := os.Chmod(scratch, 0o755); err != nil {
		return fmt.Errorf("kernel cache: %w", err)
	}
	if _, err := run(ctx, scratch, nil, "apt-get", "download", KernelPackage+"="+KernelPackageVersion); err != nil {
		return fmt.Errorf("downloading the kernel package failed: %w\n(run `apt-get update` first; if Debian no longer serves %s %s, place its .deb at %s or pass it with --kernel-deb)",
			err, KernelPackage, KernelPackageVersion, debPath)
	}
	if err := os.Rename(filepath.Join(scratch, kernelDebName()), debPath); err != nil {
		return fmt.Errorf("apt-get download did not leave %s: %w", kernelDebName(), err)
	}
	return nil
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
