package k8s

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// The on-demand proxy: `metroctl k8s configure` (by default) has kubectl's credential plugin
// start a `metroctl k8s proxy` for the context, logging next to the configuration.

// autoProxyLog is the on-demand proxy's log for the test's context.
func (c *cluster) autoProxyLog() string {
	return filepath.Join(c.configDir, "k8s-proxy-"+c.Name+".log")
}

// stopAutoProxyAtEnd stops the on-demand proxy when the test ends (it would otherwise wait out
// its idle hour): its log names its process.
func (c *cluster) stopAutoProxyAtEnd(t *testing.T) {
	t.Cleanup(func() {
		data, _ := os.ReadFile(c.autoProxyLog())
		for _, m := range regexp.MustCompile(`\(pid (\d+)\)`).FindAllStringSubmatch(string(data), -1) {
			if pid, err := strconv.Atoi(m[1]); err == nil {
				_ = syscall.Kill(pid, syscall.SIGTERM)
			}
		}
	})
}

// autoProxyTarget is the controller the on-demand proxy last said it forwards to.
func (c *cluster) autoProxyTarget(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(c.autoProxyLog())
	if err != nil {
		t.Fatalf("the on-demand proxy's log: %v", err)
	}
	last := ""
	for _, line := range strings.Split(string(data), "\n") {
		if target, ok := strings.CutPrefix(line, "proxy: forwarding to "); ok {
			last = target
		}
	}
	if last == "" {
		t.Fatalf("the on-demand proxy has not said where it forwards to:\n%s", data)
	}
	return last
}
