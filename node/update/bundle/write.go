package bundle

import (
	"archive/tar"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"time"

	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
)

// Release is what the builder knows about a release besides its parts.
type Release struct {
	Version       string
	KernelVersion string
	// SystemVerity is layout.Verity.String() of the system part.
	SystemVerity string
	// UKIAuthenticode and KernelAuthenticode are the boot measurements (see
	// apb.BootMeasurements).
	UKIAuthenticode, KernelAuthenticode []byte
}

// File is a part to put in a bundle, read from Path.
type File struct {
	Name, Path string
}

// tarTime is every entry's modification time, so the same release gives the same bundle.
var tarTime = time.Unix(1767225600, 0)

// Write writes a bundle of files (the UKI and the system partition first, in that order)
// signed with key to w, and returns its manifest. It hashes each file first, so the files
// must not change while it runs.
func Write(w io.Writer, rel Release, files []File, key ed25519.PrivateKey) (*apb.BundleManifest, error) {
	m := &apb.BundleManifest{
		Version:       rel.Version,
		Architecture:  Architecture,
		KernelVersion: rel.KernelVersion,
		SystemVerity:  rel.SystemVerity,
		Measurements: &apb.BootMeasurements{
			UkiAuthenticodeSha256:    rel.UKIAuthenticode,
			KernelAuthenticodeSha256: rel.KernelAuthenticode,
		},
	}
	for _, f := range files {
		size, sum, err := hashFile(f.Path)
		if err != nil {
			return nil, fmt.Errorf("bundle part %s: %w", f.Name, err)
		}
		m.Parts = append(m.Parts, &apb.BundlePart{Name: f.Name, Size: size, Sha256: sum})
	}
	m.BuildId = BuildID(m.Parts)
	if err := ValidateManifest(m); err != nil {
		return nil, err
	}
	manifest, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return nil, err
	}
	if len(manifest) > MaxManifestSize {
		return nil, fmt.Errorf("manifest of %d bytes is over the %d-byte limit", len(manifest), MaxManifestSize)
	}
	sig := ed25519.Sign(key, signedMessage(manifest))

	tw := tar.NewWriter(w)
	header := func(name string, size int64) *tar.Header {
		return &tar.Header{Name: name, Size: size, Mode: 0o644, ModTime: tarTime, Format: tar.FormatUSTAR, Typeflag: tar.TypeReg}
	}
	for _, e := range []struct {
		name string
		data []byte
	}{{manifestName, manifest}, {signatureName, sig}} {
		if err := tw.WriteHeader(header(e.name, int64(len(e.data)))); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	for i, f := range files {
		if err := copyPart(tw, header(f.Name, m.Parts[i].Size), f.Path); err != nil {
			return nil, fmt.Errorf("bundle part %s: %w", f.Name, err)
		}
	}
	return m, tw.Close()
}

func copyPart(tw *tar.Writer, h *tar.Header, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := tw.WriteHeader(h); err != nil {
		return err
	}
	n, err := io.Copy(tw, f)
	if err == nil && n != h.Size {
		err = fmt.Errorf("changed while the bundle was written (%d bytes, was %d)", n, h.Size)
	}
	return err
}

func hashFile(path string) (int64, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, nil, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return 0, nil, err
	}
	return n, h.Sum(nil), nil
}
