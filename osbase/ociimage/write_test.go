package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func testImage() Image {
	return Image{
		Name: "metropolis.dev/pause:v1",
		Files: []File{
			{Path: "/pause", Mode: 0o755, Data: []byte("not really a binary\n")},
			{Path: "/etc/metropolis/motd", Mode: 0o644, Data: []byte("hello\n")},
		},
		Entrypoint: []string{"/pause"},
		Env:        []string{"PATH=/"},
		User:       "65535:65535",
	}
}

func writeImage(t testing.TB, img Image) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Write(&buf, img); err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes()
}

// archiveFiles returns the regular files of a tar archive by name.
func archiveFiles(t testing.TB, data []byte) map[string][]byte {
	t.Helper()
	files := make(map[string][]byte)
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return files
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Typeflag == tar.TypeReg {
			files[hdr.Name], err = io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestWriteInspectRoundTrip(t *testing.T) {
	archive := writeImage(t, testImage())
	s, err := Inspect(bytes.NewReader(archive))
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if len(s.Images) != 1 {
		t.Fatalf("got %d images, want 1", len(s.Images))
	}
	img := s.Images[0]
	if img.Name != "metropolis.dev/pause:v1" || img.RefName != "v1" {
		t.Errorf("names %q, %q; want metropolis.dev/pause:v1, v1", img.Name, img.RefName)
	}
	if img.Manifest != img.Digest || img.MediaType != ocispec.MediaTypeImageManifest {
		t.Errorf("index entry %s (%s) should be the manifest %s", img.Digest, img.MediaType, img.Manifest)
	}
	if img.Platform.OS != "linux" || img.Platform.Architecture != "amd64" {
		t.Errorf("platform %s/%s", img.Platform.OS, img.Platform.Architecture)
	}
	if len(img.Layers) != 1 || img.Layers[0].MediaType != ocispec.MediaTypeImageLayerGzip {
		t.Fatalf("layers %+v, want one tar+gzip", img.Layers)
	}

	files := archiveFiles(t, archive)
	var config ocispec.Image
	if err := json.Unmarshal(files[blobPath(img.Config)], &config); err != nil {
		t.Fatal(err)
	}
	if config.Config.User != "65535:65535" || strings.Join(config.Config.Entrypoint, " ") != "/pause" ||
		strings.Join(config.Config.Env, " ") != "PATH=/" {
		t.Errorf("config %+v", config.Config)
	}
	if config.Created != nil {
		t.Errorf("config has a creation time %v; archives would not be reproducible", config.Created)
	}
	if string(files["oci-layout"]) != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout is %s", files["oci-layout"])
	}
}

func TestWriteReproducible(t *testing.T) {
	first := writeImage(t, testImage())
	if second := writeImage(t, testImage()); !bytes.Equal(first, second) {
		t.Fatal("two writes of the same image differ")
	}
	// The same content from a host file gives the same archive.
	img := testImage()
	host := filepath.Join(t.TempDir(), "pause")
	if err := os.WriteFile(host, img.Files[0].Data, 0o600); err != nil {
		t.Fatal(err)
	}
	img.Files[0].Data, img.Files[0].HostPath = nil, host
	if fromHost := writeImage(t, img); !bytes.Equal(first, fromHost) {
		t.Fatal("the same file content read from the host gives another archive")
	}
	// And another name gives another archive.
	img.Name = "metropolis.dev/pause:v2"
	if other := writeImage(t, img); bytes.Equal(first, other) {
		t.Fatal("another tag gives the same archive")
	}
}

// layerEntry is what a test checks of one entry of the image layer.
type layerEntry struct {
	name     string
	typeflag byte
	mode     int64
	uid, gid int
	size     int64
	mtime    int64
}

func readLayer(t testing.TB, archive []byte) []layerEntry {
	t.Helper()
	s, err := Inspect(bytes.NewReader(archive))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(archiveFiles(t, archive)[blobPath(s.Images[0].Layers[0].Digest)]))
	if err != nil {
		t.Fatal(err)
	}
	var entries []layerEntry
	tr := tar.NewReader(zr)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return entries
		}
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, layerEntry{hdr.Name, hdr.Typeflag, hdr.Mode, hdr.Uid, hdr.Gid, hdr.Size, hdr.ModTime.Unix()})
	}
}

func TestWriteLayerContents(t *testing.T) {
	got := readLayer(t, writeImage(t, testImage()))
	want := []layerEntry{
		{"etc/", tar.TypeDir, 0o755, 0, 0, 0, 0},
		{"etc/metropolis/", tar.TypeDir, 0o755, 0, 0, 0, 0},
		{"etc/metropolis/motd", tar.TypeReg, 0o644, 0, 0, 6, 0},
		{"pause", tar.TypeReg, 0o755, 0, 0, 20, 0},
	}
	if len(got) != len(want) {
		t.Fatalf("layer has %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("layer entry %d is %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestWriteRejects(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Image)
		want string
	}{
		{"short name", func(i *Image) { i.Name = "pause:v1" }, "not a full reference"},
		{"no tag", func(i *Image) { i.Name = "metropolis.dev/pause" }, "has no tag"},
		{"digest", func(i *Image) {
			i.Name = "metropolis.dev/pause:v1@sha256:" + strings.Repeat("a", 64)
		}, "carries a digest"},
		{"bad name", func(i *Image) { i.Name = "metropolis.dev/Pause:v1" }, "image name"},
		{"user name", func(i *Image) { i.User = "nobody" }, "not numeric"},
		{"relative workdir", func(i *Image) { i.WorkingDir = "tmp" }, "not absolute"},
		{"bad env", func(i *Image) { i.Env = []string{"PATH"} }, "not NAME=value"},
		{"no files", func(i *Image) { i.Files = nil }, "no files"},
		{"relative path", func(i *Image) { i.Files[0].Path = "pause" }, "not an absolute, clean path"},
		{"unclean path", func(i *Image) { i.Files[0].Path = "/bin/../pause" }, "not an absolute, clean path"},
		{"root", func(i *Image) { i.Files[0].Path = "/" }, "not an absolute, clean path"},
		{"setuid", func(i *Image) { i.Files[0].Mode = 0o4755 }, "beyond the permissions"},
		{"both sources", func(i *Image) { i.Files[0].HostPath = "/bin/true" }, "both HostPath and Data"},
		{"twice", func(i *Image) { i.Files[1].Path = "/pause" }, "given twice"},
		{"file is a directory", func(i *Image) { i.Files[1].Path = "/pause/motd" }, "/pause is a file but /pause/motd is inside it"},
		{"missing host file", func(i *Image) {
			i.Files[0].Data, i.Files[0].HostPath = nil, "/nonexistent/pause"
		}, "/nonexistent/pause"},
		{"host directory", func(i *Image) { i.Files[0].Data, i.Files[0].HostPath = nil, "/" }, "not a regular file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img := testImage()
			tc.edit(&img)
			err := Write(io.Discard, img)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Write: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
