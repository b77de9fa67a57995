// Package bundletest makes small signed update bundles for tests of the packages that keep,
// fetch and install them: real bundles (bundle.Write) with placeholder parts, signed by a key
// made for the test.
package bundletest

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"

	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/node/update/bundle"
)

// Key is a release key made for a test.
type Key struct {
	Private ed25519.PrivateKey
	Public  ed25519.PublicKey
}

// NewKey makes a release key.
func NewKey(t testing.TB) Key {
	t.Helper()
	privPEM, pubPEM, err := bundle.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	priv, err := bundle.ParsePrivateKey(privPEM)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := bundle.ParsePublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	return Key{Private: priv, Public: pub}
}

// Make returns a bundle of release version signed by k. Its parts are placeholders: a node
// would refuse to boot them, but every check of the bundle itself passes.
func Make(t testing.TB, k Key, version string) []byte {
	t.Helper()
	dir := t.TempDir()
	uki := filepath.Join(dir, "uki")
	sys := filepath.Join(dir, "sys")
	if err := os.WriteFile(uki, []byte("MZ a unified kernel image of "+version), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(sys, bytes.Repeat([]byte(version[:1]), 3*layout.VerityBlockSize), 0o644); err != nil {
		t.Fatal(err)
	}
	v := layout.Verity{DataBlocks: 2, HashStartBlock: 2, RootHash: bytes.Repeat([]byte{1}, 32), Salt: []byte{2}}
	var buf bytes.Buffer
	if _, err := bundle.Write(&buf, bundle.Release{
		Version: version, KernelVersion: "6.1.0-56-amd64", SystemVerity: v.String(),
		UKIAuthenticode: bytes.Repeat([]byte{3}, 32), KernelAuthenticode: bytes.Repeat([]byte{4}, 32),
	}, []bundle.File{{Name: bundle.PartUKI, Path: uki}, {Name: bundle.PartSystem, Path: sys}}, k.Private); err != nil {
		t.Fatalf("write a test bundle: %v", err)
	}
	return buf.Bytes()
}
