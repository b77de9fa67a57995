package worker

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"metropolis.dev/metropolis/osbase/supervisor"
)

// memoryReportInterval is how often the worker logs what its processes use: a node has no shell
// to run ps on, and the figure is what operators size workers by.
const memoryReportInterval = 5 * time.Minute

// reportMemory logs, every memoryReportInterval, the resident memory of the node's own
// processes (everything running from BinDir: the node program, containerd, shims, runc, the
// kubelet; not the pods' processes), by program and in sum.
func (s *Service) reportMemory(ctx context.Context) error {
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	next := 2 * time.Minute // the first report once startup work has settled
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(next):
		}
		next = memoryReportInterval
		byProgram, total, err := residentMemory("/proc", s.cfg.BinDir)
		if err != nil {
			supervisor.Logger(ctx).Warningf("memory report: %v", err)
			continue
		}
		supervisor.Logger(ctx).Infof("resident memory of the node's processes: %d MiB (%s)", total>>20, formatMemory(byProgram))
	}
}

// residentMemory sums VmRSS (bytes) of the processes under proc whose executable is in binDir.
func residentMemory(proc, binDir string) (map[string]uint64, uint64, error) {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil, 0, err
	}
	byProgram := map[string]uint64{}
	var total uint64
	for _, e := range entries {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join(proc, e.Name(), "exe"))
		if err != nil || filepath.Dir(exe) != binDir {
			continue
		}
		rss, err := vmRSS(filepath.Join(proc, e.Name(), "status"))
		if err != nil {
			continue // the process ended meanwhile
		}
		byProgram[filepath.Base(exe)] += rss
		total += rss
	}
	return byProgram, total, nil
}

// vmRSS reads the VmRSS line of a /proc/PID/status file.
func vmRSS(path string) (uint64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			fields := strings.Fields(rest)
			if len(fields) != 2 || fields[1] != "kB" {
				return 0, fmt.Errorf("%s: unexpected VmRSS line %q", path, sc.Text())
			}
			kb, err := strconv.ParseUint(fields[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("%s: no VmRSS line", path)
}

func formatMemory(byProgram map[string]uint64) string {
	names := make([]string, 0, len(byProgram))
	for n := range byProgram {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %d MiB", n, byProgram[n]>>20)
	}
	return strings.Join(parts, ", ")
}
