package mkimage

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"

	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/osbase/ociimage"
)

// Files of the Kubernetes worker's runtime, as scripts/build-runtime lays them out in its
// output directory, put in layout.SystemBinDir under the same names.
var runtimeFiles = []string{"containerd", "containerd-shim-runc-v2", "runc", "cni/ptp", "cni/host-local"}

// shippedImages are the container images every worker imports at start, built from programs
// of this repository: the pod sandbox (node/kubernetes/worker.PauseImage) and the test
// workload.
var shippedImages = []struct {
	pkg, binary string
	image       ociimage.Image
}{
	{"./cmd/pause", "/pause", ociimage.Image{Name: "metropolis.dev/pause:v1", Entrypoint: []string{"/pause"}, User: "65535:65535"}},
	{"./cmd/testhttp", "/testhttp", ociimage.Image{Name: "metropolis.dev/testhttp:v1", Entrypoint: []string{"/testhttp"}, Cmd: []string{"serve"}}},
}

// systemFiles are the files of the system partition: the node program, and with Kubernetes
// kube, and with a runtime directory the worker's runtime, mount, and the shipped images
// (built in work).
func systemFiles(ctx context.Context, p *progress, opts Options, work string) (map[string]stagedFile, error) {
	files := map[string]stagedFile{layout.SystemNodeBinary[1:]: {src: opts.NodeBinary, mode: 0o755}}
	if opts.KubeBinary == "" {
		return files, nil
	}
	files[layout.SystemKubeBinary[1:]] = stagedFile{src: opts.KubeBinary, mode: 0o755}
	if opts.RuntimeDir == "" {
		return files, nil
	}
	bin := layout.SystemBinDir[1:]
	for _, f := range runtimeFiles {
		src := filepath.Join(opts.RuntimeDir, f)
		if _, err := os.Stat(src); err != nil {
			return nil, fmt.Errorf("worker runtime: %w (build it with scripts/build-runtime %s)", err, opts.RuntimeDir)
		}
		files[path.Join(bin, f)] = stagedFile{src: src, mode: 0o755}
	}
	p.printf("      go build ./cmd/mount")
	mount := filepath.Join(work, "mount")
	if err := goBuild(ctx, opts.SourceDir, "./cmd/mount", mount); err != nil {
		return nil, err
	}
	files[path.Join(bin, "mount")] = stagedFile{src: mount, mode: 0o755}
	files[path.Join(bin, "umount")] = stagedFile{link: "mount"}
	files[path.Join(bin, "losetup")] = stagedFile{link: "mount"}
	for _, si := range shippedImages {
		p.printf("      go build %s, image %s", si.pkg, si.image.Name)
		binary := filepath.Join(work, filepath.Base(si.pkg))
		if err := goBuild(ctx, opts.SourceDir, si.pkg, binary); err != nil {
			return nil, err
		}
		img := si.image
		img.Files = []ociimage.File{{Path: si.binary, Mode: 0o755, HostPath: binary}}
		archive := filepath.Join(work, filepath.Base(si.pkg)+".tar")
		if err := writeImage(archive, img); err != nil {
			return nil, err
		}
		files[path.Join(layout.SystemImagesDir[1:], filepath.Base(archive))] = stagedFile{src: archive, mode: 0o644}
	}
	return files, nil
}

func writeImage(out string, img ociimage.Image) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	if err := ociimage.Write(f, img); err != nil {
		f.Close()
		return fmt.Errorf("container image %s: %w", img.Name, err)
	}
	return f.Close()
}
