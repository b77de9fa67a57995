package update

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"strings"

	"metropolis.dev/metropolis/node/update/bundle"
	"metropolis.dev/metropolis/osbase/authenticode"
)

// measurement is what firmware extends into PCR 4 for a UKI: its own Authenticode digest,
// and its kernel's (should the stub load the kernel as an image of its own).
type measurement struct {
	uki, kernel []byte
}

func measure(uki []byte) (measurement, error) {
	u, err := authenticode.SHA256(uki)
	if err != nil {
		return measurement{}, err
	}
	k, err := authenticode.Section(uki, ".linux")
	if err != nil {
		return measurement{}, err
	}
	kh, err := authenticode.SHA256(k)
	if err != nil {
		return measurement{}, fmt.Errorf("its kernel: %w", err)
	}
	return measurement{uki: u, kernel: kh}, nil
}

func measureFile(path string) (measurement, error) {
	data, err := readFileLimited(path, bundle.MaxUKISize)
	if err != nil {
		return measurement{}, err
	}
	return measure(data)
}

// replacements maps the running release's measurements (hex) to the new release's.
func replacements(from, to measurement) map[string][]byte {
	return map[string][]byte{
		hex.EncodeToString(from.uki):    to.uki,
		hex.EncodeToString(from.kernel): to.kernel,
	}
}

func parseKey(data []byte) (ed25519.PublicKey, error) { return bundle.ParsePublicKey(data) }

// ukiCmdline returns the command line a UKI gives its kernel (the .cmdline section).
func ukiCmdline(uki []byte) (string, error) {
	data, err := authenticode.Section(uki, ".cmdline")
	if err != nil {
		return "", fmt.Errorf("UKI: %w", err)
	}
	return strings.TrimRight(string(data), "\x00"), nil
}
