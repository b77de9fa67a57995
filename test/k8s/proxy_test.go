package k8s

import (
	"bufio"
	"context"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// proxyProcess is a running `metroctl k8s proxy`, with the controller it last said it forwards
// to.
type proxyProcess struct {
	mu   sync.Mutex
	last string
}

func startProxy(t *testing.T, c *cluster, listen string) *proxyProcess {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, metroctlBinary, "--config-dir", c.configDir, "--context", c.Name, "k8s", "proxy", "--listen", listen)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proxyProcess{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			t.Logf("metroctl k8s proxy: %s", line)
			if target, ok := strings.CutPrefix(line, "proxy: forwarding to "); ok {
				p.mu.Lock()
				p.last = target
				p.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		<-done
	})
	// Wait until it listens.
	deadline := time.Now().Add(time.Minute)
	for {
		conn, err := net.DialTimeout("tcp", listen, time.Second)
		if err == nil {
			conn.Close()
			return p
		}
		if time.Now().After(deadline) {
			t.Fatalf("metroctl k8s proxy does not listen on %s: %v", listen, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// current is the controller the proxy last said it forwards to.
func (p *proxyProcess) current(t *testing.T) string {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last == "" {
		t.Fatal("metroctl k8s proxy has not said where it forwards to")
	}
	return p.last
}

func freeLocalAddress(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}
