package bundle

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"metropolis.dev/metropolis/node/platform/image/layout"
)

// testBundle writes a small but well-formed bundle signed by a fresh key and returns it with
// the key's public half.
func testBundle(t testing.TB) ([]byte, ed25519.PublicKey) {
	t.Helper()
	privPEM, pubPEM, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	uki := filepath.Join(dir, "uki")
	sys := filepath.Join(dir, "sys")
	if err := os.WriteFile(uki, []byte("MZ a unified kernel image"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sys, bytes.Repeat([]byte{7}, 3*layout.VerityBlockSize), 0o644); err != nil {
		t.Fatal(err)
	}
	v := layout.Verity{DataBlocks: 2, HashStartBlock: 2, RootHash: bytes.Repeat([]byte{1}, 32), Salt: []byte{2}}
	var buf bytes.Buffer
	_, err = Write(&buf, Release{
		Version: "2.0.0-test", KernelVersion: "6.1.0-56-amd64", SystemVerity: v.String(),
		UKIAuthenticode: bytes.Repeat([]byte{3}, 32), KernelAuthenticode: bytes.Repeat([]byte{4}, 32),
	}, []File{{PartUKI, uki}, {PartSystem, sys}}, priv)
	if err != nil {
		t.Fatalf("Write: %v", err)
	}
	return buf.Bytes(), pub
}

// readBundle reads a whole bundle as a node would, returning the parts' contents.
func readBundle(data []byte, trusted []ed25519.PublicKey) (map[string][]byte, error) {
	r, err := Open(bytes.NewReader(data), trusted)
	if err != nil {
		return nil, err
	}
	parts := make(map[string][]byte)
	for {
		p, pr, err := r.Next()
		if err == io.EOF {
			return parts, nil
		}
		if err != nil {
			return nil, err
		}
		b, err := io.ReadAll(pr)
		if err != nil {
			return nil, err
		}
		parts[p.Name] = b
	}
}

func TestRoundTrip(t *testing.T) {
	data, pub := testBundle(t)
	parts, err := readBundle(data, []ed25519.PublicKey{pub})
	if err != nil {
		t.Fatalf("reading a good bundle: %v", err)
	}
	if string(parts[PartUKI]) != "MZ a unified kernel image" || len(parts[PartSystem]) != 3*layout.VerityBlockSize {
		t.Errorf("parts read back wrong: %d and %d bytes", len(parts[PartUKI]), len(parts[PartSystem]))
	}
	again, _ := testBundle(t)
	if len(again) != len(data) {
		t.Errorf("the same release gave bundles of %d and %d bytes", len(data), len(again))
	}
}

func TestRefused(t *testing.T) {
	data, pub := testBundle(t)
	otherPub, _, _ := ed25519.GenerateKey(nil)
	// The system part's first byte: after three 512-byte headers and the padded manifest,
	// signature and UKI.
	sysOffset := bytes.Index(data, bytes.Repeat([]byte{7}, 64))
	manifestOffset := 512
	for _, tc := range []struct {
		name    string
		data    []byte
		trusted []ed25519.PublicKey
		want    string
	}{
		{"no trusted key", data, nil, "trusts no release key"},
		{"signed by another key", data, []ed25519.PublicKey{otherPub}, "matches none of the keys"},
		{"manifest changed after signing", flip(data, manifestOffset+3), []ed25519.PublicKey{pub}, "matches none of the keys"},
		{"system changed after signing", flip(data, sysOffset+100), []ed25519.PublicKey{pub}, "part system.img does not match its SHA-256"},
		{"truncated in the system part", data[:sysOffset+500], []ed25519.PublicKey{pub}, "truncated"},
		{"truncated after the UKI", data[:sysOffset-512], []ed25519.PublicKey{pub}, "ends before part system.img"},
		{"truncated in the manifest", data[:600], []ed25519.PublicKey{pub}, "truncated"},
		{"empty", nil, []ed25519.PublicKey{pub}, "not a bundle"},
		{"not a tar file", []byte(strings.Repeat("hello", 300)), []ed25519.PublicKey{pub}, "not a bundle"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := readBundle(tc.data, tc.trusted)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
	if _, err := readBundle(data, []ed25519.PublicKey{otherPub}); !errors.Is(err, ErrUntrusted) {
		t.Errorf("another key's bundle: %v, want ErrUntrusted", err)
	}
}

func flip(data []byte, i int) []byte {
	out := append([]byte{}, data...)
	out[i] ^= 0x55
	return out
}

func TestKeysRefuseOtherKinds(t *testing.T) {
	privPEM, pubPEM, _ := GenerateKey()
	if _, err := ParsePublicKey(privPEM); err == nil {
		t.Error("a private key parsed as a public key")
	}
	if _, err := ParsePrivateKey(pubPEM); err == nil {
		t.Error("a public key parsed as a private key")
	}
	if _, err := ParsePublicKey([]byte("garbage")); err == nil {
		t.Error("garbage parsed as a public key")
	}
}

// FuzzOpen feeds the reader damaged bundles: it must never panic, and any bundle it reads to
// the end must carry the parts the manifest promised.
func FuzzOpen(f *testing.F) {
	data, pub := testBundle(f)
	f.Add(data)
	f.Add(data[:700])
	f.Fuzz(func(t *testing.T, in []byte) {
		parts, err := readBundle(in, []ed25519.PublicKey{pub})
		if err != nil {
			if len(err.Error()) > 400 {
				t.Errorf("error of %d bytes echoes too much: %.100s", len(err.Error()), err)
			}
			return
		}
		if parts[PartUKI] == nil || parts[PartSystem] == nil {
			t.Errorf("accepted a bundle without both parts")
		}
	})
}
