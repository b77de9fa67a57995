package authenticode

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"testing"
)

// TestMatchesPesign compares against digests `pesign -h` printed for real PE files: the
// EFI stub the image builder uses (Debian 12's systemd-boot-efi 252) and the pinned Debian
// kernel. A file is only compared when it is exactly the one the digest was taken of.
func TestMatchesPesign(t *testing.T) {
	for _, tc := range []struct {
		path, fileSHA256, authenticode string
	}{
		{"/usr/lib/systemd/boot/efi/linuxx64.efi.stub",
			"c62ae56ffaf49d1a61de4434f4f531dd1d4ed3b5aee46c934c56e3f809b22cc4",
			"28fd6b9a39b745449fa2389a31045900804eae49ea7edb0f8c152a131df0002c"},
		{"../../out/image/vmlinuz",
			"", // any build of the pinned kernel
			"6b1bf35c3bee9918250f593a6fff889c75c1e239cd2fe9e5bb0cd3de9dcb8e51"},
	} {
		data, err := os.ReadFile(tc.path)
		if err != nil {
			t.Logf("skipping %s: %v", tc.path, err)
			continue
		}
		if sum := sha256.Sum256(data); tc.fileSHA256 != "" && hex.EncodeToString(sum[:]) != tc.fileSHA256 {
			t.Logf("skipping %s: another version of the file", tc.path)
			continue
		}
		got, err := SHA256(data)
		if err != nil {
			t.Fatalf("%s: %v", tc.path, err)
		}
		if hex.EncodeToString(got) != tc.authenticode {
			t.Errorf("%s: Authenticode SHA-256 %x, pesign says %s", tc.path, got, tc.authenticode)
		}
	}
}

func TestRefusesNonPE(t *testing.T) {
	for name, data := range map[string][]byte{
		"empty":        nil,
		"text":         []byte("hello, this is not a PE image at all, just some words"),
		"MZ only":      append([]byte("MZ"), make([]byte, 100)...),
		"PE past file": append(append([]byte("MZ"), make([]byte, 0x3a)...), 0xff, 0xff, 0, 0),
	} {
		if _, err := SHA256(data); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func FuzzSHA256(f *testing.F) {
	if stub, err := os.ReadFile("/usr/lib/systemd/boot/efi/linuxx64.efi.stub"); err == nil && len(stub) < 1<<20 {
		f.Add(stub[:4096])
	}
	f.Add([]byte("MZ"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = SHA256(data)
		_, _ = Section(data, ".linux")
	})
}
