package worker

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"sort"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"metropolis.dev/metropolis/osbase/pageout"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// memoryReportInterval is how often the worker logs what its processes use: a node has no shell
// to run ps on, and the figure is what operators size workers by.
const memoryReportInterval = 5 * time.Minute

// childGOGC is the garbage collector setting of the Go programs the worker runs (containerd,
// the kubelet): their heaps may grow to 1.5 times what is live between collections instead of
// twice. An idle worker's programs allocate little, so the extra collections cost little CPU,
// and the memory is the pods'.
const childGOGC = "GOGC=50"

// resident is the resident memory of processes, in bytes: in all, and split into anonymous
// memory (heaps, stacks: what tuning a program's garbage collector changes) and pages of
// files (the executable's code and data, which the kernel may drop and read again).
type resident struct{ total, anon, file uint64 }

func (r *resident) add(o resident) {
	r.total += o.total
	r.anon += o.anon
	r.file += o.file
}

// manageMemory logs, every memoryReportInterval, the resident memory of the node's own
// processes (everything running from BinDir: the node program, containerd, shims, runc, the
// kubelet; not the pods' processes), by program and in sum, and the node program's Go heap.
// After each report it pages out those processes' executables (osbase/pageout): what they
// touched once at start leaves, what they use comes back, so the next report shows their
// working set. Reporting first keeps the figure honest: it is never taken right after a trim.
func (s *Service) manageMemory(ctx context.Context) error {
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
		supervisor.Logger(ctx).Infof("resident memory of the node's processes: %d MiB (%s); node program Go heap: %s",
			total.total>>20, formatMemory(byProgram), goHeap())
		pageOutExecutables(ctx, "/proc", s.cfg.BinDir)
	}
}

// pageOutExecutables pages out the executables of the processes under proc that run from
// binDir, and logs each program's resident file pages before and right after. A failure is
// logged, not fatal: it costs memory, not function.
func pageOutExecutables(ctx context.Context, proc, binDir string) {
	// The kernel reclaims the pages in the calling thread: its CPU time is the cost of a pass.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start, startCPU := time.Now(), threadCPU()
	pids, err := processesIn(proc, binDir)
	if err != nil {
		supervisor.Logger(ctx).Warningf("page out executables: %v", err)
		return
	}
	var changes []string
	for _, pid := range pids {
		status := filepath.Join(proc, strconv.Itoa(pid), "status")
		before, err := readResident(status)
		if err != nil {
			continue // the process ended meanwhile
		}
		if _, err := pageout.Executable(pid); err != nil {
			if _, statErr := os.Stat(status); statErr == nil {
				supervisor.Logger(ctx).Warningf("page out executables: %v", err)
			}
			continue
		}
		after, err := readResident(status)
		if err != nil {
			continue
		}
		exe, _ := os.Readlink(filepath.Join(proc, strconv.Itoa(pid), "exe"))
		changes = append(changes, fmt.Sprintf("%s (%d) %d→%d MiB", filepath.Base(exe), pid, before.file>>20, after.file>>20))
	}
	supervisor.Logger(ctx).Infof("paged out executables in %d ms (CPU %d ms), resident file pages: %s",
		time.Since(start).Milliseconds(), (threadCPU() - startCPU).Milliseconds(), strings.Join(changes, ", "))
}

// threadCPU is the CPU time (user and system) of the calling OS thread, zero if unknown.
func threadCPU() time.Duration {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_THREAD, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// residentMemory sums the resident memory of the processes under proc whose executable is in
// binDir, by program name.
func residentMemory(proc, binDir string) (map[string]resident, resident, error) {
	pids, err := processesIn(proc, binDir)
	if err != nil {
		return nil, resident{}, err
	}
	byProgram := map[string]resident{}
	var total resident
	for _, pid := range pids {
		exe, err := os.Readlink(filepath.Join(proc, strconv.Itoa(pid), "exe"))
		if err != nil {
			continue // the process ended meanwhile
		}
		r, err := readResident(filepath.Join(proc, strconv.Itoa(pid), "status"))
		if err != nil {
			continue
		}
		p := byProgram[filepath.Base(exe)]
		p.add(r)
		byProgram[filepath.Base(exe)] = p
		total.add(r)
	}
	return byProgram, total, nil
}

// processesIn lists the processes under proc whose executable is in binDir.
func processesIn(proc, binDir string) ([]int, error) {
	entries, err := os.ReadDir(proc)
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join(proc, e.Name(), "exe"))
		if err != nil || filepath.Dir(exe) != binDir {
			continue
		}
		pids = append(pids, pid)
	}
	return pids, nil
}

// readResident reads the VmRSS, RssAnon and RssFile lines of a /proc/PID/status file.
func readResident(path string) (resident, error) {
	f, err := os.Open(path)
	if err != nil {
		return resident{}, err
	}
	defer f.Close()
	var r resident
	fields := map[string]*uint64{"VmRSS:": &r.total, "RssAnon:": &r.anon, "RssFile:": &r.file}
	seen := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		name, rest, _ := strings.Cut(sc.Text(), "\t")
		dst, ok := fields[name]
		if !ok {
			continue
		}
		v := strings.Fields(rest)
		if len(v) != 2 || v[1] != "kB" {
			return resident{}, fmt.Errorf("%s: unexpected line %q", path, sc.Text())
		}
		kb, err := strconv.ParseUint(v[0], 10, 64)
		if err != nil {
			return resident{}, fmt.Errorf("%s: line %q: %w", path, sc.Text(), err)
		}
		*dst = kb << 10
		seen++
	}
	if seen != len(fields) {
		return resident{}, fmt.Errorf("%s: missing one of VmRSS, RssAnon, RssFile", path)
	}
	return r, sc.Err()
}

// formatMemory writes "name total MiB [anon A file F]" per program, sorted by name. Square
// brackets: the report's parentheses delimit the whole list for tools that parse it.
func formatMemory(byProgram map[string]resident) string {
	names := make([]string, 0, len(byProgram))
	for n := range byProgram {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, len(names))
	for i, n := range names {
		r := byProgram[n]
		parts[i] = fmt.Sprintf("%s %d MiB [anon %d file %d]", n, r.total>>20, r.anon>>20, r.file>>20)
	}
	return strings.Join(parts, ", ")
}

// goHeap describes this process's Go heap: what is live, what the collector lets it grow to,
// and what the runtime holds from the kernel in all.
func goHeap() string {
	samples := []metrics.Sample{
		{Name: "/gc/heap/live:bytes"}, {Name: "/gc/heap/goal:bytes"}, {Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/released:bytes"},
	}
	metrics.Read(samples)
	v := make([]uint64, len(samples))
	for i, s := range samples {
		if s.Value.Kind() == metrics.KindUint64 {
			v[i] = s.Value.Uint64()
		}
	}
	return fmt.Sprintf("live %d MiB, goal %d MiB, mapped %d MiB", v[0]>>20, v[1]>>20, (v[2]-v[3])>>20)
}
