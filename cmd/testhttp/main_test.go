package main

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
)

// syncBuffer is a bytes.Buffer safe for a server goroutine and a test to share.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func TestRunUsage(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"nothing", nil, "usage:"},
		{"unknown subcommand", []string{"post"}, `unknown subcommand "post"`},
		{"serve with an argument", []string{"serve", "extra"}, `want 0 argument(s), got 1 ["extra"]`},
		{"serve bad flag", []string{"serve", "-port", "80"}, "flag provided but not defined: -port"},
		{"get without URL", []string{"get"}, "want 1 argument(s), got 0"},
		{"get two URLs", []string{"get", "a", "b"}, "want 1 argument(s), got 2"},
		{"get -n 0", []string{"get", "example.com", "-n", "0"}, "-n 0: want at least 1"},
		{"get bad timeout", []string{"get", "example.com", "-timeout", "soon"}, `invalid value "soon"`},
		{"get ftp", []string{"get", "ftp://example.com/"}, "is not an http(s) URL"},
		{"resolve without name", []string{"resolve"}, "want 1 argument(s), got 0"},
		{"spin for nothing", []string{"spin", "-for", "0s"}, "-for 0s is not a positive duration"},
		{"spin with an argument", []string{"spin", "5s"}, `want 0 argument(s), got 1 ["5s"]`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(context.Background(), tc.args, &stdout, &stderr); code != 2 {
				t.Errorf("exit status %d, want 2", code)
			}
			if !strings.Contains(stderr.String(), tc.want) || !strings.Contains(stderr.String(), "usage:") {
				t.Errorf("stderr %q, want %q and the usage", stderr.String(), tc.want)
			}
		})
	}
}
