package apiproxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// echoServer answers each connection with its name and closes.
func echoServer(t *testing.T, name string) (addr string, stop func()) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			fmt.Fprint(c, name)
			c.Close()
		}
	}()
	return l.Addr().String(), func() { l.Close() }
}

func TestProxyFailsOver(t *testing.T) {
	addrA, stopA := echoServer(t, "a")
	addrB, stopB := echoServer(t, "b")
	defer stopB()
	// A closed port: connections to it are refused at once.
	dead, stopDead := echoServer(t, "dead")
	stopDead()

	var (
		logsMu sync.Mutex
		logs   []string
	)
	p := &Proxy{
		Endpoints: func(context.Context) ([]string, error) { return []string{dead, addrA, addrB}, nil },
		Log: func(f string, a ...any) {
			logsMu.Lock()
			defer logsMu.Unlock()
			logs = append(logs, fmt.Sprintf(f, a...))
		},
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- p.Serve(ctx, l) }()
	defer func() {
		cancel()
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()

	ask := func() string {
		c, err := net.Dial("tcp", l.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		b, _ := io.ReadAll(c)
		return string(b)
	}
	for _, step := range []struct {
		name string
		do   func()
		want string
	}{
		{"skips the dead endpoint", func() {}, "a"},
		{"stays with the one that worked", func() {}, "a"},
		{"moves on when it goes away", stopA, "b"},
	} {
		step.do()
		if got := ask(); got != step.want {
			t.Errorf("%s: reached %q, want %q", step.name, got, step.want)
		}
	}
	logsMu.Lock()
	defer logsMu.Unlock()
	if want := []string{"forwarding to " + addrA, "forwarding to " + addrB}; fmt.Sprint(logs) != fmt.Sprint(want) {
		t.Errorf("logged %q, want %q", logs, want)
	}
}

// TestProxyEndsWhenIdle: with Idle set, Serve returns once no connection was open for that
// long, and not while one is.
func TestProxyEndsWhenIdle(t *testing.T) {
	addr, stop := echoServer(t, "a")
	defer stop()
	hold := make(chan struct{})
	slow, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	go func() {
		c, err := slow.Accept()
		if err == nil {
			<-hold
			c.Close()
		}
	}()
	endpoints := []string{slow.Addr().String(), addr}
	p := &Proxy{
		Endpoints: func(context.Context) ([]string, error) { return endpoints[:1], nil },
		Log:       func(string, ...any) {},
		Idle:      50 * time.Millisecond,
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- p.Serve(context.Background(), l) }()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-served:
		t.Fatalf("Serve ended (%v) while a connection was open", err)
	case <-time.After(300 * time.Millisecond):
	}
	close(hold)
	c.Close()
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve after idling: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not end 10 s after its last connection closed")
	}
}
