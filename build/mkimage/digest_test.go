package mkimage

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"
)

func TestImageSHA256(t *testing.T) {
	for _, tc := range []struct {
		name   string
		size   int64
		writes map[int64]string
	}{
		{"empty", 0, nil},
		{"all hole", 3 << 20, nil},
		{"data at both ends and between holes", 9 << 20, map[int64]string{0: "head", 4 << 20: "middle", 9<<20 - 4: "tail"}},
		{"not a multiple of a block", 5000, map[int64]string{4097: "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "f")
			f, err := os.Create(p)
			if err != nil {
				t.Fatal(err)
			}
			f.Truncate(tc.size)
			want := make([]byte, tc.size)
			for off, s := range tc.writes {
				f.WriteAt([]byte(s), off)
				copy(want[off:], s)
			}
			f.Close()
			got, err := ImageSHA256(p)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(want)
			if got != hex.EncodeToString(sum[:]) {
				t.Fatalf("got %s, want %x", got, sum)
			}
		})
	}
}
