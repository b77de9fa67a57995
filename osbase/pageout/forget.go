package pageout

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Forget drops the calling process's own page-table entries for the read-only mappings of its
// executable (madvise MADV_DONTNEED; those mappings hold nothing private, so nothing is lost)
// and returns how many bytes of address space that covered. The pages stay in the page cache
// and come back on the next access.
//
// It is for a process that shares its executable with another one: the kernel pages out only
// pages a single process maps, so a mostly idle parent running the same binary as a busy
// child (the image's init process and the node program) would otherwise pin everything it
// touched at start in both.
func Forget() (uint64, error) {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return 0, fmt.Errorf("pageout: %w", err)
	}
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		return 0, fmt.Errorf("pageout: %w", err)
	}
	regions, err := ExecutableRegions(maps, exe)
	if err != nil {
		return 0, fmt.Errorf("pageout: own maps: %w", err)
	}
	var total uint64
	for _, r := range regions {
		// Addresses as numbers: the regions are this process's own, but never Go memory.
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, uintptr(r.Start), uintptr(r.Len()), unix.MADV_DONTNEED); errno != 0 {
			return total, fmt.Errorf("pageout: madvise(%#x, MADV_DONTNEED): %w", r.Start, errno)
		}
		total += r.Len()
	}
	return total, nil
}
