package main

import (
	"context"
	"time"

	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/node/platform/image/slots"
	"metropolis.dev/metropolis/osbase/blockdev"
)

// setupVerity maps the verified system partition and reads all of it once. It returns the
// verified device's node.
func setupVerity(ctx context.Context, part blockdev.Partition, v layout.Verity, ping func()) (string, error) {
	const bs = layout.VerityBlockSize
	logf("dm-verity over %s; verifying %d MiB", part.Path, v.DataBlocks*bs>>20)
	t := time.Now()
	dev, err := slots.OpenVerified(ctx, verityName, part, v, func(done, total uint64) {
		logf("verified %d of %d MiB", done>>20, total>>20)
		ping()
	})
	if err != nil {
		return "", err
	}
	d := time.Since(t)
	logf("system partition verified: %d MiB in %v (%.0f MiB/s)", v.DataBlocks*bs>>20, d.Round(time.Millisecond),
		float64(v.DataBlocks*bs>>20)/d.Seconds())
	return dev, nil
}
