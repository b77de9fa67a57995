package ociimage

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"strings"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

// Limits on what Inspect reads. They are far above any image Metropolis runs, and keep a
// hostile archive from making the node hold or decompress without bound.
const (
	// MaxEntries is the most tar entries an archive may have.
	MaxEntries = 10000
	// MaxMetadataSize bounds one JSON document: oci-layout, index.json, a manifest, a config.
	MaxMetadataSize = 4 << 20
	// maxMetadataTotal bounds all JSON documents together (they are kept in memory).
	maxMetadataTotal = 64 << 20
	// MaxBlobSize bounds one blob (a layer, compressed).
	MaxBlobSize = 8 << 30
	// MaxLayerSize bounds one layer decompressed.
	MaxLayerSize = 32 << 30
)

var blobName = regexp.MustCompile(`^blobs/sha256/[0-9a-f]{64}$`)

// blob is what Inspect keeps of one entry under blobs/.
type blob struct {
	entry string // its tar entry name, for errors
	size  int64
	// data is the content of a blob small enough and shaped like JSON; nil otherwise.
	data []byte
	// gzip is set for a blob starting with the gzip magic; then diffID is the digest of
	// its decompressed content, or gzipErr says why that failed.
	gzip    bool
	diffID  digest.Digest
	gzipErr error
}

// archive is an OCI layout archive read once, front to back.
type archive struct {
	layout, index []byte
	blobs         map[digest.Digest]*blob
	metadataTotal int64
}

// readArchive reads every tar entry of r, checking each blob's content against its name.
func readArchive(r io.Reader) (*archive, error) {
	a := &archive{blobs: make(map[digest.Digest]*blob)}
	tr := tar.NewReader(r)
	last := "the start"
	for entries := 0; ; entries++ {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("reading the tar archive after %s: %w", last, err)
		}
		if entries >= MaxEntries {
			return nil, fmt.Errorf("archive has more than %d entries", MaxEntries)
		}
		last = fmt.Sprintf("entry %q", hdr.Name)
		if err := a.readEntry(tr, hdr); err != nil {
			return nil, fmt.Errorf("entry %q: %w", hdr.Name, err)
		}
	}
	if a.layout == nil {
		return nil, errors.New("no oci-layout file: not an OCI image layout (Docker's older save format is not supported)")
	}
	if a.index == nil {
		return nil, errors.New("no index.json in the archive")
	}
	return a, nil
}

func (a *archive) readEntry(tr *tar.Reader, hdr *tar.Header) error {
	name := path.Clean(hdr.Name)
	if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
		return errors.New("path leaves the archive")
	}
	switch hdr.Typeflag {
	case tar.TypeDir, tar.TypeXGlobalHeader:
		return nil
	case tar.TypeReg:
	default:
		return fmt.Errorf("tar entry type %q is not allowed (only files and directories)", hdr.Typeflag)
	}
	for key := range hdr.PAXRecords {
		// A sparse file's holes read as zeros: a few bytes of archive could make Inspect
		// hash gigabytes.
		if strings.HasPrefix(key, "GNU.sparse.") {
			return errors.New("sparse files are not allowed")
		}
	}
	if hdr.Size > MaxBlobSize {
		return fmt.Errorf("%d bytes is more than the limit of %d", hdr.Size, int64(MaxBlobSize))
	}
	switch {
	case name == ocispec.ImageLayoutFile:
		return a.readMetadataFile(tr, hdr.Size, &a.layout)
	case name == ocispec.ImageIndexFile:
		return a.readMetadataFile(tr, hdr.Size, &a.index)
	case strings.HasPrefix(name, ocispec.ImageBlobsDir+"/"):
		if !blobName.MatchString(name) {
			return errors.New("not a blob name (blobs/sha256/ and 64 lowercase hex digits)")
		}
		want := digest.NewDigestFromEncoded(digest.SHA256, path.Base(name))
		if a.blobs[want] != nil {
			return errors.New("blob appears twice")
		}
		b, got, err := a.readBlob(tr, hdr.Name, hdr.Size)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("content has digest %s, not the one its name says", got)
		}
		a.blobs[want] = b
		return nil
	default:
		// Other files (Docker's manifest.json, repositories) are not part of the layout;
		// containerd ignores them too.
		return nil
	}
}

func (a *archive) readMetadataFile(r io.Reader, size int64, into *[]byte) error {
	if *into != nil {
		return errors.New("appears twice")
	}
	if size > MaxMetadataSize {
		return fmt.Errorf("%d bytes is more than the limit of %d for a JSON document", size, MaxMetadataSize)
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	a.metadataTotal += int64(len(data))
	*into = data
	return nil
}

// readBlob reads one blob, hashing it, keeping it if it may be a JSON document and
// hashing its decompressed content if it is gzip'd (it may be a layer: only the manifest,
// possibly later in the archive, says).
func (a *archive) readBlob(r io.Reader, entry string, size int64) (*blob, digest.Digest, error) {
	h := sha256.New()
	counted := &countingWriter{w: h}
	br := bufio.NewReaderSize(io.TeeReader(r, counted), 64<<10)
	b := &blob{entry: entry, size: size}
	head, _ := br.Peek(16)
	switch {
	case size <= MaxMetadataSize && looksLikeJSON(head):
		if a.metadataTotal+size > maxMetadataTotal {
			return nil, "", fmt.Errorf("JSON documents in the archive exceed %d bytes together", maxMetadataTotal)
		}
		data, err := io.ReadAll(br)
		if err != nil {
			return nil, "", err
		}
		a.metadataTotal += size
		b.data = data
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		b.gzip = true
		b.diffID, b.gzipErr = gunzipDigest(br)
	}
	// Whatever is left (all of it, or what follows a gzip stream) still counts.
	if _, err := io.Copy(io.Discard, br); err != nil {
		return nil, "", err
	}
	if counted.n != size {
		return nil, "", fmt.Errorf("read %d bytes, the tar header says %d", counted.n, size)
	}
	return b, digest.NewDigest(digest.SHA256, h), nil
}

// gunzipDigest returns the digest of r decompressed, refusing more than MaxLayerSize.
func gunzipDigest(r io.Reader) (digest.Digest, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	n, err := io.Copy(h, io.LimitReader(zr, MaxLayerSize+1))
	if err != nil {
		return "", err
	}
	if n > MaxLayerSize {
		return "", fmt.Errorf("decompresses to more than %d bytes", int64(MaxLayerSize))
	}
	return digest.NewDigest(digest.SHA256, h), nil
}

func looksLikeJSON(head []byte) bool {
	head = bytes.TrimLeft(head, " \t\r\n")
	return len(head) > 0 && head[0] == '{'
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
