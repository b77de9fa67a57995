package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
	"strings"

	"google.golang.org/protobuf/proto"

	apb "metropolis.dev/metropolis/api/v1"
)

const (
	manifestName  = "manifest.pb"
	signatureName = "manifest.sig"
)

// ErrUntrusted is wrapped by the errors of a bundle whose manifest is not signed by a
// trusted key.
var ErrUntrusted = errors.New("bundle is not signed by a trusted release key")

// Reader reads a bundle from a stream: the manifest, checked, then each part in order.
type Reader struct {
	tr       *tar.Reader
	manifest *apb.BundleManifest
	keyID    string
	next     int
	cur      *partReader
}

// Open reads a bundle's manifest and signature from r and checks them: the signature must
// be by one of trusted, and the manifest must pass ValidateManifest. Nothing of any part has
// been read when it returns.
func Open(r io.Reader, trusted []ed25519.PublicKey) (*Reader, error) {
	if len(trusted) == 0 {
		return nil, fmt.Errorf("%w: this node trusts no release key (its image was built without one)", ErrUntrusted)
	}
	tr := tar.NewReader(r)
	manifest, err := readSmall(tr, manifestName, MaxManifestSize)
	if err != nil {
		return nil, err
	}
	sig, err := readSmall(tr, signatureName, ed25519.SignatureSize)
	if err != nil {
		return nil, err
	}
	if len(sig) != ed25519.SignatureSize {
		return nil, fmt.Errorf("%w: %s is %d bytes, an ed25519 signature is %d", ErrUntrusted, signatureName, len(sig), ed25519.SignatureSize)
	}
	msg := signedMessage(manifest)
	var keyID string
	for _, k := range trusted {
		if ed25519.Verify(k, msg, sig) {
			keyID = KeyID(k)
			break
		}
	}
	if keyID == "" {
		ids := make([]string, len(trusted))
		for i, k := range trusted {
			ids[i] = KeyID(k)
		}
		return nil, fmt.Errorf("%w: the manifest's signature matches none of the keys this node trusts (%s); the bundle was signed by another key, or changed after signing",
			ErrUntrusted, strings.Join(ids, ", "))
	}
	var m apb.BundleManifest
	if err := proto.Unmarshal(manifest, &m); err != nil {
		return nil, fmt.Errorf("manifest (signed by %s) does not parse: %w", keyID, err)
	}
	if err := ValidateManifest(&m); err != nil {
		return nil, err
	}
	return &Reader{tr: tr, manifest: &m, keyID: keyID}, nil
}

// Manifest is the bundle's checked manifest.
func (r *Reader) Manifest() *apb.BundleManifest { return r.manifest }

// KeyID names the release key that signed the bundle.
func (r *Reader) KeyID() string { return r.keyID }

// Next returns the next part and a reader of its bytes. The reader returns io.EOF only after
// the part's last byte, when its size and SHA-256 matched the manifest; otherwise an error
// saying which part is wrong and how. After the last part Next returns io.EOF, once it has
// checked that nothing follows.
func (r *Reader) Next() (*apb.BundlePart, io.Reader, error) {
	if r.cur != nil && !r.cur.done {
		return nil, nil, fmt.Errorf("bundle: part %s was not read to its end", r.cur.part.Name)
	}
	if r.next == len(r.manifest.Parts) {
		h, err := r.tr.Next()
		if err == io.EOF {
			return nil, nil, io.EOF
		}
		if err != nil {
			return nil, nil, fmt.Errorf("bundle: after its last part: %w", err)
		}
		return nil, nil, fmt.Errorf("bundle: an entry %s follows the last part the manifest lists", quote(h.Name))
	}
	part := r.manifest.Parts[r.next]
	h, err := r.tr.Next()
	if err == io.EOF {
		return nil, nil, fmt.Errorf("bundle ends before part %s (truncated?)", part.Name)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("bundle: reading the header of part %s: %w", part.Name, truncated(err))
	}
	if h.Name != part.Name || h.Typeflag != tar.TypeReg {
		return nil, nil, fmt.Errorf("bundle: entry %d is %s, the manifest says part %s comes here", r.next+3, quote(h.Name), part.Name)
	}
	if h.Size != part.Size {
		return nil, nil, fmt.Errorf("bundle: part %s is %d bytes, the manifest says %d", part.Name, h.Size, part.Size)
	}
	r.next++
	r.cur = &partReader{part: part, r: r.tr, h: sha256.New()}
	return part, r.cur, nil
}

// partReader hashes a part as it is read and checks it at its end.
type partReader struct {
	part *apb.BundlePart
	r    io.Reader
	h    hash.Hash
	n    int64
	done bool
}

func (p *partReader) Read(b []byte) (int, error) {
	if p.done {
		return 0, io.EOF
	}
	n, err := p.r.Read(b)
	p.h.Write(b[:n])
	p.n += int64(n)
	if err == io.EOF {
		if p.n != p.part.Size {
			return n, fmt.Errorf("bundle: part %s ends after %d of %d bytes (truncated?)", p.part.Name, p.n, p.part.Size)
		}
		if !bytes.Equal(p.h.Sum(nil), p.part.Sha256) {
			return n, fmt.Errorf("bundle: part %s does not match its SHA-256 in the manifest (changed after signing, or damaged)", p.part.Name)
		}
		p.done = true
		return n, io.EOF
	}
	if err != nil {
		return n, fmt.Errorf("bundle: part %s after %d of %d bytes: %w", p.part.Name, p.n, p.part.Size, truncated(err))
	}
	return n, nil
}

// readSmall reads the next entry, which must be called name and hold at most max bytes.
func readSmall(tr *tar.Reader, name string, max int64) ([]byte, error) {
	h, err := tr.Next()
	if err == io.EOF {
		return nil, fmt.Errorf("bundle is empty or not a bundle: no %s", name)
	}
	if err != nil {
		return nil, fmt.Errorf("not a bundle (a tar file starting with %s): %w", name, truncated(err))
	}
	if h.Name != name || h.Typeflag != tar.TypeReg {
		return nil, fmt.Errorf("not a bundle: its first entries must be %s and %s, found %s", manifestName, signatureName, quote(h.Name))
	}
	if h.Size > max {
		return nil, fmt.Errorf("bundle: %s is %d bytes, at most %d", name, h.Size, max)
	}
	data, err := io.ReadAll(tr)
	if err != nil {
		return nil, fmt.Errorf("bundle: reading %s: %w", name, truncated(err))
	}
	return data, nil
}

// truncated says what an unexpected end of the stream means.
func truncated(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("the bundle ends early (truncated?): %w", err)
	}
	return err
}
