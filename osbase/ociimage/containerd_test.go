package ociimage_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/containerd/v2/core/images/archive"
	layerarchive "github.com/containerd/containerd/v2/pkg/archive"
	"github.com/containerd/containerd/v2/pkg/archive/compression"
	"github.com/containerd/containerd/v2/plugins/content/local"
	"github.com/containerd/platforms"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"metropolis.dev/metropolis/osbase/ociimage"
)

// containerd's own importer (what `ctr images import` and the client's Import run) takes
// the archive, finds the linux/amd64 manifest, and sees the name the client gives the image.
func TestContainerdImports(t *testing.T) {
	ctx := context.Background()
	img := ociimage.Image{
		Name:       "metropolis.dev/testhttp:v1",
		Files:      []ociimage.File{{Path: "/testhttp", Mode: 0o755, Data: []byte("binary")}},
		Entrypoint: []string{"/testhttp"},
		Cmd:        []string{"serve"},
	}
	var buf bytes.Buffer
	if err := ociimage.Write(&buf, img); err != nil {
		t.Fatal(err)
	}
	store, err := local.NewStore(filepath.Join(t.TempDir(), "content"))
	if err != nil {
		t.Fatal(err)
	}
	indexDesc, err := archive.ImportIndex(ctx, store, &buf)
	if err != nil {
		t.Fatalf("containerd ImportIndex: %v", err)
	}
	data, err := content.ReadBlob(ctx, store, indexDesc)
	if err != nil {
		t.Fatal(err)
	}
	var index ocispec.Index
	if err := json.Unmarshal(data, &index); err != nil {
		t.Fatal(err)
	}
	if len(index.Manifests) != 1 || index.Manifests[0].Annotations[images.AnnotationImageName] != img.Name {
		t.Fatalf("containerd would not name the image %s: index %+v", img.Name, index)
	}

	amd64 := platforms.OnlyStrict(ocispec.Platform{OS: "linux", Architecture: "amd64"})
	manifest, err := images.Manifest(ctx, store, indexDesc, amd64)
	if err != nil {
		t.Fatalf("containerd finds no linux/amd64 manifest: %v", err)
	}
	config, err := images.Config(ctx, store, index.Manifests[0], amd64)
	if err != nil {
		t.Fatal(err)
	}
	diffIDs, err := images.RootFS(ctx, store, config)
	if err != nil || len(diffIDs) != 1 || len(manifest.Layers) != 1 {
		t.Fatalf("rootfs %v (%v), layers %v", diffIDs, err, manifest.Layers)
	}
	available, _, _, missing, err := images.Check(ctx, store, indexDesc, amd64)
	if err != nil || !available || len(missing) != 0 {
		t.Fatalf("containerd's check of the image: available %v, missing %v, %v", available, missing, err)
	}

	// What containerd exports (`ctr images export`), Inspect accepts with the same name.
	var exported bytes.Buffer
	if err := archive.Export(ctx, store, &exported, archive.WithManifest(index.Manifests[0], img.Name), archive.WithPlatform(amd64)); err != nil {
		t.Fatal(err)
	}
	summary, err := ociimage.Inspect(&exported)
	if err != nil {
		t.Fatalf("Inspect of containerd's export: %v", err)
	}
	if len(summary.Images) != 1 || summary.Images[0].Name != img.Name || summary.Images[0].Manifest != index.Manifests[0].Digest {
		t.Errorf("Inspect of containerd's export: %+v, want %s at %s", summary.Images, img.Name, index.Manifests[0].Digest)
	}

	// Unpack the layer as containerd's snapshotter would, and find the binary.
	if os.Geteuid() != 0 {
		t.Skip("unpacking a layer of root-owned files needs root")
	}
	ra, err := store.ReaderAt(ctx, manifest.Layers[0])
	if err != nil {
		t.Fatal(err)
	}
	defer ra.Close()
	layer, err := compression.DecompressStream(content.NewReader(ra))
	if err != nil {
		t.Fatal(err)
	}
	defer layer.Close()
	root := t.TempDir()
	if _, err := layerarchive.Apply(ctx, root, layer); err != nil {
		t.Fatalf("containerd applying the layer: %v", err)
	}
	info, err := os.Stat(filepath.Join(root, "testhttp"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode() != 0o755 {
		t.Errorf("unpacked /testhttp has mode %v, want 0755", info.Mode())
	}
}
