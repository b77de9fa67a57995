// Package mkimage builds a Metropolis node's disk image: Debian's kernel (pinned by version
// and hash), our stage 1 (cmd/metropolis-init) in a minimal initramfs, the node program on a
// read-only erofs system partition protected by dm-verity, both joined into a unified kernel
// image on a FAT32 ESP, all in a GPT disk laid out as node/platform/image/layout says.
//
// It owns the build, not the layout (package layout is the contract with the node) and not
// booting (the QEMU launcher consumes Result). The same inputs give the same image, byte for
// byte: every timestamp, owner, order, UUID and salt is fixed or derived from the content.
// The host tools it runs are apt-get and dpkg (the kernel), go, mkfs.erofs (erofs-utils),
// veritysetup (cryptsetup-bin) and objcopy (binutils), with systemd-boot-efi's stub.
package mkimage

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/node/update/bundle"
)

// sourceDateEpoch is the time every file in the image carries (2026-01-01 UTC; FAT cannot
// say 1970).
const sourceDateEpoch = 1767225600

// DefaultDiskSize is the disk image's size when Options.DiskSize is zero.
const DefaultDiskSize = 4 << 30

// Options says what to build.
type Options struct {
	// OutDir receives the image and its parts (required).
	OutDir string
	// SourceDir is the root of the metropolis.dev/metropolis module, whose cmd/metropolis-node
	// and cmd/metropolis-init are built. Default: found from the working directory.
	SourceDir string
	// CacheDir keeps the downloaded and unpacked kernel package. Default: SourceDir/out/cache.
	CacheDir string
	// KernelDeb is a kernel .deb to use instead of downloading one; it must match the pin.
	KernelDeb string
	// InitBinary and NodeBinary are prebuilt stage 1 and node programs; empty: go build them.
	InitBinary, NodeBinary string
	// KubeBinary, if set, is the Kubernetes multicall binary (scripts/build-kube), put on the
	// system partition at layout.SystemKubeBinary. Without it the image has no Kubernetes.
	KubeBinary string
	// RuntimeDir, if set (with KubeBinary), is scripts/build-runtime's output: containerd,
	// runc and the CNI plugins, put on the system partition with mount/umount/losetup (cmd/mount) and
	// the shipped container images (cmd/pause, cmd/testhttp), so the image can run
	// Kubernetes workers.
	RuntimeDir string
	// Parameters, if not nil, is written to the ESP at layout.ESPParametersPath.
	Parameters []byte
	// DiskSize is the disk image's size in bytes (default DefaultDiskSize); the space behind
	// system B is left for the data partition the node creates on its first boot.
	DiskSize int64
	// ExtraCmdline is appended to the kernel command line.
	ExtraCmdline []string
	// Version is the release's version (default "dev"), written to the system partition and
	// the bundle's manifest.
	Version string
	// ReleaseKeys are the PEM ed25519 public keys whose bundles the image's nodes install as
	// updates; without any, its nodes refuse every update.
	ReleaseKeys [][]byte
	// BundlePath, if set, receives the release's update bundle (node/update/bundle), signed
	// with SigningKey (PEM ed25519 private key, which never goes into the image).
	BundlePath string
	SigningKey []byte
	// Progress receives one line per step (default os.Stderr).
	Progress io.Writer
}

// Result is what was built.
type Result struct {
	// ImagePath is the GPT disk image.
	ImagePath string
	// UKIPath, KernelPath, InitramfsPath: the unified kernel image (as on the ESP) and its
	// kernel and initramfs, for direct kernel boot (with Cmdline).
	UKIPath, KernelPath, InitramfsPath string
	// SystemImagePath is system A's content: the erofs image followed by its hash tree.
	SystemImagePath string
	KernelVersion   string
	Cmdline         string
	Verity          layout.Verity
	Partitions      Partitions
	// ErofsSize is the erofs image's size (Verity.DataBlocks blocks); the hash tree follows it
	// at Partitions.SystemAOffset + ErofsSize.
	ErofsSize int64
	// SystemSize is the erofs image and hash tree together.
	SystemSize int64
	UKISize    int64
	// Version is the release's version; Measurements what firmware measures when it starts
	// the UKI (see apb.BootMeasurements).
	Version      string
	Measurements *apb.BootMeasurements
	// Bundle is the update bundle's manifest, if one was written (Options.BundlePath), and
	// BundleSize its size in bytes.
	Bundle     *apb.BundleManifest
	BundleSize int64
	// Steps is how long each step took.
	Steps []StepTime
}

