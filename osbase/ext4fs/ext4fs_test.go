package ext4fs

import (
	"os"
	"path/filepath"
	"testing"
)

// A file system go-diskfs wrote reports the size it was made with.
func TestFormatAndSize(t *testing.T) {
	for _, size := range []int64{16 << 20, 64 << 20} {
		img := filepath.Join(t.TempDir(), "fs.img")
		if err := os.WriteFile(img, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(img, size); err != nil {
			t.Fatal(err)
		}
		if err := Format(img, size, Params{Label: "test"}); err != nil {
			t.Fatal(err)
		}
		got, err := Size(img)
		if err != nil || got != size {
			t.Errorf("Size after formatting %d bytes = %d, %v", size, got, err)
		}
	}
}

func TestFormatRefusesLongLabel(t *testing.T) {
	if err := Format(filepath.Join(t.TempDir(), "x"), 16<<20, Params{Label: "a label of over sixteen bytes"}); err == nil {
		t.Fatal("Format took a label longer than 16 bytes")
	}
}

// FuzzSuperblockSize: a damaged superblock is an error, never a panic or a negative size.
func FuzzSuperblockSize(f *testing.F) {
	sb := make([]byte, 1024)
	sb[0x38], sb[0x39] = 0x53, 0xef
	sb[0x4] = 0x40
	f.Add(sb)
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, sb []byte) {
		size, err := superblockSize(sb)
		if err == nil && size < 0 {
			t.Fatalf("size %d", size)
		}
	})
}
