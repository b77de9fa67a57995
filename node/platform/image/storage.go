package image

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"metropolis.dev/metropolis/node/platform"
	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/osbase/atomicfile"
	"metropolis.dev/metropolis/osbase/blockdev"
	"metropolis.dev/metropolis/osbase/devicemapper"
	"metropolis.dev/metropolis/osbase/tpm"
)

// dataMapperName is the device-mapper name of the decrypted data partition.
const dataMapperName = "data"

// findTimeout bounds waiting for a partition the kernel should already know.
const findTimeout = 30 * time.Second

// storage is the image's data partition (dm-crypt over the partition METROPOLIS-DATA,
// ext4 inside) and the sealed record on the ESP, sealed to the TPM.
type storage struct {
	espMount, dataMount string

	mu  sync.Mutex
	tpm *tpm.TPM
	// chains are the boot chains the record must open under besides the running one (set
	// by node/update: a staged release's, or during a trial the committed release's); nil:
	// the running chain alone.
	chains []tpm.PCRValues
	// record is the plaintext last read or written, so the record can be resealed when the
	// chains change.
	record []byte
}

var _ platform.Storage = (*storage)(nil)

func (s *storage) sealedPath() string { return filepath.Join(s.espMount, layout.ESPSealedPath) }

// openTPM opens the TPM once; a machine without one cannot keep a sealed record.
func (s *storage) openTPM() (*tpm.TPM, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.tpm == nil {
		t, err := tpm.Open()
		if err != nil {
			return nil, fmt.Errorf("this machine's TPM, which protects the data partition's key: %w", err)
		}
		s.tpm = t
	}
	return s.tpm, nil
}

func (s *storage) ReadSealed() ([]byte, error) {
	blob, err := os.ReadFile(s.sealedPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sealed record on the ESP: %w", err)
	}
	t, err := s.openTPM()
	if err != nil {
		return nil, err
	}
	data, err := t.Unseal(blob)
	if err == nil {
		if err := s.keepUnsealed(t, blob, data); err != nil {
			return nil, err
		}
	}
	switch {
	case errors.Is(err, tpm.ErrDifferentTPM):
		return nil, fmt.Errorf("cannot unlock the data partition: this disk was sealed to another machine's TPM: %w", err)
	case errors.Is(err, tpm.ErrBootChanged):
		return nil, fmt.Errorf("cannot unlock the data partition: this machine booted other firmware or another system than the one that sealed it: %w", err)
	case err != nil:
		return nil, fmt.Errorf("cannot unlock the data partition: sealed record %s: %w", s.sealedPath(), err)
	}
	return data, nil
}

func (s *storage) WriteSealed(record []byte) error {
	t, err := s.openTPM()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sealLocked(t, record)
}

// sealLocked seals record to the chains set and writes it; s.mu is held.
func (s *storage) sealLocked(t *tpm.TPM, record []byte) error {
	var blob []byte
	var err error
	if len(s.chains) == 0 {
		blob, err = t.Seal(record)
	} else {
		blob, err = t.SealTo(record, s.chains)
	}
	if err != nil {
		return fmt.Errorf("seal record: %w", err)
	}
	if err := writeSynced(s.sealedPath(), blob); err != nil {
		return err
	}
	s.record = record
	return nil
}

// keepUnsealed remembers the record just unsealed, and reseals it at once if it opens under
// other boot chains than it should now: after a failed trial, the record must stop opening
// under the release that failed as soon as the committed one reads it.
func (s *storage) keepUnsealed(t *tpm.TPM, blob, record []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.record = record
	want := max(len(s.chains), 1)
	if have, err := tpm.SealedChains(blob); err == nil && have == want {
		return nil
	}
	say(fmt.Sprintf("metropolis-node: resealing the record to %d boot chain(s)", want))
	return s.sealLocked(t, record)
}

// SetBootChains implements update.Sealer: later writes seal to chains (the first is the
// running one; none: the running chain alone), and a record already read is resealed now.
func (s *storage) SetBootChains(chains []tpm.PCRValues) error {
	t, err := s.openTPM()
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.chains = chains
	if s.record == nil {
		return nil
	}
	return s.sealLocked(t, s.record)
}

// ReadPCRs implements update.PCRReader.
func (s *storage) ReadPCRs(pcrs []uint) (tpm.PCRValues, error) {
	t, err := s.openTPM()
	if err != nil {
		return nil, err
	}
	return t.ReadPCRs(pcrs)
}