// Build builds the image described by opts.
func Build(ctx context.Context, opts Options) (*Result, error) {
	if opts.OutDir == "" {
		return nil, fmt.Errorf("mkimage: no output directory given")
	}
	if opts.Progress == nil {
		opts.Progress = os.Stderr
	}
	if opts.DiskSize == 0 {
		opts.DiskSize = DefaultDiskSize
	}
	var err error
	if opts.SourceDir == "" && (opts.InitBinary == "" || opts.NodeBinary == "" || opts.CacheDir == "") {
		if opts.SourceDir, err = FindSourceDir("."); err != nil {
			return nil, err
		}
	}
	if opts.CacheDir == "" {
		opts.CacheDir = filepath.Join(opts.SourceDir, "out", "cache")
	}
	if opts.RuntimeDir != "" && opts.KubeBinary == "" {
		return nil, fmt.Errorf("a worker runtime (%s) needs the Kubernetes binary too (-kube)", opts.RuntimeDir)
	}
	if opts.Version == "" {
		opts.Version = "dev"
	}
	if err := bundle.CheckVersion(opts.Version); err != nil {
		return nil, fmt.Errorf("-version: %w", err)
	}
	keys, err := parseReleaseKeys(opts.ReleaseKeys)
	if err != nil {
		return nil, err
	}
	var signingKey ed25519.PrivateKey
	if opts.BundlePath != "" {
		if signingKey, err = bundle.ParsePrivateKey(opts.SigningKey); err != nil {
			return nil, fmt.Errorf("release signing key: %w", err)
		}
	}
	if opts.DiskSize < MinimumDiskSize() {
		return nil, fmt.Errorf("disk size %d MiB is below the minimum of %d MiB (partitions plus a %d MiB data partition)", opts.DiskSize>>20, MinimumDiskSize()>>20, layout.MinimumDataSize>>20)
	}
	tools := []tool{toolMkfsErofs, toolVeritysetup, toolObjcopy}
	if opts.InitBinary == "" || opts.NodeBinary == "" {
		tools = append(tools, toolGo)
	}
	if err := checkTools(tools, efiStubPath); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(opts.OutDir, ".work-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	p := &progress{w: opts.Progress, total: 9}
	start := time.Now()
	res := &Result{
		ImagePath:       filepath.Join(opts.OutDir, "disk.img"),
		UKIPath:         filepath.Join(opts.OutDir, "uki.efi"),
		KernelPath:      filepath.Join(opts.OutDir, "vmlinuz"),
		InitramfsPath:   filepath.Join(opts.OutDir, "initramfs.cpio.gz"),
		SystemImagePath: filepath.Join(opts.OutDir, "system.img"),
		KernelVersion:   KernelVersion,
		Version:         opts.Version,
	}

	var kernel *kernelTree
	var initMods, sysMods []moduleInfo
	steps := []struct {
		name string
		fn   func() error
	}{
		{"fetching the kernel package", func() error {
			kernel, err = fetchKernel(ctx, p, opts.CacheDir, opts.KernelDeb)
			if err != nil {
				return err
			}
			return copyFile(kernel.Vmlinuz, res.KernelPath)
		}},
		{"resolving kernel modules", func() error {
			idx, err := loadModuleIndex(kernel.ModulesDir)
			if err != nil {
				return err
			}
			if initMods, err = idx.resolve(layout.InitramfsModules); err != nil {
				return fmt.Errorf("initramfs modules: %w", err)
			}
			if sysMods, err = idx.resolve(layout.SystemModules); err != nil {
				return fmt.Errorf("system modules: %w", err)
			}
			p.printf("      initramfs: %d modules, system: %d modules", len(initMods), len(sysMods))
			return nil
		}},
		{"building the node programs", func() error {
			if opts.InitBinary == "" {
				opts.InitBinary = filepath.Join(work, "metropolis-init")
				p.printf("      go build ./cmd/metropolis-init")
				if err := goBuild(ctx, opts.SourceDir, "./cmd/metropolis-init", opts.InitBinary); err != nil {
					return fmt.Errorf("%w (stage 1 may not exist yet: pass a prebuilt one with --init)", err)
				}
			}
			if opts.NodeBinary == "" {
				opts.NodeBinary = filepath.Join(work, "metropolis-node")
				p.printf("      go build ./cmd/metropolis-node (a minute or two on a cold build cache)")
				if err := goBuild(ctx, opts.SourceDir, "./cmd/metropolis-node", opts.NodeBinary); err != nil {
					return err
				}
			}
			return nil
		}},
		{"writing the initramfs", func() error {
			data, err := buildInitramfs(opts.InitBinary, kernel, initMods)
			if err != nil {
				return err
			}
			p.printf("      %s: %d KiB", filepath.Base(res.InitramfsPath), len(data)>>10)
			return os.WriteFile(res.InitramfsPath, data, 0o644)
		}},
		{"making the erofs system image (lz4hc)", func() error {
			files, err := systemFiles(ctx, p, opts, work)
			if err != nil {
				return err
			}
			addRelease(files, opts.Version, keys)
			tree := filepath.Join(work, "system")
			digest, err := stageSystem(tree, files, kernel, sysMods)
			if err != nil {
				return err
			}
			os.Remove(res.SystemImagePath)
			if err := makeErofs(ctx, tree, digest, res.SystemImagePath); err != nil {
				return err
			}
			st, err := os.Stat(res.SystemImagePath)
			if err != nil {
				return err
			}
			res.ErofsSize = st.Size()
			p.printf("      erofs: %d KiB", res.ErofsSize>>10)
			return nil
		}},
		{"appending the dm-verity hash tree", func() error {
			if res.Verity, err = appendVerity(ctx, res.SystemImagePath); err != nil {
				return err
			}
			st, err := os.Stat(res.SystemImagePath)
			if err != nil {
				return err
			}
			res.SystemSize = st.Size()
			p.printf("      root hash %x, system partition content %d KiB", res.Verity.RootHash, res.SystemSize>>10)
			return nil
		}},
		{"building the unified kernel image", func() error {
			res.Cmdline = kernelCmdline(res.Verity.String(), opts.ExtraCmdline)
			os.Remove(res.UKIPath)
			if err := buildUKI(ctx, work, efiStubPath, res.KernelPath, res.InitramfsPath, res.Cmdline, res.UKIPath); err != nil {
				return err
			}
			st, err := os.Stat(res.UKIPath)
			if err != nil {
				return err
			}
			res.UKISize = st.Size()
			p.printf("      %s: %d KiB", filepath.Base(res.UKIPath), res.UKISize>>10)
			if res.Measurements, err = measure(res.UKIPath); err != nil {
				return err
			}
			// Beside the image, for an operator's attestation policy (metroctl cluster
			// trust-release) and for ClusterBootstrap.attestation_policy.
			return writeMeasurements(filepath.Join(opts.OutDir, MeasurementsFile), res.Measurements)
		}},
		{"writing the disk image (ESP, system A, system B, GPT)", func() error {
			uki, err := os.ReadFile(res.UKIPath)
			if err != nil {
				return err
			}
			id := sha256.Sum256(append(append([]byte{}, uki...), opts.Parameters...))
			res.Partitions, err = writeDisk(res.ImagePath, diskContent{
				Size: opts.DiskSize, UKI: uki, Parameters: opts.Parameters,
				SystemImage: res.SystemImagePath, ID: hex.EncodeToString(id[:]),
			})
			return err
		}},
		{"checking the system partition against its root hash", func() error {
			return VerifySystemImage(ctx, res.SystemImagePath, res.Verity)
		}},
	}
	if opts.BundlePath != "" {
		steps = append(steps, struct {
			name string
			fn   func() error
		}{"writing the signed update bundle", func() error {
			res.Bundle, res.BundleSize, err = writeBundle(opts.BundlePath, res, signingKey)
			if err != nil {
				return err
			}
			p.printf("      %s: version %s, build %s, %d MiB, signed by release key %s",
				opts.BundlePath, res.Bundle.Version, res.Bundle.BuildId, res.BundleSize>>20, bundle.KeyID(signingKey.Public().(ed25519.PublicKey)))
			return nil
		}})
	}
	p.total = len(steps)
	for _, s := range steps {
		if err := p.step(s.name, s.fn); err != nil {
			return nil, err
		}
	}
	res.Steps = p.steps
	p.printf("built %s in %s", res.ImagePath, time.Since(start).Round(10*time.Millisecond))
	return res, nil
}

func copyFile(src, dst string) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, data, 0o644)
}
