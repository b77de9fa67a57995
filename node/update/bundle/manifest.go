package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/platform/image/layout"
)

// Names of the parts a node needs.
const (
	PartUKI    = "uki.efi"
	PartSystem = "system.img"
)

// Architecture is the only machine architecture nodes run on.
const Architecture = "amd64"

// Limits on what a manifest may say. The UKI must fit the ESP twice (both slots) beside the
// parameters and the sealed record; the system must fit its partition.
const (
	MaxManifestSize = 64 << 10
	MaxUKISize      = 48 << 20
	MaxSystemSize   = layout.SystemSize
	maxVersionLen   = 64
	maxParts        = 16
	maxPartNameLen  = 64
)

// signaturePrefix separates manifest signatures from anything else a release key might sign.
const signaturePrefix = "metropolis bundle manifest v1\x00"

// signedMessage is what the release key signs: the prefix and the manifest's bytes.
func signedMessage(manifest []byte) []byte {
	return append([]byte(signaturePrefix), manifest...)
}

// ValidateManifest checks everything a node relies on in a manifest, naming the first field
// that is wrong. Unknown parts beyond the two a node needs are allowed (a later release may
// add some) and skipped by readers that do not know them.
func ValidateManifest(m *apb.BundleManifest) error {
	if err := checkVersion(m.Version); err != nil {
		return err
	}
	if m.Architecture != Architecture {
		return fmt.Errorf("manifest: architecture %s, this node runs %s", quote(m.Architecture), Architecture)
	}
	if len(m.Parts) > maxParts {
		return fmt.Errorf("manifest: %d parts, at most %d", len(m.Parts), maxParts)
	}
	seen := make(map[string]bool)
	for i, p := range m.Parts {
		if p.Name == "" || len(p.Name) > maxPartNameLen {
			return fmt.Errorf("manifest: part %d has name %s, want 1 to %d bytes", i, quote(p.Name), maxPartNameLen)
		}
		if seen[p.Name] {
			return fmt.Errorf("manifest: part %s is listed twice", quote(p.Name))
		}
		seen[p.Name] = true
		if len(p.Sha256) != sha256.Size {
			return fmt.Errorf("manifest: part %s: SHA-256 of %d bytes, want %d", quote(p.Name), len(p.Sha256), sha256.Size)
		}
		limit := int64(1 << 40)
		switch p.Name {
		case PartUKI:
			limit = MaxUKISize
		case PartSystem:
			limit = MaxSystemSize
		}
		if p.Size <= 0 || p.Size > limit {
			return fmt.Errorf("manifest: part %s: size %d, want 1 to %d bytes", quote(p.Name), p.Size, limit)
		}
	}
	for _, need := range []string{PartUKI, PartSystem} {
		if !seen[need] {
			return fmt.Errorf("manifest: no part %s", need)
		}
	}
	v, err := layout.ParseVerity(m.SystemVerity)
	if err != nil {
		return fmt.Errorf("manifest: system_verity: %w", err)
	}
	sys := FindPart(m, PartSystem)
	if (v.HashStartBlock+1)*layout.VerityBlockSize > uint64(sys.Size) {
		return fmt.Errorf("manifest: system_verity puts the hash tree at block %d, beyond the %d-byte system part", v.HashStartBlock, sys.Size)
	}
	if sys.Size%layout.VerityBlockSize != 0 {
		return fmt.Errorf("manifest: system part of %d bytes is not whole %d-byte blocks", sys.Size, layout.VerityBlockSize)
	}
	if m.Measurements == nil || len(m.Measurements.UkiAuthenticodeSha256) != sha256.Size || len(m.Measurements.KernelAuthenticodeSha256) != sha256.Size {
		return fmt.Errorf("manifest: measurements: want the UKI's and the kernel's Authenticode SHA-256 (%d bytes each)", sha256.Size)
	}
	if want := BuildID(m.Parts); m.BuildId != want {
		return fmt.Errorf("manifest: build ID %s does not match its parts (want %s)", quote(m.BuildId), want)
	}
	return nil
}

// BuildID derives a manifest's build ID from its parts' names and digests.
func BuildID(parts []*apb.BundlePart) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%s %d %x\n", p.Name, p.Size, p.Sha256)
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// FindPart returns the part called name, or nil.
func FindPart(m *apb.BundleManifest, name string) *apb.BundlePart {
	for _, p := range m.Parts {
		if p.Name == name {
			return p
		}
	}
	return nil
}

func checkVersion(v string) error {
	if v == "" || len(v) > maxVersionLen {
		return fmt.Errorf("manifest: version %s, want 1 to %d characters", quote(v), maxVersionLen)
	}
	for i := 0; i < len(v); i++ {
		if v[i] <= ' ' || v[i] > '~' {
			return fmt.Errorf("manifest: version %s has a character that is not printable ASCII", quote(v))
		}
	}
	return nil
}

// CheckVersion is the rule for version strings, for the builder to check before it builds.
func CheckVersion(v string) error { return checkVersion(v) }

// quote quotes s for an error message, cut to 40 bytes: errors never echo much of the input.
func quote(s string) string {
	const max = 40
	if len(s) > max {
		return fmt.Sprintf("%q...", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
