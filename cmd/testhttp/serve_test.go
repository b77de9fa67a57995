package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestServe(t *testing.T) {
	t.Setenv("POD_NAME", "web-0")
	t.Setenv("NODE_NAME", "metropolis-0123456789abcdef")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var stdout syncBuffer
	done := make(chan error, 1)
	go func() { done <- serve(ctx, ln, &stdout, podIdentity()) }()
	base := "http://" + ln.Addr().String()

	for _, tc := range []struct {
		path, want string
	}{
		{"/", "pod=web-0 node=metropolis-0123456789abcdef\n"},
		{"/any/path", "pod=web-0 node=metropolis-0123456789abcdef\n"},
		{"/healthz", "ok\n"},
	} {
		resp, err := http.Get(base + tc.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || !strings.HasSuffix(string(body), tc.want) {
			t.Errorf("GET %s: %s %q, want 200 and a body ending in %q", tc.path, resp.Status, body, tc.want)
		}
		if tc.path != "/healthz" && !strings.HasPrefix(string(body), "hostname=") {
			t.Errorf("GET %s: body %q does not name the host", tc.path, body)
		}
	}
	logs := stdout.String()
	for _, want := range []string{"GET / from 127.0.0.1:", "GET /any/path from 127.0.0.1:", "GET /healthz from 127.0.0.1:", ": 200\n"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log %q lacks %q", logs, want)
		}
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after its context ended, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop after its context ended")
	}
	if _, err := http.Get(base + "/"); err == nil {
		t.Error("the server still answers after stopping")
	}
	if !strings.HasSuffix(stdout.String(), "stopped\n") {
		t.Errorf("log %q does not end in stopped", stdout.String())
	}
}

func TestRunServeListenError(t *testing.T) {
	var stdout, stderr syncBuffer
	if code := run(context.Background(), []string{"serve", "-listen", "256.0.0.1:80"}, &stdout, &stderr); code != 1 {
		t.Fatalf("exit status %d, want 1", code)
	}
	if !strings.Contains(stderr.String(), "testhttp serve: listen tcp") {
		t.Errorf("stderr %q does not say why", stderr.String())
	}
}
