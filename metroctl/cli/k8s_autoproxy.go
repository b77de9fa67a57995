package cli

import (
	"context"
	"fmt"
	"hash/fnv"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

const (
	// autoProxyPorts is the range of local ports on-demand proxies listen on, one per
	// context (by a hash of its name), so several clusters' kubeconfig contexts coexist.
	autoProxyFirstPort = 16443
	autoProxyPorts     = 1000
	// autoProxyIdle is how long an on-demand proxy stays without connections before it ends;
	// the next kubectl call starts it again.
	autoProxyIdle = time.Hour
	// autoProxyStart bounds the wait for a proxy just started to listen.
	autoProxyStart = 10 * time.Second
)

// autoProxyAddress is the local address of the on-demand proxy of the context named name.
func autoProxyAddress(name string) string {
	h := fnv.New32a()
	h.Write([]byte(name))
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(autoProxyFirstPort+int(h.Sum32()%autoProxyPorts)))
}

// listening reports whether something accepts connections at addr.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 300*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// ensureProxy makes sure a `metroctl k8s proxy` for the context listens at addr, starting one
// in the background (in its own session, logging to a file next to the configuration) if
// nothing does. kubectl runs the credential plugin before its first request, so the proxy is
// there when kubectl connects; it ends by itself after autoProxyIdle without connections.
func (s *session) ensureProxy(ctx context.Context, contextName, addr string) error {
	if listening(addr) {
		return nil
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find metroctl's own path to start the proxy: %w", err)
	}
	args := []string{"k8s", "proxy", "--listen", addr, "--idle-exit", autoProxyIdle.String(), "--context", contextName}
	logDir := os.TempDir()
	if s.configDir != "" {
		dir, err := filepath.Abs(s.configDir)
		if err != nil {
			return err
		}
		args = append(args, "--config-dir", dir)
		logDir = dir
	}
	logPath := filepath.Join(logDir, "k8s-proxy-"+contextName+".log")
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("open the proxy's log: %w", err)
	}
	defer logFile.Close()
	cmd := exec.Command(self, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	detach(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start the Kubernetes proxy: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.NewTimer(autoProxyStart)
	defer deadline.Stop()
	for {
		if listening(addr) {
			return nil
		}
		select {
		case err := <-exited:
			return fmt.Errorf("the Kubernetes proxy for %s ended at once (%v); its log is %s", addr, err, logPath)
		case <-deadline.C:
			return fmt.Errorf("the Kubernetes proxy did not listen on %s within %v; its log is %s", addr, autoProxyStart, logPath)
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}
