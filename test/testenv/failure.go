package testenv

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"metropolis.dev/metropolis/launch/qemu"
)

// failureLines is how many of a node's last warnings and errors a failed test prints.
const failureLines = 25

// warningOrError matches the node's own log lines of level W or E (logtree's format) and
// upstream components' klog lines of the same levels.
var warningOrError = regexp.MustCompile(`^[WE]\d{4} `)

// keepLogsOnFailure has a failed test keep its cluster's console logs in a directory that
// outlives the test (the cluster's own is removed with it) and print each node's last
// warnings and errors: what CI shows is then enough to start from.
func keepLogsOnFailure(t *testing.T, c *qemu.Cluster, name string) {
	if !t.Failed() {
		return
	}
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("metropolis-failed-%s-%s", name, time.Now().Format("20060102-150405")))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Logf("keep console logs: %v", err)
		return
	}
	for i := 1; i <= c.NodeCount(); i++ {
		data, err := os.ReadFile(c.LogPath(i))
		if err != nil {
			t.Logf("node %d console log: %v", i, err)
			continue
		}
		kept := filepath.Join(dir, fmt.Sprintf("node%d-console.log", i))
		if err := os.WriteFile(kept, data, 0o644); err != nil {
			t.Logf("keep node %d console log: %v", i, err)
		}
		t.Logf("node %d: console log kept as %s; its last warnings and errors:\n%s", i, kept, lastProblems(string(data), failureLines))
	}
}

// lastProblems returns the last n warning or error lines of a console log, each cut to a
// readable length.
func lastProblems(log string, n int) string {
	var lines []string
	sc := bufio.NewScanner(strings.NewReader(log))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		if line := sc.Text(); warningOrError.MatchString(line) {
			if len(line) > 300 {
				line = line[:300] + "…"
			}
			lines = append(lines, line)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
