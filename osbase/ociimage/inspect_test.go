package ociimage

import (
	"archive/tar"
	"bytes"
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestInspectFixture(t *testing.T) {
	a := newFixture(t).assemble(t)
	s, err := Inspect(bytes.NewReader(a.archive))
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	img := s.Images[0]
	if img.Manifest != a.manifest.Digest || img.Config != a.config.Digest || img.Layers[0].Digest != a.layer.Digest {
		t.Errorf("summary %+v does not name the fixture's blobs", img)
	}
}

// A multi-platform image as containerd exports it for one platform: index.json points to
// an index whose other platforms' manifests are absent.
func TestInspectNestedIndex(t *testing.T) {
	f := newFixture(t)
	var inner ocispec.Descriptor
	f.editIndex = func(index *ocispec.Index, extra map[string][]byte) {
		amd64 := index.Manifests[0]
		amd64.Annotations = nil
		arm64 := ocispec.Descriptor{
			MediaType: ocispec.MediaTypeImageManifest,
			Digest:    digest.FromString("absent"),
			Size:      100,
			Platform:  &ocispec.Platform{OS: "linux", Architecture: "arm64"},
		}
		data := mustJSON(t, ocispec.Index{
			Versioned: specs.Versioned{SchemaVersion: 2},
			MediaType: ocispec.MediaTypeImageIndex,
			Manifests: []ocispec.Descriptor{arm64, amd64},
		})
		extra["inner"] = data
		inner = descriptor(ocispec.MediaTypeImageIndex, data)
		inner.Annotations = map[string]string{AnnotationImageName: "docker.io/library/nginx:1"}
		index.Manifests = []ocispec.Descriptor{inner}
	}
	a := f.assemble(t)
	s, err := Inspect(bytes.NewReader(a.archive))
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	img := s.Images[0]
	if img.Name != "docker.io/library/nginx:1" || img.Digest != inner.Digest || img.Manifest != a.manifest.Digest {
		t.Errorf("summary %+v: want the index %s leading to manifest %s", img, inner.Digest, a.manifest.Digest)
	}
}

// rename renames the tar entry called from.
func rename(from, to string) func([]entry) []entry {
	return func(es []entry) []entry {
		for i := range es {
			if es[i].hdr.Name == from {
				es[i].hdr.Name = to
			}
		}
		return es
	}
}

func without(prefix string) func([]entry) []entry {
	return func(es []entry) []entry {
		var out []entry
		for _, e := range es {
			if !strings.HasPrefix(e.hdr.Name, prefix) {
				out = append(out, e)
			}
		}
		return out
	}
}

func TestInspectRejects(t *testing.T) {
	fix := newFixture(t).assemble(t)
	layerEntry := blobPath(fix.layer.Digest)
	for _, tc := range []struct {
		name string
		edit func(*fixture)
		want string
	}{
		{"no oci-layout", func(f *fixture) { f.editEntries = without("oci-layout") }, "no oci-layout file"},
		{"no index", func(f *fixture) { f.editEntries = without("index.json") }, "no index.json"},
		{"layout version", func(f *fixture) { f.layout = `{"imageLayoutVersion":"2.0.0"}` }, `oci-layout: version "2.0.0"`},
		{"layout not JSON", func(f *fixture) { f.layout = `[` }, "oci-layout: unexpected end of JSON"},
		{"blob content changed", func(f *fixture) {
			f.editEntries = func(es []entry) []entry {
				es[2].data = append([]byte(nil), es[2].data...)
				es[2].data[20] ^= 1
				return es
			}
		}, `entry "` + layerEntry + `": content has digest`},
		{"blob missing", func(f *fixture) { f.editEntries = without(layerEntry) }, "layers[0]: blob " + string(fix.layer.Digest) + " is not in the archive"},
		{"bad blob name", func(f *fixture) { f.editEntries = rename(layerEntry, "blobs/sha256/abc") }, `entry "blobs/sha256/abc": not a blob name`},
		{"blob twice", func(f *fixture) {
			f.editEntries = func(es []entry) []entry { return append(es, es[2]) }
		}, `entry "` + layerEntry + `": blob appears twice`},
		{"index twice", func(f *fixture) {
			f.editEntries = func(es []entry) []entry { return append(es, es[1]) }
		}, `entry "index.json": appears twice`},
		{"symlink", func(f *fixture) {
			f.editEntries = func(es []entry) []entry {
				return append(es, entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: "blobs/link", Linkname: "/etc/shadow"}})
			}
		}, `entry "blobs/link": tar entry type '2' is not allowed`},
		{"escaping path", func(f *fixture) { f.editEntries = rename("index.json", "../index.json") }, `entry "../index.json": path leaves the archive`},
		{"absolute path", func(f *fixture) { f.editEntries = rename("index.json", "/index.json") }, `entry "/index.json": path leaves the archive`},
		{"manifest size", func(f *fixture) { f.editDescriptor = func(d *ocispec.Descriptor) { d.Size++ } }, "index.json manifests[0] (metropolis.dev/test:v1): descriptor says"},
		{"manifest digest form", func(f *fixture) { f.editDescriptor = func(d *ocispec.Descriptor) { d.Digest = "sha256:xyz" } }, `digest "sha256:xyz"`},
		{"manifest media type", func(f *fixture) { f.editDescriptor = func(d *ocispec.Descriptor) { d.MediaType = "text/plain" } }, `media type "text/plain" is neither`},
		{"other platform only", func(f *fixture) {
			f.editDescriptor = func(d *ocispec.Descriptor) { d.Platform.Architecture = "arm64" }
		}, "no linux/amd64 image"},
		{"config for another platform", func(f *fixture) { f.config.Architecture = "arm64" }, "descriptor says linux/amd64, config says linux/arm64"},
		{"diff ID", func(f *fixture) { f.config.RootFS.DiffIDs[0] = digest.FromString("other") }, "layers[0]: uncompressed digest"},
		{"diff ID count", func(f *fixture) { f.config.RootFS.DiffIDs = nil }, "1 layers but the config lists 0 diff IDs"},
		{"rootfs type", func(f *fixture) { f.config.RootFS.Type = "zfs" }, `rootfs type "zfs"`},
		{"no layers", func(f *fixture) {
			f.config.RootFS.DiffIDs = nil
			f.editManifest = func(m *ocispec.Manifest) { m.Layers = nil }
		}, "no layers"},
		{"zstd layer", func(f *fixture) { f.layerMediaType = ocispec.MediaTypeImageLayerZstd }, "is not supported (only tar and tar+gzip)"},
		{"gzip layer not gzip'd", func(f *fixture) { f.layer = layerTar(t) }, "is not gzip'd"},
		{"broken gzip", func(f *fixture) { f.layer = f.layer[:len(f.layer)-4] }, "decompressing"},
		{"config media type", func(f *fixture) {
			f.editManifest = func(m *ocispec.Manifest) { m.Config.MediaType = ocispec.MediaTypeImageLayer }
		}, "is not an image config"},
		{"manifest schema", func(f *fixture) {
			f.editManifest = func(m *ocispec.Manifest) { m.SchemaVersion = 1 }
		}, "manifest schemaVersion 1"},
		{"empty index", func(f *fixture) {
			f.editIndex = func(i *ocispec.Index, _ map[string][]byte) { i.Manifests = nil }
		}, "index.json lists no images"},
		{"config is a layer", func(f *fixture) {
			f.editManifest = func(m *ocispec.Manifest) {
				m.Config.Digest, m.Config.Size = fix.layer.Digest, fix.layer.Size
			}
		}, "is not a JSON document"},
		{"truncated", nil, "unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Without an edit, the fixture's archive is cut in the middle of a tar block.
			archive := fix.archive[:len(fix.archive)/2+7]
			if tc.edit != nil {
				f := newFixture(t)
				tc.edit(f)
				archive = f.assemble(t).archive
			}
			_, err := Inspect(bytes.NewReader(archive))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Inspect: %v\nwant an error containing %q", err, tc.want)
			}
		})
	}
}

