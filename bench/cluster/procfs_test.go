package clusterbench

import (
	"os"
	"testing"
	"time"
)

func TestParseVmRSS(t *testing.T) {
	cases := []struct {
		name    string
		status  string
		want    int64
		wantErr bool
	}{
		{"kB are turned into bytes", "Name:\tx\nVmPeak:\t 900 kB\nVmRSS:\t   36864 kB\nThreads:\t9\n", 36864 * 1024, false},
		{"a process without VmRSS (kernel thread) is an error", "Name:\tkthreadd\nThreads:\t1\n", 0, true},
		{"a unit other than kB is an error", "VmRSS:\t 36 MB\n", 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseVmRSS(c.status)
			if (err != nil) != c.wantErr || got != c.want {
				t.Errorf("parseVmRSS = %d, %v; want %d, error %v", got, err, c.want, c.wantErr)
			}
		})
	}
}

func TestParseCPUTime(t *testing.T) {
	cases := []struct {
		name    string
		stat    string
		want    time.Duration
		wantErr bool
	}{
		{"utime and stime are added, in hundredths of a second",
			"42 (metropolis-node) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 9 0 100 0 0",
			3 * time.Second, false},
		{"a command name with spaces and parentheses does not shift the fields",
			"42 (a) b (c) S 1 42 42 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 9 0 100 0 0",
			100 * time.Millisecond, false},
		{"a truncated line is an error", "42 (x) S 1 42", 0, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseCPUTime(c.stat)
			if (err != nil) != c.wantErr || got != c.want {
				t.Errorf("parseCPUTime = %v, %v; want %v, error %v", got, err, c.want, c.wantErr)
			}
		})
	}
}

func TestReadProcessUsageOfThisProcess(t *testing.T) {
	u, err := ReadProcessUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.RSS < 1<<20 {
		t.Errorf("this test process has RSS %d bytes; a Go program has at least a MiB resident", u.RSS)
	}
}

func TestNamespacePIDsFindsThisProcess(t *testing.T) {
	pids, err := NamespacePIDs("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	for _, pid := range pids {
		if pid == os.Getpid() {
			return
		}
	}
	t.Errorf("NamespacePIDs of this process's own namespace = %v, does not hold this process (%d)", pids, os.Getpid())
}

func TestCPUPercent(t *testing.T) {
	before := ProcessUsage{CPU: time.Second}
	after := ProcessUsage{CPU: 2 * time.Second}
	if got := CPUPercent(before, after, 4*time.Second); got != 25 {
		t.Errorf("1 s of CPU in 4 s of wall time = %v%%, want 25%%", got)
	}
	if got := CPUPercent(before, after, 0); got != 0 {
		t.Errorf("no wall time = %v%%, want 0 rather than a division by zero", got)
	}
}

func TestParseHostCPU(t *testing.T) {
	cases := []struct {
		name    string
		stat    string
		want    HostCPU
		wantErr bool
	}{
		{"idle and iowait are not busy; steal is", "cpu  100 10 50 800 20 5 5 10 0 0\ncpu0 1 2 3\n", HostCPU{Busy: 180, Total: 1000}, false},
		{"guest counters are left out (already in user)", "cpu  100 0 0 900 0 0 0 0 70 5\n", HostCPU{Busy: 100, Total: 1000}, false},
		{"a first line that is not the total is an error", "cpu0 1 2 3 4 5 6 7 8\n", HostCPU{}, true},
		{"too few counters is an error", "cpu 1 2 3\n", HostCPU{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := parseHostCPU(c.stat)
			if (err != nil) != c.wantErr || got != c.want {
				t.Errorf("parseHostCPU = %+v, %v; want %+v, error %v", got, err, c.want, c.wantErr)
			}
		})
	}
	if got := HostBusyPercent(HostCPU{Busy: 100, Total: 1000}, HostCPU{Busy: 400, Total: 1400}); got != 75 {
		t.Errorf("HostBusyPercent of 300 busy ticks in 400 = %v, want 75", got)
	}
}
