package worker

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/platforms"
)

// Labels the CRI plugin reads on an image: pinned images are never removed by the kubelet's
// image garbage collection (it sees them as pinned through the CRI).
const (
	pinnedLabel      = "io.cri-containerd.pinned"
	pinnedLabelValue = "pinned"
)

// ImportImage imports the OCI or Docker archive r into the CRI plugin's namespace, pinned, and
// unpacks it for the overlayfs snapshotter, so the first pod using it starts without waiting.
// It returns the names of the images the archive held.
func ImportImage(ctx context.Context, client *containerd.Client, r io.Reader) ([]string, error) {
	imgs, err := client.Import(ctx, r,
		containerd.WithImportPlatform(platforms.Default()),
		containerd.WithImageLabels(map[string]string{pinnedLabel: pinnedLabelValue}),
	)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	if len(imgs) == 0 {
		return nil, fmt.Errorf("import: the archive names no image (an OCI archive's index.json needs an io.containerd.image.name or org.opencontainers.image.ref.name annotation; a Docker archive RepoTags)")
	}
	var names []string
	for _, i := range imgs {
		img := containerd.NewImage(client, i)
		if err := img.Unpack(ctx, "overlayfs"); err != nil {
			return nil, fmt.Errorf("unpack %s: %w", i.Name, err)
		}
		names = append(names, i.Name)
	}
	sort.Strings(names)
	return names, nil
}

// importShipped imports every archive (*.tar) in dir, the images the node image ships.
func importShipped(ctx context.Context, client *containerd.Client, dir string, logf func(string, ...any)) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("images shipped with the node: %w", err)
	}
	for _, e := range entries {
		if e.IsDir() || !strings.HasSuffix(e.Name(), ".tar") {
			continue
		}
		f, err := os.Open(filepath.Join(dir, e.Name()))
		if err != nil {
			return err
		}
		names, err := ImportImage(ctx, client, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("image archive %s: %w", e.Name(), err)
		}
		logf("imported %s (pinned): %s", e.Name(), strings.Join(names, ", "))
	}
	return nil
}

// LoadImage imports the archive at path (an operator's upload, checked by the caller) into
// this worker's containerd, pinned, and returns the names of its images.
func (s *Service) LoadImage(ctx context.Context, path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	client, err := containerd.New(s.containerdSocket(), containerd.WithDefaultNamespace(containerdNamespace))
	if err != nil {
		return nil, fmt.Errorf("connect to containerd: %w", err)
	}
	defer client.Close()
	return ImportImage(ctx, client, f)
}
