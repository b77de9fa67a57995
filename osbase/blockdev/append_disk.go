package blockdev

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"time"
	"unsafe"

	"github.com/google/uuid"
	"golang.org/x/sys/unix"
)

// Alignment is where AppendPartition starts and ends partitions, as partitioning tools do.
const Alignment = 1 << 20

// blkpg is BLKPG, _IO(0x12, 105), which x/sys/unix does not define.
const blkpg = 0x1269

// AppendPartition adds a partition of type typ named name in all the free space at the end of
// disk (see GPT.Append), writes the table, tells the kernel about the new partition (BLKPG, so
// other partitions may stay in use) and waits for its node until ctx ends.
func AppendPartition(ctx context.Context, disk string, typ uuid.UUID, name string, minSize uint64) (Partition, error) {
	f, err := os.OpenFile(disk, os.O_RDWR, 0)
	if err != nil {
		return Partition{}, err
	}
	defer f.Close()
	sectorSize, size, err := geometry(f)
	if err != nil {
		return Partition{}, err
	}
	g, err := ReadGPT(f, sectorSize, size)
	if err != nil {
		return Partition{}, fmt.Errorf("%s: %w", disk, err)
	}
	for _, e := range g.Partitions {
		if e.Name == name && e.Type == typ {
			return Partition{}, fmt.Errorf("%s already has partition %d named %q", disk, e.Number, name)
		}
	}
	e, err := g.Append(size, typ, name, Alignment, minSize)
	if err != nil {
		return Partition{}, fmt.Errorf("%s: adding partition %q: %w", disk, name, err)
	}
	if err := g.Write(f, size); err != nil {
		return Partition{}, fmt.Errorf("%s: %w", disk, err)
	}
	if err := f.Sync(); err != nil {
		return Partition{}, fmt.Errorf("%s: flushing the partition table: %w", disk, err)
	}
	p := Partition{Entry: e, Disk: disk, Path: PartitionPath(disk, e.Number), SectorSize: sectorSize}
	if err := addKernelPartition(f, p); err != nil {
		return Partition{}, err
	}
	for {
		if _, err := os.Stat(p.Path); err == nil {
			return p, nil
		}
		select {
		case <-ctx.Done():
			return Partition{}, fmt.Errorf("waiting for %s: %w", p.Path, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// addKernelPartition tells the kernel that disk f has partition p (BLKPG_ADD_PARTITION).
// Regular files (images) have no kernel partitions; nothing to tell.
func addKernelPartition(f *os.File, p Partition) error {
	if st, err := f.Stat(); err != nil || st.Mode().IsRegular() {
		return err
	}
	part := unix.BlkpgPartition{
		Start:  int64(p.FirstLBA) * int64(p.SectorSize),
		Length: int64(p.Bytes()),
		Pno:    int32(p.Number),
	}
	arg := unix.BlkpgIoctlArg{
		Op:      unix.BLKPG_ADD_PARTITION,
		Datalen: int32(unsafe.Sizeof(part)),
		Data:    (*byte)(unsafe.Pointer(&part)),
	}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), blkpg, uintptr(unsafe.Pointer(&arg)))
	runtime.KeepAlive(&part)
	if errno != 0 {
		return fmt.Errorf("%s: telling the kernel about partition %d (BLKPG add, sectors %d..%d): %w", p.Disk, p.Number, p.FirstLBA, p.LastLBA, errno)
	}
	return nil
}
