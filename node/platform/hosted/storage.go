package hosted

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"metropolis.dev/metropolis/node/platform"
	"metropolis.dev/metropolis/node/update"
	"metropolis.dev/metropolis/osbase/atomicfile"
	"metropolis.dev/metropolis/osbase/tpm"
)

// Files a hosted node keeps in its state directory in place of the image's ESP and data
// partition. Nothing here is encrypted: the hosted platform is for development and tests.
const (
	sealedFile   = "sealed-record.json" // the image seals this to the TPM; here it is plain
	keyCheckFile = "storage-key.sha256" // stands in for dm-crypt: a wrong key is refused
)

// storage is the hosted stand-in for the data partition. It encrypts nothing, but it checks
// the key the node derives on every start against the one it was created with, so the key
// logic (node half XOR cluster half, from the record or from the cluster) is exercised by every
// hosted cluster exactly as on the image.
type storage struct{ dir string }

// Storage implements platform.Platform.
func (p *Platform) Storage() platform.Storage { return storage{dir: p.stateDir} }

// Updates implements platform.Platform: a hosted node runs whatever binary it was started
// from, and has no system slots to update.
func (p *Platform) Updates() *update.Service { return nil }

// OpenAttestor implements platform.Platform: a hosted node has no TPM.
func (p *Platform) OpenAttestor() (*tpm.Attestor, error) { return nil, nil }

func (s storage) ReadSealed() ([]byte, error) {
	data, err := os.ReadFile(filepath.Join(s.dir, sealedFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sealed record: %w", err)
	}
	return data, nil
}

func (s storage) WriteSealed(record []byte) error {
	return atomicfile.Write(filepath.Join(s.dir, sealedFile), record, 0o600)
}

func (s storage) Create(_ context.Context, key []byte) error {
	sum := sha256.Sum256(key)
	return atomicfile.Write(filepath.Join(s.dir, keyCheckFile), sum[:], 0o600)
}

func (s storage) Unlock(_ context.Context, key []byte) error {
	path := filepath.Join(s.dir, keyCheckFile)
	want, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("storage: %w (was it created?)", err)
	}
	got := sha256.Sum256(key)
	if subtle.ConstantTimeCompare(want, got[:]) != 1 {
		return errors.New("storage: the storage key does not open this node's data (wrong node half or cluster half)")
	}
	return nil
}
