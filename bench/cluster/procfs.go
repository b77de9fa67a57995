package clusterbench

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ProcessUsage is what /proc says one process costs: its resident memory now and the CPU time
// it has used since it started.
type ProcessUsage struct {
	// RSS is VmRSS in bytes.
	RSS int64
	// CPU is user plus system time.
	CPU time.Duration
}

// userHZ is the unit of the CPU times in /proc/PID/stat. The kernel exports them in USER_HZ,
// which is 100 on every architecture Linux runs Go on (sysconf(_SC_CLK_TCK) would need cgo).
const userHZ = 100

// ReadProcessUsage reads pid's resident memory and CPU time from /proc.
func ReadProcessUsage(pid int) (ProcessUsage, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return ProcessUsage{}, fmt.Errorf("process %d: %w", pid, err)
	}
	rss, err := parseVmRSS(string(status))
	if err != nil {
		return ProcessUsage{}, fmt.Errorf("process %d: /proc/%d/status: %w", pid, pid, err)
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ProcessUsage{}, fmt.Errorf("process %d: %w", pid, err)
	}
	cpu, err := parseCPUTime(string(stat))
	if err != nil {
		return ProcessUsage{}, fmt.Errorf("process %d: /proc/%d/stat: %w", pid, pid, err)
	}
	return ProcessUsage{RSS: rss, CPU: cpu}, nil
}

// CPUPercent is the share of one core a process used between two readings taken wall apart.
func CPUPercent(before, after ProcessUsage, wall time.Duration) float64 {
	if wall <= 0 {
		return 0
	}
	return 100 * float64(after.CPU-before.CPU) / float64(wall)
}

// parseVmRSS finds "VmRSS:  1234 kB" in the text of /proc/PID/status.
func parseVmRSS(status string) (int64, error) {
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 2 || fields[1] != "kB" {
			return 0, fmt.Errorf("VmRSS line %q: want a number of kB", sc.Text())
		}
		kb, err := strconv.ParseInt(fields[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("VmRSS line %q: %w", sc.Text(), err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("no VmRSS line (a kernel thread or a zombie has none)")
}

// parseCPUTime adds utime and stime (fields 14 and 15) of /proc/PID/stat.
func parseCPUTime(stat string) (time.Duration, error) {
	// The command name (field 2) is in parentheses and may hold spaces and parentheses itself:
	// count fields from after its last closing parenthesis, where field 3 starts.
	end := strings.LastIndexByte(stat, ')')
	if end < 0 {
		return 0, fmt.Errorf("no command name in %q", stat)
	}
	fields := strings.Fields(stat[end+1:])
	const utime, stime = 14 - 3, 15 - 3
	if len(fields) <= stime {
		return 0, fmt.Errorf("%d fields after the command name, want at least %d", len(fields), stime+1)
	}
	var ticks int64
	for _, f := range []string{fields[utime], fields[stime]} {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("CPU time field %q: %w", f, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * time.Second / userHZ, nil
}

// NamespacePIDs lists the processes whose network namespace is the one bound at nsPath (such
// as /run/netns/NAME), the way `ip netns pids` does: by comparing namespace inodes.
func NamespacePIDs(nsPath string) ([]int, error) {
	var want syscall.Stat_t
	if err := syscall.Stat(nsPath, &want); err != nil {
		return nil, fmt.Errorf("network namespace %s: %w", nsPath, err)
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue // not a process
		}
		var st syscall.Stat_t
		if err := syscall.Stat(filepath.Join("/proc", e.Name(), "ns", "net"), &st); err != nil {
			continue // gone meanwhile, or a kernel thread we may not look at
		}
		if st.Dev == want.Dev && st.Ino == want.Ino {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// HostCPU is the machine's cumulative CPU time from /proc/stat, in USER_HZ ticks over all
// cores: how busy the two cores were, whoever used them (other work on a shared machine
// shows here and nowhere else).
type HostCPU struct {
	Busy, Total int64
}

// ReadHostCPU reads the machine's CPU counters.
func ReadHostCPU() (HostCPU, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return HostCPU{}, err
	}
	cpu, err := parseHostCPU(string(data))
	if err != nil {
		return HostCPU{}, fmt.Errorf("/proc/stat: %w", err)
	}
	return cpu, nil
}

// HostBusyPercent is the share of all cores that was busy between two readings.
func HostBusyPercent(before, after HostCPU) float64 {
	total := after.Total - before.Total
	if total <= 0 {
		return 0
	}
	return 100 * float64(after.Busy-before.Busy) / float64(total)
}

// parseHostCPU reads the first line of /proc/stat: "cpu user nice system idle iowait irq
// softirq steal guest guest_nice". Idle and iowait are not busy; guest time is already part of
// user time, so it is not counted twice.
func parseHostCPU(stat string) (HostCPU, error) {
	line, _, _ := strings.Cut(stat, "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return HostCPU{}, fmt.Errorf("first line %q: want \"cpu\" and at least 8 counters", line)
	}
	var c HostCPU
	for i, f := range fields[1:9] {
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return HostCPU{}, fmt.Errorf("counter %d %q: %w", i+1, f, err)
		}
		c.Total += v
		if i != 3 && i != 4 { // idle, iowait
			c.Busy += v
		}
	}
	return c, nil
}

// parentPID reads pid's parent from /proc/PID/stat. The command name (field 2) may contain
// spaces and parentheses, so fields are counted from the last ')'.
func parentPID(pid int) (int, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc/%d/stat: no ')' after the command name", pid)
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 2 {
		return 0, fmt.Errorf("/proc/%d/stat: too few fields", pid)
	}
	return strconv.Atoi(fields[1])
}
