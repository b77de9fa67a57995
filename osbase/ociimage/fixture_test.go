package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"testing"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// fixture is an archive in parts, so that tests can damage one part and keep the digests
// of everything else consistent (or not).
type fixture struct {
	layer          []byte // as stored
	layerMediaType string
	config         ocispec.Image
	editManifest   func(*ocispec.Manifest)
	editDescriptor func(*ocispec.Descriptor) // the manifest's, in index.json
	editIndex      func(*ocispec.Index, map[string][]byte)
	layout         string
	editEntries    func([]entry) []entry
}

// entry is one tar entry of an assembled archive.
type entry struct {
	hdr  tar.Header
	data []byte
}

func file(name string, data []byte) entry {
	return entry{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(data))}, data}
}

func blobEntry(data []byte) entry {
	return file(blobPath(digest.FromBytes(data)), data)
}

func descriptor(mediaType string, data []byte) ocispec.Descriptor {
	return ocispec.Descriptor{MediaType: mediaType, Digest: digest.FromBytes(data), Size: int64(len(data))}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	data, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func gzipped(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(data); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// layerTar is a layer with one file.
func layerTar(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := writeFile(tw, "pause", 0o755, []byte("binary")); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func newFixture(t testing.TB) *fixture {
	raw := layerTar(t)
	return &fixture{
		layer:          gzipped(t, raw),
		layerMediaType: ocispec.MediaTypeImageLayerGzip,
		config: ocispec.Image{
			Platform: platform,
			RootFS:   ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{digest.FromBytes(raw)}},
		},
		layout: `{"imageLayoutVersion":"1.0.0"}`,
	}
}

// blobs of a fixture by role, for tests that need digests.
type assembled struct {
	archive                 []byte
	layer, config, manifest ocispec.Descriptor
}

func (f *fixture) assemble(t testing.TB) assembled {
	t.Helper()
	var a assembled
	a.layer = descriptor(f.layerMediaType, f.layer)
	config := mustJSON(t, f.config)
	a.config = descriptor(ocispec.MediaTypeImageConfig, config)
	m := ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    a.config,
		Layers:    []ocispec.Descriptor{a.layer},
	}
	if f.editManifest != nil {
		f.editManifest(&m)
	}
	manifest := mustJSON(t, m)
	a.manifest = descriptor(ocispec.MediaTypeImageManifest, manifest)
	d := a.manifest
	p := platform
	d.Platform = &p
	d.Annotations = map[string]string{AnnotationImageName: "metropolis.dev/test:v1", ocispec.AnnotationRefName: "v1"}
	if f.editDescriptor != nil {
		f.editDescriptor(&d)
	}
	index := ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{d},
	}
	extra := make(map[string][]byte) // more blobs, for editIndex
	if f.editIndex != nil {
		f.editIndex(&index, extra)
	}
	entries := []entry{
		file("oci-layout", []byte(f.layout)),
		file("index.json", mustJSON(t, index)),
		blobEntry(f.layer),
		blobEntry(config),
		blobEntry(manifest),
	}
	for _, data := range extra {
		entries = append(entries, blobEntry(data))
	}
	if f.editEntries != nil {
		entries = f.editEntries(entries)
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		if err := tw.WriteHeader(&e.hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(e.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	a.archive = buf.Bytes()
	return a
}
