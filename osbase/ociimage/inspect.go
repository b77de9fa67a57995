package ociimage

import (
	"encoding/json"
	"fmt"
	"io"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Docker's media types, which containerd exports for images pulled from Docker registries.
const (
	mediaTypeDockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaTypeDockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	mediaTypeDockerConfig       = "application/vnd.docker.container.image.v1+json"
	mediaTypeDockerLayerGzip    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	mediaTypeDockerLayer        = "application/vnd.docker.image.rootfs.diff.tar"
)

// Structural limits: nested indexes and list lengths.
const (
	maxIndexDepth  = 4
	maxDescriptors = 1000
)

// Summary is what Inspect found in a valid archive.
type Summary struct {
	// Images are index.json's entries, in its order.
	Images []ImageSummary
}

// ImageSummary is one entry of index.json and the linux/amd64 image it leads to.
type ImageSummary struct {
	// Name is the io.containerd.image.name annotation, RefName the
	// org.opencontainers.image.ref.name one; either may be empty.
	Name, RefName string
	// Digest and MediaType are the entry's: a manifest, or an index of manifests.
	Digest    digest.Digest
	MediaType string
	// Manifest is the linux/amd64 manifest (Digest itself unless the entry is an index).
	Manifest digest.Digest
	Config   digest.Digest
	Platform ocispec.Platform
	Layers   []Layer
}

// Layer is one checked layer of an image.
type Layer struct {
	Digest    digest.Digest // of the blob as stored
	DiffID    digest.Digest // of the uncompressed tar, as the config lists it
	Size      int64
	MediaType string
}

// Inspect reads an OCI image-layout archive and checks it: every blob's content matches its
// name; index.json's entries lead (through nested indexes) to a linux/amd64 manifest whose
// config and layers are present with the sizes and digests the descriptors give, and whose
// layers decompress to the config's diff IDs. Manifests for other platforms are skipped
// and may be absent. Layers must be tar or tar+gzip. Inspect reads r once, front to back,
// up to the end of the tar archive, holding only the JSON documents in memory.
func Inspect(r io.Reader) (*Summary, error) {
	a, err := readArchive(r)
	if err != nil {
		return nil, err
	}
	var layout ocispec.ImageLayout
	if err := json.Unmarshal(a.layout, &layout); err != nil {
		return nil, fmt.Errorf("oci-layout: %w", err)
	}
	if layout.Version != ocispec.ImageLayoutVersion {
		return nil, fmt.Errorf("oci-layout: version %q, want %q", layout.Version, ocispec.ImageLayoutVersion)
	}
	var index ocispec.Index
	if err := json.Unmarshal(a.index, &index); err != nil {
		return nil, fmt.Errorf("index.json: %w", err)
	}
	if err := checkIndex("index.json", index, ocispec.MediaTypeImageIndex); err != nil {
		return nil, err
	}
	if len(index.Manifests) == 0 {
		return nil, fmt.Errorf("index.json lists no images")
	}
	s := &Summary{}
	for i, d := range index.Manifests {
		where := fmt.Sprintf("index.json manifests[%d]", i)
		img := ImageSummary{
			Name:      d.Annotations[AnnotationImageName],
			RefName:   d.Annotations[ocispec.AnnotationRefName],
			Digest:    d.Digest,
			MediaType: d.MediaType,
		}
		if img.Name != "" {
			where += " (" + img.Name + ")"
		}
		if err := a.resolve(where, d, 0, &img); err != nil {
			return nil, err
		}
		if img.Manifest == "" {
			return nil, fmt.Errorf("%s: no linux/amd64 image", where)
		}
		s.Images = append(s.Images, img)
	}
	return s, nil
}

// resolve checks what d points to, filling img from the first linux/amd64 manifest.
func (a *archive) resolve(where string, d ocispec.Descriptor, depth int, img *ImageSummary) error {
	if d.Platform != nil && !isOurPlatform(*d.Platform) {
		return nil // another platform's image: its blobs need not be here
	}
	switch d.MediaType {
	case ocispec.MediaTypeImageIndex, mediaTypeDockerManifestList:
		if depth >= maxIndexDepth {
			return fmt.Errorf("%s: indexes nested more than %d deep", where, maxIndexDepth)
		}
		data, err := a.metadata(where, d)
		if err != nil {
			return err
		}
		var index ocispec.Index
		if err := json.Unmarshal(data, &index); err != nil {
			return fmt.Errorf("%s: index %s: %w", where, d.Digest, err)
		}
		if err := checkIndex(where, index, d.MediaType); err != nil {
			return err
		}
		for i, m := range index.Manifests {
			if err := a.resolve(fmt.Sprintf("%s → manifests[%d]", where, i), m, depth+1, img); err != nil {
				return err
			}
		}
		return nil
	case ocispec.MediaTypeImageManifest, mediaTypeDockerManifest:
		return a.checkManifest(where, d, img)
	default:
		return fmt.Errorf("%s: media type %q is neither an image index nor a manifest", where, d.MediaType)
	}
}

func checkIndex(where string, index ocispec.Index, mediaType string) error {
	if index.SchemaVersion != 2 {
		return fmt.Errorf("%s: schemaVersion %d, want 2", where, index.SchemaVersion)
	}
	if index.MediaType != "" && index.MediaType != mediaType {
		return fmt.Errorf("%s: index says media type %q, its descriptor %q", where, index.MediaType, mediaType)
	}
	if len(index.Manifests) > maxDescriptors {
		return fmt.Errorf("%s: %d manifests, more than the limit of %d", where, len(index.Manifests), maxDescriptors)
	}
	return nil
}

// metadata returns the JSON document d points to, checking its size.
func (a *archive) metadata(where string, d ocispec.Descriptor) ([]byte, error) {
	b, err := a.blob(where, d)
	if err != nil {
		return nil, err
	}
	if b.data == nil {
		return nil, fmt.Errorf("%s: %s is not a JSON document of at most %d bytes", where, b.entry, MaxMetadataSize)
	}
	return b.data, nil
}

// blob finds the blob d points to, checking its digest's form and its size.
func (a *archive) blob(where string, d ocispec.Descriptor) (*blob, error) {
	if err := d.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("%s: digest %q: %w", where, d.Digest, err)
	}
	b := a.blobs[d.Digest]
	if b == nil {
		return nil, fmt.Errorf("%s: blob %s is not in the archive", where, d.Digest)
	}
	if b.size != d.Size {
		return nil, fmt.Errorf("%s: descriptor says %d bytes, %s has %d", where, d.Size, b.entry, b.size)
	}
	return b, nil
}

func isOurPlatform(p ocispec.Platform) bool {
	return p.OS == platform.OS && p.Architecture == platform.Architecture
}
