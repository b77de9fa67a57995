package update

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/update/bundle"
	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/event/memory"
)

// ErrNotKept: the keeper has no bundle of that SHA-256.
var ErrNotKept = errors.New("no such bundle kept on this node")

const (
	// maxKept is how many bundles a keeper holds; keeping a new one removes the oldest.
	// Two: the release a rollout moves to, and the one before it, for a while.
	maxKept = 2
	// keptSuffix ends a kept bundle's file name, after the hex of its SHA-256.
	keptSuffix = ".bundle"
	// keepingPattern names a bundle still being received; one left over by a crash is
	// removed by the next Keep.
	keepingPattern = "keeping-*"
)

// Keeper keeps release bundles for rollouts in a directory on the data partition. The node an
// operator uploads a rollout's bundle to keeps it, and so does every node that fetches it for
// its own update; each serves it to the nodes after it. A bundle thus leaves the operator once
// and never passes through etcd.
type Keeper struct {
	// Dir holds the bundles, one file each, named by SHA-256 (created if missing).
	Dir string
	// Keys are the release keys a kept bundle must be signed by: the node's own.
	Keys []ed25519.PublicKey

	mu sync.Mutex
	// kept publishes List after every change, for the node's status.
	kept memory.Value[[][]byte]
}

// NewKeeper returns the keeper of the bundles in dir, trusting keys.
func NewKeeper(dir string, keys []ed25519.PublicKey) *Keeper {
	k := &Keeper{Dir: dir, Keys: keys}
	k.kept.Set(k.List())
	return k
}

// Watch follows List: the SHA-256s of the kept bundles, newest first.
func (k *Keeper) Watch() event.Watcher[[][]byte] { return k.kept.Watch() }

// Kept is a bundle the keeper holds.
type Kept struct {
	Release *apb.BundleManifest
	SHA256  []byte
	Size    int64
}

// Keep reads a bundle of size bytes from r, checks it as Install would (signed by a trusted
// key, every part matching the manifest), and keeps it. Refusals wrap ErrRefused and name
// what is wrong; on any error nothing is kept.
func (k *Keeper) Keep(ctx context.Context, r io.Reader, size int64) (Kept, error) {
	if len(k.Keys) == 0 {
		return Kept{}, fmt.Errorf("%w: this release trusts no release key (its image was built without -release-pubkey)", ErrUnsupported)
	}
	if size <= 0 || size > bundle.MaxUKISize+bundle.MaxSystemSize+1<<20 {
		return Kept{}, fmt.Errorf("%w: a bundle of %d bytes: a bundle is 1 to %d bytes", ErrRefused, size, int64(bundle.MaxUKISize+bundle.MaxSystemSize+1<<20))
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := os.MkdirAll(k.Dir, 0o700); err != nil {
		return Kept{}, fmt.Errorf("create %s: %w", k.Dir, err)
	}
	k.removeLeftovers()
	f, err := os.CreateTemp(k.Dir, keepingPattern)
	if err != nil {
		return Kept{}, fmt.Errorf("keep bundle: %w", err)
	}
	defer func() {
		f.Close()
		os.Remove(f.Name())
	}()
	h := sha256.New()
	counted := &countingReader{r: io.LimitReader(r, size+1)}
	in := io.TeeReader(counted, io.MultiWriter(f, h))
	m, err := checkBundle(ctx, in, k.Keys)
	if err != nil {
		return Kept{}, err
	}
	// Whatever follows the tar's last part (its end-of-archive blocks) belongs to the bundle.
	if _, err := io.Copy(io.Discard, in); err != nil {
		return Kept{}, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	if counted.n != size {
		return Kept{}, fmt.Errorf("%w: the bundle is %d bytes, not the %d declared", ErrRefused, counted.n, size)
	}
	if err := f.Sync(); err != nil {
		return Kept{}, fmt.Errorf("keep bundle: %w", err)
	}
	sum := h.Sum(nil)
	if err := os.Rename(f.Name(), k.path(sum)); err != nil {
		return Kept{}, fmt.Errorf("keep bundle: %w", err)
	}
	k.prune(sum)
	k.kept.Set(k.List())
	return Kept{Release: m, SHA256: sum, Size: size}, nil
}

// checkBundle reads a whole bundle from r, checking its signature and every part.
func checkBundle(ctx context.Context, r io.Reader, keys []ed25519.PublicKey) (*apb.BundleManifest, error) {
	br, err := bundle.Open(r, keys)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRefused, err)
	}
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		_, pr, err := br.Next()
		if err == io.EOF {
			return br.Manifest(), nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrRefused, err)
		}
		if _, err := io.Copy(io.Discard, pr); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrRefused, err)
		}
	}
}

// Open opens the kept bundle with this SHA-256 for reading, with its size.
func (k *Keeper) Open(sum []byte) (*os.File, int64, error) {
	if len(sum) != sha256.Size {
		return nil, 0, fmt.Errorf("a bundle's SHA-256 is %d bytes, not %d", sha256.Size, len(sum))
	}
	f, err := os.Open(k.path(sum))
	if errors.Is(err, os.ErrNotExist) {
		return nil, 0, fmt.Errorf("%w: %x", ErrNotKept, sum)
	}
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}

// Has reports whether the keeper holds the bundle with this SHA-256. A nil keeper holds none.
func (k *Keeper) Has(sum []byte) bool {
	if k == nil || len(sum) != sha256.Size {
		return false
	}
	_, err := os.Stat(k.path(sum))
	return err == nil
}

// List returns the SHA-256s of the kept bundles, newest first.
func (k *Keeper) List() [][]byte {
	var out [][]byte
	for _, e := range k.files() {
		out = append(out, e.sum)
	}
	return out
}

type keptFile struct {
	sum      []byte
	modified time.Time
}

// files lists the kept bundles, newest first.
func (k *Keeper) files() []keptFile {
	entries, err := os.ReadDir(k.Dir)
	if err != nil {
		return nil
	}
	var out []keptFile
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), keptSuffix)
		sum, err := hex.DecodeString(name)
		if !ok || err != nil || len(sum) != sha256.Size {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		out = append(out, keptFile{sum: sum, modified: info.ModTime()})
	}
	slices.SortFunc(out, func(a, b keptFile) int { return b.modified.Compare(a.modified) })
	return out
}

// prune removes the oldest bundles beyond maxKept, never keep.
func (k *Keeper) prune(keep []byte) {
	n := 0
	for _, e := range k.files() {
		if string(e.sum) == string(keep) {
			continue
		}
		if n++; n >= maxKept {
			os.Remove(k.path(e.sum))
		}
	}
}

func (k *Keeper) removeLeftovers() {
	matches, _ := filepath.Glob(filepath.Join(k.Dir, keepingPattern))
	for _, m := range matches {
		os.Remove(m)
	}
}

func (k *Keeper) path(sum []byte) string {
	return filepath.Join(k.Dir, hex.EncodeToString(sum)+keptSuffix)
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
