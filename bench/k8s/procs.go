package k8sbench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	clusterbench "metropolis.dev/metropolis/bench/cluster"
)

// Process is one process of a node's tree and its resident memory.
type Process struct {
	PID int
	// Name is the component for a kube child (its first argument: apiserver, ...), else the
	// program name.
	Name string
	RSS  int64
	// PSS is the proportional set size: shared pages (the kube binary's text, mapped by three
	// processes) divided among their users, so the PSS of a tree adds up to what it really
	// costs. Zero if the kernel does not say.
	PSS int64
}

// ProcessTree returns pid and all its descendants with their RSS, pid first.
func ProcessTree(pid int) ([]Process, error) {
	children, err := childrenByParent()
	if err != nil {
		return nil, err
	}
	var out []Process
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		usage, err := clusterbench.ReadProcessUsage(p)
		if err != nil {
			if p == pid {
				return nil, err
			}
			continue // ended meanwhile
		}
		out = append(out, Process{PID: p, Name: processName(p), RSS: usage.RSS, PSS: readPSS(p)})
		queue = append(queue, children[p]...)
	}
	return out, nil
}

func childrenByParent() (map[int][]int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	children := map[int][]int{}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		if ppid, err := ParentPID(string(stat)); err == nil {
			children[ppid] = append(children[ppid], pid)
		}
	}
	return children, nil
}

// ParentPID reads the parent PID from the text of /proc/PID/stat. The command name (field 2)
// is in parentheses and may itself contain spaces and parentheses, so fields are counted from
// the last ')'.
func ParentPID(stat string) (int, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("/proc stat %q: no ')' after the command name", stat)
	}
	fields := strings.Fields(stat[i+1:])
	if len(fields) < 2 {
		return 0, fmt.Errorf("/proc stat %q: too few fields after the command name", stat)
	}
	return strconv.Atoi(fields[1]) // fields[0] is the state
}

// processName is "kube apiserver" style for kube children, else the program's base name.
func processName(pid int) string {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return "?"
	}
	args := strings.Split(strings.TrimRight(string(data), "\x00"), "\x00")
	name := filepath.Base(args[0])
	if name == "kube" && len(args) > 1 {
		return "kube " + args[1]
	}
	return name
}

// readPSS reads "Pss: N kB" from /proc/PID/smaps_rollup; 0 if it cannot.
func readPSS(pid int) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "Pss:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0
			}
			return kb * 1024
		}
	}
	return 0
}
