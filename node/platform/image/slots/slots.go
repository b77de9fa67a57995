// Package slots finds the node's two system partitions (slots A and B) on the disk and which
// of them holds the system a kernel command line names. Stage 1 (cmd/metropolis-init) uses it
// to choose what to boot; the node (node/update) to know what runs and where an update goes.
// The rules (names, the root-hash match) are layout's; this package only does the reading.
package slots

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"metropolis.dev/metropolis/node/platform/image/layout"
	"metropolis.dev/metropolis/osbase/blockdev"
)

// otherSlotTimeout bounds the wait for the second slot once the first was found on the disk:
// the kernel lists a disk's partitions together, so a long wait means it is not there.
const otherSlotTimeout = 2 * time.Second

// Find waits (until ctx ends) for the system partitions and returns them by slot. Slot A must
// exist; B is absent from the result if the disk has none.
func Find(ctx context.Context) (map[string]blockdev.Partition, error) {
	a, err := blockdev.Find(ctx, blockdev.Query{Type: layout.TypeSystem, Name: layout.NameSystemA})
	if err != nil {
		return nil, fmt.Errorf("finding system slot A: %w", err)
	}
	parts := map[string]blockdev.Partition{"A": a}
	bctx, cancel := context.WithTimeout(ctx, otherSlotTimeout)
	defer cancel()
	if b, err := blockdev.Find(bctx, blockdev.Query{Type: layout.TypeSystem, Name: layout.NameSystemB, Disks: []string{a.Disk}}); err == nil {
		parts["B"] = b
	}
	return parts, nil
}

// Running returns the slot holding the system v describes (as the kernel command line says),
// by comparing each slot's hash tree top block with v's root hash.
func Running(parts map[string]blockdev.Partition, v layout.Verity) (string, error) {
	blocks := make(map[string][]byte)
	for slot, p := range parts {
		if b, err := readBlock(p.Path, int64(v.HashStartBlock)*layout.VerityBlockSize); err == nil {
			blocks[slot] = b
		}
	}
	return layout.ChooseSlot(v, blocks)
}

func readBlock(path string, off int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, layout.VerityBlockSize)
	if _, err := f.ReadAt(b, off); err != nil && err != io.EOF {
		return nil, err
	}
	return b, nil
}
