package mkimage

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// zeros is a block of zeros fed to the hash for a sparse file's holes.
var zeros = make([]byte, 1<<20)

// ImageSHA256 returns the SHA-256 of a (sparse) file, the same as sha256sum prints, without
// reading its holes from the disk: the disk image is gigabytes of holes around a few
// megabytes of data, and reading holes is the slow part.
func ImageSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return "", err
	}
	size := st.Size()
	h := sha256.New()
	hashZeros := func(n int64) {
		for n > 0 {
			c := min(n, int64(len(zeros)))
			h.Write(zeros[:c])
			n -= c
		}
	}
	var off int64
	for off < size {
		data, err := f.Seek(off, unix.SEEK_DATA)
		if errors.Is(err, syscall.ENXIO) {
			break // only a hole from here to the end
		}
		if err != nil {
			return "", fmt.Errorf("hashing %s: %w", path, err)
		}
		hole, err := f.Seek(data, unix.SEEK_HOLE)
		if err != nil {
			return "", fmt.Errorf("hashing %s: %w", path, err)
		}
		hashZeros(data - off)
		if _, err := io.Copy(h, io.NewSectionReader(f, data, hole-data)); err != nil {
			return "", fmt.Errorf("hashing %s: %w", path, err)
		}
		off = hole
	}
	hashZeros(size - off)
	return hex.EncodeToString(h.Sum(nil)), nil
}
