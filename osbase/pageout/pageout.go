package pageout

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Region is an address range of a process's memory map.
type Region struct{ Start, End uint64 }

// Len is the region's size in bytes.
func (r Region) Len() uint64 { return r.End - r.Start }

// Executable pages out the read-only mappings of pid's executable and returns how many bytes
// of address space it advised (not all of it was resident). ESRCH-like errors mean the
// process ended; the caller decides whether that matters.
func Executable(pid int) (uint64, error) {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return 0, fmt.Errorf("pageout: process %d: %w", pid, err)
	}
	maps, err := os.ReadFile(fmt.Sprintf("/proc/%d/maps", pid))
	if err != nil {
		return 0, fmt.Errorf("pageout: process %d: %w", pid, err)
	}
	regions, err := ExecutableRegions(maps, exe)
	if err != nil {
		return 0, fmt.Errorf("pageout: process %d: %w", pid, err)
	}
	if len(regions) == 0 {
		return 0, nil
	}
	pidfd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return 0, fmt.Errorf("pageout: process %d: pidfd_open: %w", pid, err)
	}
	defer unix.Close(pidfd)
	return pageOut(pidfd, regions)
}

// pageOut advises MADV_PAGEOUT for regions of the process behind pidfd.
func pageOut(pidfd int, regions []Region) (uint64, error) {
	// struct iovec, with the base as a plain number: it is an address in another process.
	type remoteIovec struct{ base, len uintptr }
	iov := make([]remoteIovec, len(regions))
	var total uint64
	for i, r := range regions {
		iov[i] = remoteIovec{base: uintptr(r.Start), len: uintptr(r.Len())}
		total += r.Len()
	}
	n, _, errno := unix.Syscall6(unix.SYS_PROCESS_MADVISE, uintptr(pidfd), uintptr(unsafe.Pointer(&iov[0])),
		uintptr(len(iov)), unix.MADV_PAGEOUT, 0, 0)
	if errno != 0 {
		if errno == unix.ENOSYS || errno == unix.EINVAL {
			return 0, fmt.Errorf("pageout: process_madvise(MADV_PAGEOUT): %w (needs Linux 5.10 or later)", errno)
		}
		return 0, fmt.Errorf("pageout: process_madvise(MADV_PAGEOUT): %w", errno)
	}
	if uint64(n) != total {
		return uint64(n), fmt.Errorf("pageout: advised %d of %d bytes", n, total)
	}
	return total, nil
}

// ExecutableRegions returns the read-only mappings of the file exe in a /proc/PID/maps
// listing. Lines look like
//
//	00400000-04623000 r-xp 00000000 fe:00 10330328    /bin/kube
//
// and the path, which may contain spaces, runs to the end of the line.
func ExecutableRegions(maps []byte, exe string) ([]Region, error) {
	var regions []Region
	for i, line := range strings.Split(string(maps), "\n") {
		if line == "" {
			continue
		}
		fields := strings.Fields(line)
		if len(fields) < 5 {
			return nil, fmt.Errorf("maps line %d: %d fields, want at least 5: %q", i+1, len(fields), line)
		}
		if len(fields) == 5 {
			continue // anonymous mapping
		}
		path := mapsPath(line)
		perms := fields[1]
		if len(perms) != 4 {
			return nil, fmt.Errorf("maps line %d: permissions %q are not 4 letters", i+1, perms)
		}
		if path != exe || perms[1] == 'w' {
			continue
		}
		r, err := parseRange(fields[0])
		if err != nil {
			return nil, fmt.Errorf("maps line %d: %w", i+1, err)
		}
		regions = append(regions, r)
	}
	return regions, nil
}

// mapsPath is what follows the fifth field of a maps line: the mapped file's path.
func mapsPath(line string) string {
	rest := line
	for range 5 {
		rest = strings.TrimLeft(rest, " ")
		if i := strings.IndexByte(rest, ' '); i >= 0 {
			rest = rest[i:]
		} else {
			return ""
		}
	}
	return strings.TrimLeft(rest, " ")
}

func parseRange(s string) (Region, error) {
	from, to, ok := strings.Cut(s, "-")
	if !ok {
		return Region{}, fmt.Errorf("address range %q has no '-'", s)
	}
	start, err1 := strconv.ParseUint(from, 16, 64)
	end, err2 := strconv.ParseUint(to, 16, 64)
	if err := errors.Join(err1, err2); err != nil {
		return Region{}, fmt.Errorf("address range %q: %w", s, err)
	}
	if end <= start {
		return Region{}, fmt.Errorf("address range %q is empty or reversed", s)
	}
	return Region{Start: start, End: end}, nil
}
