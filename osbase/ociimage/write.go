package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	digest "github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// AnnotationImageName is containerd's annotation for an image's full name in index.json
// (images.AnnotationImageName in containerd, not imported for one string).
const AnnotationImageName = "io.containerd.image.name"

// fixedTime is every tar entry's modification time, so that archives are reproducible.
var fixedTime = time.Unix(0, 0).UTC()

// platform is the only one Metropolis nodes run.
var platform = ocispec.Platform{Architecture: "amd64", OS: "linux"}

// Write writes img as an OCI image-layout archive to w. The same img (and file contents)
// always gives the same bytes.
func Write(w io.Writer, img Image) error {
	if err := img.check(); err != nil {
		return err
	}
	tag, _ := parseName(img.Name)
	layer, diffID, err := buildLayer(img.Files)
	if err != nil {
		return fmt.Errorf("image %s: %w", img.Name, err)
	}
	blobs := make(map[digest.Digest][]byte)
	add := func(mediaType string, data []byte) ocispec.Descriptor {
		d := digest.FromBytes(data)
		blobs[d] = data
		return ocispec.Descriptor{MediaType: mediaType, Digest: d, Size: int64(len(data))}
	}
	layerDesc := add(ocispec.MediaTypeImageLayerGzip, layer)

	config, err := json.Marshal(ocispec.Image{
		Platform: platform,
		Config: ocispec.ImageConfig{
			User:       img.User,
			Env:        img.Env,
			Entrypoint: img.Entrypoint,
			Cmd:        img.Cmd,
			WorkingDir: img.WorkingDir,
		},
		RootFS: ocispec.RootFS{Type: "layers", DiffIDs: []digest.Digest{diffID}},
	})
	if err != nil {
		return err
	}
	configDesc := add(ocispec.MediaTypeImageConfig, config)

	manifest, err := json.Marshal(ocispec.Manifest{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageManifest,
		Config:    configDesc,
		Layers:    []ocispec.Descriptor{layerDesc},
	})
	if err != nil {
		return err
	}
	manifestDesc := add(ocispec.MediaTypeImageManifest, manifest)
	p := platform
	manifestDesc.Platform = &p
	manifestDesc.Annotations = map[string]string{
		AnnotationImageName:       img.Name,
		ocispec.AnnotationRefName: tag,
	}

	index, err := json.Marshal(ocispec.Index{
		Versioned: specs.Versioned{SchemaVersion: 2},
		MediaType: ocispec.MediaTypeImageIndex,
		Manifests: []ocispec.Descriptor{manifestDesc},
	})
	if err != nil {
		return err
	}
	layout, err := json.Marshal(ocispec.ImageLayout{Version: ocispec.ImageLayoutVersion})
	if err != nil {
		return err
	}
	return writeArchive(w, layout, index, blobs)
}

// writeArchive writes the layout's files in a fixed order: oci-layout, index.json, then
// the blobs by digest.
func writeArchive(w io.Writer, layout, index []byte, blobs map[digest.Digest][]byte) error {
	tw := tar.NewWriter(w)
	if err := writeFile(tw, ocispec.ImageLayoutFile, 0o644, layout); err != nil {
		return err
	}
	if err := writeFile(tw, ocispec.ImageIndexFile, 0o644, index); err != nil {
		return err
	}
	if err := writeDir(tw, ocispec.ImageBlobsDir+"/", 0o755); err != nil {
		return err
	}
	if err := writeDir(tw, ocispec.ImageBlobsDir+"/sha256/", 0o755); err != nil {
		return err
	}
	digests := make([]digest.Digest, 0, len(blobs))
	for d := range blobs {
		digests = append(digests, d)
	}
	sort.Slice(digests, func(i, j int) bool { return digests[i] < digests[j] })
	for _, d := range digests {
		if err := writeFile(tw, blobPath(d), 0o644, blobs[d]); err != nil {
			return err
		}
	}
	return tw.Close()
}

func blobPath(d digest.Digest) string {
	return path.Join(ocispec.ImageBlobsDir, d.Algorithm().String(), d.Encoded())
}

// buildLayer makes the gzip'd layer tar holding files and their parent directories, and
// returns it with its uncompressed digest (the config's diff ID).
func buildLayer(files []File) (layer []byte, diffID digest.Digest, err error) {
	type entry struct {
		name string // without the leading slash; directories end in "/"
		file *File
	}
	var entries []entry
	dirs := make(map[string]bool)
	for i := range files {
		f := &files[i]
		entries = append(entries, entry{name: strings.TrimPrefix(f.Path, "/"), file: f})
		for dir := path.Dir(f.Path); dir != "/" && !dirs[dir]; dir = path.Dir(dir) {
			dirs[dir] = true
			entries = append(entries, entry{name: strings.TrimPrefix(dir, "/") + "/"})
		}
	}
	// Sorting by name puts every directory before what it holds ("etc/" < "etc/x").
	sort.Slice(entries, func(i, j int) bool { return entries[i].name < entries[j].name })

	var raw bytes.Buffer
	tw := tar.NewWriter(&raw)
	for _, e := range entries {
		if e.file == nil {
			if err := writeDir(tw, e.name, 0o755); err != nil {
				return nil, "", err
			}
			continue
		}
		data, err := e.file.content()
		if err != nil {
			return nil, "", err
		}
		if err := writeFile(tw, e.name, int64(e.file.Mode), data); err != nil {
			return nil, "", err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, "", err
	}
	diffID = digest.FromBytes(raw.Bytes())

	var gz bytes.Buffer
	// A zero header (no name, no time) and a fixed level keep the output reproducible.
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, "", err
	}
	if _, err := zw.Write(raw.Bytes()); err != nil {
		return nil, "", err
	}
	if err := zw.Close(); err != nil {
		return nil, "", err
	}
	return gz.Bytes(), diffID, nil
}

func (f *File) content() ([]byte, error) {
	if f.HostPath == "" {
		return f.Data, nil
	}
	info, err := os.Stat(f.HostPath)
	if err != nil {
		return nil, fmt.Errorf("file %s: %w", f.Path, err)
	}
	if !info.Mode().IsRegular() {
		return nil, fmt.Errorf("file %s: %s is not a regular file", f.Path, f.HostPath)
	}
	data, err := os.ReadFile(f.HostPath)
	if err != nil {
		return nil, fmt.Errorf("file %s: %w", f.Path, err)
	}
	return data, nil
}

func writeFile(tw *tar.Writer, name string, mode int64, data []byte) error {
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Mode:     mode,
		Size:     int64(len(data)),
		ModTime:  fixedTime,
		Format:   tar.FormatUSTAR,
	}); err != nil {
		return fmt.Errorf("tar entry %s: %w", name, err)
	}
	_, err := tw.Write(data)
	return err
}

func writeDir(tw *tar.Writer, name string, mode int64) error {
	if err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeDir,
		Name:     name,
		Mode:     mode,
		ModTime:  fixedTime,
		Format:   tar.FormatUSTAR,
	}); err != nil {
		return fmt.Errorf("tar entry %s: %w", name, err)
	}
	return nil
}
