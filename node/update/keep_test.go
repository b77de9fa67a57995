package update

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"metropolis.dev/metropolis/node/update/bundle/bundletest"
)

func TestKeeper(t *testing.T) {
	key := bundletest.NewKey(t)
	other := bundletest.NewKey(t)
	good := bundletest.Make(t, key, "2.0.0")
	k := NewKeeper(filepath.Join(t.TempDir(), "bundles"), []ed25519.PublicKey{key.Public})
	ctx := context.Background()

	tampered := bytes.Clone(good)
	tampered[len(tampered)-2048] ^= 1 // inside the system part
	for _, tc := range []struct {
		name    string
		data    []byte
		size    int64
		wantErr string
	}{
		{"signed by another key", bundletest.Make(t, other, "2.0.0"), 0, "not signed by a trusted release key"},
		{"truncated", good[:len(good)/2], int64(len(good)), "truncated"},
		{"a part altered after signing", tampered, 0, "does not match"},
		{"longer than declared", good, int64(len(good)) - 1, "not the"},
		{"shorter than declared", good, int64(len(good)) + 1, "not the"},
		{"no size", good, -1, "a bundle of -1 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			size := tc.size
			if size == 0 {
				size = int64(len(tc.data))
			}
			_, err := k.Keep(ctx, bytes.NewReader(tc.data), size)
			if !errors.Is(err, ErrRefused) || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("Keep: %v; want ErrRefused saying %q", err, tc.wantErr)
			}
			if entries, _ := os.ReadDir(k.Dir); len(entries) != 0 {
				t.Errorf("a refused bundle left %d file(s) behind", len(entries))
			}
		})
	}

	kept, err := k.Keep(ctx, bytes.NewReader(good), int64(len(good)))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(good)
	if kept.Release.Version != "2.0.0" || !bytes.Equal(kept.SHA256, sum[:]) || kept.Size != int64(len(good)) {
		t.Errorf("kept %v %x %d", kept.Release.Version, kept.SHA256, kept.Size)
	}
	f, size, err := k.Open(sum[:])
	if err != nil {
		t.Fatal(err)
	}
	back, _ := io.ReadAll(f)
	f.Close()
	if size != int64(len(good)) || !bytes.Equal(back, good) {
		t.Errorf("the kept bundle reads back as %d bytes, not the bundle", len(back))
	}
	if _, _, err := k.Open(make([]byte, 32)); !errors.Is(err, ErrNotKept) {
		t.Errorf("Open of a bundle not kept: %v", err)
	}
	if _, _, err := k.Open([]byte{1}); err == nil {
		t.Error("Open of a 1-byte SHA-256 succeeded")
	}

	// Keeping more than maxKept removes the oldest; the newest is listed first.
	var sums [][]byte
	for i, v := range []string{"3.0.0", "4.0.0"} {
		b := bundletest.Make(t, key, v)
		kept, err := k.Keep(ctx, bytes.NewReader(b), int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		// Distinct modification times, so "oldest" is well defined on coarse filesystems.
		when := time.Now().Add(time.Duration(i+1) * time.Second)
		if err := os.Chtimes(k.path(kept.SHA256), when, when); err != nil {
			t.Fatal(err)
		}
		sums = append(sums, kept.SHA256)
	}
	list := k.List()
	if len(list) != maxKept || !bytes.Equal(list[0], sums[1]) || !bytes.Equal(list[1], sums[0]) {
		t.Errorf("kept after three bundles: %x; want the last two, newest first", list)
	}
}

// TestKeeperWithoutKeys: a release that trusts no key keeps nothing.
func TestKeeperWithoutKeys(t *testing.T) {
	k := NewKeeper(t.TempDir(), nil)
	if _, err := k.Keep(context.Background(), strings.NewReader("x"), 1); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Keep without keys: %v", err)
	}
}
