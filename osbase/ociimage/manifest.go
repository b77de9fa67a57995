package ociimage

import (
	"encoding/json"
	"fmt"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// maxLayers bounds the layers of one image (Docker stops at 127).
const maxLayers = 256

// checkManifest checks the manifest d points to, its config and its layers. A manifest
// whose config is for another platform (with no platform in its descriptor) is skipped.
func (a *archive) checkManifest(where string, d ocispec.Descriptor, img *ImageSummary) error {
	data, err := a.metadata(where, d)
	if err != nil {
		return err
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return fmt.Errorf("%s: manifest %s: %w", where, d.Digest, err)
	}
	if m.SchemaVersion != 2 {
		return fmt.Errorf("%s: manifest schemaVersion %d, want 2", where, m.SchemaVersion)
	}
	if m.MediaType != "" && m.MediaType != d.MediaType {
		return fmt.Errorf("%s: manifest says media type %q, its descriptor %q", where, m.MediaType, d.MediaType)
	}

	configWhere := where + " config"
	switch m.Config.MediaType {
	case ocispec.MediaTypeImageConfig, mediaTypeDockerConfig:
	default:
		return fmt.Errorf("%s: media type %q is not an image config", configWhere, m.Config.MediaType)
	}
	configData, err := a.metadata(configWhere, m.Config)
	if err != nil {
		return err
	}
	var config ocispec.Image
	if err := json.Unmarshal(configData, &config); err != nil {
		return fmt.Errorf("%s %s: %w", configWhere, m.Config.Digest, err)
	}
	if !isOurPlatform(config.Platform) {
		if d.Platform != nil {
			return fmt.Errorf("%s: descriptor says %s/%s, config says %s/%s", where,
				d.Platform.OS, d.Platform.Architecture, config.OS, config.Architecture)
		}
		return nil
	}
	if config.RootFS.Type != "layers" {
		return fmt.Errorf("%s: rootfs type %q, want \"layers\"", configWhere, config.RootFS.Type)
	}
	if len(m.Layers) == 0 {
		return fmt.Errorf("%s: no layers", where)
	}
	if len(m.Layers) > maxLayers {
		return fmt.Errorf("%s: %d layers, more than the limit of %d", where, len(m.Layers), maxLayers)
	}
	if len(config.RootFS.DiffIDs) != len(m.Layers) {
		return fmt.Errorf("%s: %d layers but the config lists %d diff IDs", where, len(m.Layers), len(config.RootFS.DiffIDs))
	}
	layers := make([]Layer, len(m.Layers))
	for i, l := range m.Layers {
		layerWhere := fmt.Sprintf("%s layers[%d]", where, i)
		diffID, err := a.layerDiffID(layerWhere, l)
		if err != nil {
			return err
		}
		if diffID != config.RootFS.DiffIDs[i] {
			return fmt.Errorf("%s: uncompressed digest %s, the config says %s", layerWhere, diffID, config.RootFS.DiffIDs[i])
		}
		layers[i] = Layer{Digest: l.Digest, DiffID: diffID, Size: l.Size, MediaType: l.MediaType}
	}
	if img.Manifest == "" {
		img.Manifest = d.Digest
		img.Config = m.Config.Digest
		img.Platform = config.Platform
		img.Layers = layers
	}
	return nil
}

// layerDiffID returns the digest of the layer's uncompressed tar.
func (a *archive) layerDiffID(where string, l ocispec.Descriptor) (digest.Digest, error) {
	b, err := a.blob(where, l)
	if err != nil {
		return "", err
	}
	switch l.MediaType {
	case ocispec.MediaTypeImageLayerGzip, mediaTypeDockerLayerGzip:
		if !b.gzip {
			return "", fmt.Errorf("%s: %s is not gzip'd, as its media type says", where, b.entry)
		}
		if b.gzipErr != nil {
			return "", fmt.Errorf("%s: decompressing %s: %w", where, b.entry, b.gzipErr)
		}
		return b.diffID, nil
	case ocispec.MediaTypeImageLayer, mediaTypeDockerLayer:
		return l.Digest, nil
	default:
		return "", fmt.Errorf("%s: layer media type %q is not supported (only tar and tar+gzip)", where, l.MediaType)
	}
}
