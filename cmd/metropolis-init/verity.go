package main

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

// setupVerity maps the verified system partition and reads all of it once. It returns the
// verified device's node.
func setupVerity(ctx context.Context, part blockdev.Partition, v layout.Verity) (string, error) {
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
	dev, err := devicemapper.Create(ctx, verityName, []devicemapper.Target{table}, devicemapper.Options{ReadOnly: true})
	if err != nil {
		return "", fmt.Errorf("setting up dm-verity over the system partition %s: %w", part.Path, err)
	}
	logf("dm-verity device %s over %s; verifying %d MiB", dev.Path, part.Path, v.DataBlocks*bs>>20)
	t := time.Now()
	if err := readAll(dev.Path, v.DataBlocks*bs); err != nil {
		return "", fmt.Errorf("system partition %s failed verification: %w", part.Path, err)
	}
	if err := devicemapper.VerityStatus(verityName); err != nil {
		return "", fmt.Errorf("system partition %s failed verification: %w", part.Path, err)
	}
	d := time.Since(t)
	logf("system partition verified: %d MiB in %v (%.0f MiB/s)", v.DataBlocks*bs>>20, d.Round(time.Millisecond),
		float64(v.DataBlocks*bs>>20)/d.Seconds())
	return dev.Path, nil
}

// readAll reads want bytes of path, which dm-verity checks block by block: a block that does
// not match the hash tree fails with EIO. Several readers work on separate stretches at once,
// since dm-verity hashes each read on the CPU that asked for it and a node has more than one;
// progress is reported every few seconds, since under emulation this takes a while.
func readAll(path string, want uint64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if st, err := f.Seek(0, io.SeekEnd); err != nil || uint64(st) != want {
		return fmt.Errorf("%s is %d bytes, want %d (%v)", path, st, want, err)
	}
	return readAllAt(f, path, want)
}

// readAllAt is readAll's work on an open device.
func readAllAt(f io.ReaderAt, path string, want uint64) error {
	const chunk = 1 << 20
	readers := max(2, runtime.NumCPU())
	var done atomic.Uint64
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(3 * time.Second):
				logf("verified %d of %d MiB", done.Load()>>20, want>>20)
			}
		}
	}()
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