// An entry claiming more than MaxBlobSize is refused from its header, before its content.
func TestInspectRejectsHugeEntry(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "blobs/sha256/" + strings.Repeat("0", 64), Size: MaxBlobSize + 1}); err != nil {
		t.Fatal(err)
	}
	_, err := Inspect(bytes.NewReader(buf.Bytes()))
	if err == nil || !strings.Contains(err.Error(), "is more than the limit") {
		t.Fatalf("Inspect: %v, want a size limit error", err)
	}
}

// A sparse file's holes would read as zeros: a small archive could make Inspect hash a lot.
func TestInspectRejectsSparseFile(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	// The writer refuses GNU.sparse records; write others of the same length, then rename them.
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: "blobs/sha256/" + strings.Repeat("0", 64), Size: 4,
		PAXRecords: map[string]string{"GNU.sparsX.major": "0", "GNU.sparsX.minor": "1", "GNU.sparsX.map": "0,4", "GNU.sparsX.numblocks": "1", "GNU.sparsX.size": "8000000000"}}
	if err := tw.WriteHeader(hdr); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte("data")); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	archive := bytes.ReplaceAll(buf.Bytes(), []byte("GNU.sparsX."), []byte("GNU.sparse."))
	_, err := Inspect(bytes.NewReader(archive))
	if err == nil || !strings.Contains(err.Error(), "sparse files are not allowed") {
		t.Fatalf("Inspect: %v, want a sparse file error", err)
	}
}

func TestInspectRejectsTooManyEntries(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for i := 0; i <= MaxEntries; i++ {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: "d/"}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := Inspect(bytes.NewReader(buf.Bytes()))
	if err == nil || !strings.Contains(err.Error(), "more than 10000 entries") {
		t.Fatalf("Inspect: %v, want an entry count error", err)
	}
}

func FuzzInspect(f *testing.F) {
	f.Add(writeImage(f, testImage()))
	f.Add(newFixture(f).assemble(f).archive)
	nested := newFixture(f)
	nested.layerMediaType = ocispec.MediaTypeImageLayer
	nested.layer = layerTar(f)
	f.Add(nested.assemble(f).archive)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Inspect(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, img := range s.Images {
			if img.Manifest == "" || img.Config == "" || len(img.Layers) == 0 || !isOurPlatform(img.Platform) {
				t.Fatalf("Inspect accepted an incomplete image: %+v", img)
			}
		}
	})
}
