package mkimage

import (
	"crypto/ed25519"
	"fmt"
	"os"
	"path"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/node/update/bundle"
	"metropolis.dev/metropolis/osbase/authenticode"
)

// parseReleaseKeys checks the release public keys an image will trust.
func parseReleaseKeys(pems [][]byte) ([]ed25519.PublicKey, error) {
	var keys []ed25519.PublicKey
	for i, data := range pems {
		k, err := bundle.ParsePublicKey(data)
		if err != nil {
			return nil, fmt.Errorf("release public key %d: %w", i+1, err)
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// addRelease puts the release's version and trusted keys on the system partition.
func addRelease(files map[string]stagedFile, version string, keys []ed25519.PublicKey) {
	files[layout.SystemVersionPath[1:]] = stagedFile{data: []byte(version + "\n"), mode: 0o644}
	for _, k := range keys {
		data, err := bundle.MarshalPublicKey(k)
		if err != nil {
			panic(err) // a key that parsed always marshals
		}
		files[path.Join(layout.SystemReleaseKeysDir[1:], bundle.KeyID(k)+".pub")] = stagedFile{data: data, mode: 0o644}
	}
}

// measure computes what firmware will measure when it starts the UKI at path.
func measure(ukiPath string) (*apb.BootMeasurements, error) {
	uki, err := os.ReadFile(ukiPath)
	if err != nil {
		return nil, err
	}
	ukiHash, err := authenticode.SHA256(uki)
	if err != nil {
		return nil, fmt.Errorf("unified kernel image: %w", err)
	}
	kernel, err := authenticode.Section(uki, ".linux")
	if err != nil {
		return nil, fmt.Errorf("unified kernel image: %w", err)
	}
	kernelHash, err := authenticode.SHA256(kernel)
	if err != nil {
		return nil, fmt.Errorf("the kernel in the unified kernel image: %w", err)
	}
	return &apb.BootMeasurements{UkiAuthenticodeSha256: ukiHash, KernelAuthenticodeSha256: kernelHash}, nil
}

// writeBundle writes the release's signed update bundle to out.
func writeBundle(out string, res *Result, key ed25519.PrivateKey) (*apb.BundleManifest, int64, error) {
	f, err := os.Create(out)
	if err != nil {
		return nil, 0, err
	}
	m, err := bundle.Write(f, bundle.Release{
		Version: res.Version, KernelVersion: res.KernelVersion, SystemVerity: res.Verity.String(),
		UKIAuthenticode: res.Measurements.UkiAuthenticodeSha256, KernelAuthenticode: res.Measurements.KernelAuthenticodeSha256,
	}, []bundle.File{{Name: bundle.PartUKI, Path: res.UKIPath}, {Name: bundle.PartSystem, Path: res.SystemImagePath}}, key)
	if err != nil {
		f.Close()
		return nil, 0, fmt.Errorf("update bundle: %w", err)
	}
	if err := f.Close(); err != nil {
		return nil, 0, err
	}
	st, err := os.Stat(out)
	if err != nil {
		return nil, 0, err
	}
	return m, st.Size(), nil
}

// MeasurementsFile is written next to the image: the release's boot measurements, one
// "name hex" line each.
const MeasurementsFile = "measurements.txt"

func writeMeasurements(path string, m *apb.BootMeasurements) error {
	text := fmt.Sprintf("uki_authenticode_sha256 %x\nkernel_authenticode_sha256 %x\n", m.UkiAuthenticodeSha256, m.KernelAuthenticodeSha256)
	return os.WriteFile(path, []byte(text), 0o644)
}
