package slots

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync/atomic"
	"time"

	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/osbase/blockdev"
	"metropolis.dev/metropolis/osbase/devicemapper"
)

// progressInterval is how often a full read reports how far it is: under emulation a slot
// takes tens of seconds.
const progressInterval = 3 * time.Second

// OpenVerified maps part as a read-only dm-verity device called name under v and reads all
// of it once, so a damaged or tampered slot is refused now rather than at some later read.
// progress, if not nil, is told every few seconds how many bytes were verified. It returns
// the verified device's node; the caller removes the device (devicemapper.Remove(name)) when
// it is done with it.
func OpenVerified(ctx context.Context, name string, part blockdev.Partition, v layout.Verity, progress func(done, total uint64)) (string, error) {
	const bs = layout.VerityBlockSize
	if v.HashStartBlock*bs >= part.Bytes() {
		return "", fmt.Errorf("system partition %s (%d bytes) is too small for verity data and hash tree starting at block %d", part.Path, part.Bytes(), v.HashStartBlock)
	}
	table, err := devicemapper.VerityTable(part.Path, devicemapper.Verity{
		BlockSize: bs, DataBlocks: v.DataBlocks, HashStartBlock: v.HashStartBlock, RootHash: v.RootHash, Salt: v.Salt,
	})
	if err != nil {
		return "", fmt.Errorf("system partition %s: %w", part.Path, err)
	}
	dev, err := devicemapper.Create(ctx, name, []devicemapper.Target{table}, devicemapper.Options{ReadOnly: true})
	if err != nil {
		return "", fmt.Errorf("setting up dm-verity over the system partition %s: %w", part.Path, err)
	}
	fail := func(err error) (string, error) {
		if rmErr := devicemapper.Remove(name); rmErr != nil {
			err = fmt.Errorf("%w (and removing %s: %v)", err, name, rmErr)
		}
		return "", err
	}
	if err := ReadAll(dev.Path, v.DataBlocks*bs, progress); err != nil {
		return fail(fmt.Errorf("system partition %s failed verification: %w", part.Path, err))
	}
	if err := devicemapper.VerityStatus(name); err != nil {
		return fail(fmt.Errorf("system partition %s failed verification: %w", part.Path, err))
	}
	return dev.Path, nil
}

// ReadAll reads want bytes of path, which dm-verity checks block by block: a block that does
// not match the hash tree fails with EIO.
func ReadAll(path string, want uint64, progress func(done, total uint64)) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Seek(0, io.SeekEnd); err != nil || uint64(st) != want {
		return fmt.Errorf("%s is %d bytes, want %d (%v)", path, st, want, err)
	}
	return ReadAllAt(f, path, want, progress)
}

// ReadAllAt is ReadAll's work on an open device. Several readers work on separate stretches
// at once, since dm-verity hashes each read on the CPU that asked for it.
func ReadAllAt(f io.ReaderAt, path string, want uint64, progress func(done, total uint64)) error {
	const chunk = 1 << 20
	readers := max(2, runtime.NumCPU())
	var done atomic.Uint64
	stop := make(chan struct{})
	defer close(stop)
	if progress != nil {
		go func() {
			for {
				select {
				case <-stop:
					return
				case <-time.After(progressInterval):
					progress(done.Load(), want)
				}
			}
		}()
	}
	// Reader i reads chunks i, i+readers, ...: all make progress through the device together.
	errs := make(chan error, readers)
	for i := 0; i < readers; i++ {
		go func() {
			buf := make([]byte, chunk)
			for off := uint64(i) * chunk; off < want; off += uint64(readers) * chunk {
				n := min(chunk, want-off)
				if _, err := f.ReadAt(buf[:n], int64(off)); err != nil {
					errs <- fmt.Errorf("reading %s in bytes %d..%d: %w (a block does not match the verity hash tree)", path, off, off+n, err)
					return
				}
				done.Add(n)
			}
			errs <- nil
		}()
	}
	var first error
	for i := 0; i < readers; i++ {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}