// Create makes the data partition in the disk's free space (or reuses the one an unfinished
// first boot made), encrypts it under key and puts a new ext4 on it.
func (s *storage) Create(ctx context.Context, key []byte) error {
	if err := s.releaseData(); err != nil {
		return err
	}
	part, err := s.findData(ctx, true)
	if err != nil {
		return err
	}
	dev, err := openCrypt(ctx, part, key)
	if err != nil {
		return err
	}
	say(fmt.Sprintf("metropolis-node: formatting the data partition %s (%d MiB, encrypted)", part.Path, part.Bytes()>>20))
	if err := formatExt4(dev.Path, int64(part.Bytes())); err != nil {
		return errors.Join(err, devicemapper.Remove(dataMapperName))
	}
	return s.mountData(dev)
}

// Unlock opens the existing data partition with key and mounts it.
func (s *storage) Unlock(ctx context.Context, key []byte) error {
	if err := s.releaseData(); err != nil {
		return err
	}
	part, err := s.findData(ctx, false)
	if err != nil {
		return err
	}
	dev, err := openCrypt(ctx, part, key)
	if err != nil {
		return err
	}
	return s.mountData(dev)
}

func (s *storage) findData(ctx context.Context, create bool) (blockdev.Partition, error) {
	ctx, cancel := context.WithTimeout(ctx, findTimeout)
	defer cancel()
	system, err := blockdev.Find(ctx, blockdev.Query{Type: layout.TypeSystem, Name: layout.NameSystemA})
	if err != nil {
		return blockdev.Partition{}, err
	}
	query := blockdev.Query{Type: layout.TypeData, Name: layout.NameData, Disks: []string{system.Disk}}
	gpt, err := blockdev.ReadDisk(system.Disk)
	if err != nil {
		return blockdev.Partition{}, err
	}
	if !hasPartition(gpt, query) {
		if !create {
			return blockdev.Partition{}, fmt.Errorf("disk %s has no data partition (%s): this node's data is gone, or the disk was never started", system.Disk, layout.NameData)
		}
		say(fmt.Sprintf("metropolis-node: creating the data partition on %s", system.Disk))
		return blockdev.AppendPartition(ctx, system.Disk, layout.TypeData, layout.NameData, layout.MinimumDataSize)
	}
	return blockdev.Find(ctx, query)
}

func hasPartition(g *blockdev.GPT, q blockdev.Query) bool {
	for _, e := range g.Partitions {
		if e.Type == q.Type && e.Name == q.Name {
			return true
		}
	}
	return false
}

// openCrypt sets up dm-crypt over the partition with the data key derived from key.
func openCrypt(ctx context.Context, part blockdev.Partition, key []byte) (*devicemapper.Device, error) {
	dk, err := dataKey(key)
	if err != nil {
		return nil, err
	}
	table, err := devicemapper.CryptTable(part.Path, part.Bytes()/512, dk)
	if err != nil {
		return nil, err
	}
	dev, err := devicemapper.Create(ctx, dataMapperName, []devicemapper.Target{table}, devicemapper.Options{SecretTable: true})
	if err != nil {
		return nil, fmt.Errorf("dm-crypt over %s: %w", part.Path, err)
	}
	return dev, nil
}

// releaseData undoes what an earlier attempt of this boot left: the node program restarts its
// start-up when a later step fails (sealing the record, say), and must then be able to open
// the data partition again. It unmounts the data mount and removes the decrypted device if
// they are there.
func (s *storage) releaseData() error {
	if err := unix.Unmount(s.dataMount, 0); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount the data partition an earlier attempt mounted: %w", err)
	}
	if err := devicemapper.Remove(dataMapperName); err != nil && !errors.Is(err, unix.ENXIO) {
		return fmt.Errorf("remove the data device an earlier attempt made: %w", err)
	}
	return nil
}

// mountData mounts the decrypted device. A wrong key decrypts to noise, which no file system
// recognises: that is how a wrong key shows, and the error says so.
func (s *storage) mountData(dev *devicemapper.Device) error {
	if err := os.MkdirAll(s.dataMount, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	err := unix.Mount(dev.Path, s.dataMount, "ext4", unix.MS_NOSUID|unix.MS_NODEV, "")
	if err == nil {
		return nil
	}
	rmErr := devicemapper.Remove(dataMapperName)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EUCLEAN) {
		return errors.Join(fmt.Errorf("the data partition does not decrypt with this node's storage key (its sealed half and the cluster's half do not belong to this disk): mount: %w", err), rmErr)
	}
	return errors.Join(fmt.Errorf("mount data partition %s: %w", dev.Path, err), rmErr)
}

// writeSynced replaces path with data (atomicfile) and then syncs every file system: the ESP
// is FAT, which has no journal, so the directory sync atomicfile does is not relied on alone.
func writeSynced(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	if err := atomicfile.Write(path, data, 0o600); err != nil {
		return err
	}
	unix.Sync()
	return nil
}
