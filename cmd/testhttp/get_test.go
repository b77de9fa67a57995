package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestGet(t *testing.T) {
	var connections atomic.Int32
	var requests atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := requests.Add(1)
		switch r.URL.Path {
		case "/fail":
			http.Error(w, "backend broke", http.StatusInternalServerError)
		case "/slow":
			time.Sleep(time.Second)
		default:
			fmt.Fprintf(w, "answer %d", n)
		}
	}))
	srv.Config.ConnState = func(_ net.Conn, state http.ConnState) {
		if state == http.StateNew {
			connections.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()

	for _, tc := range []struct {
		name        string
		args        []string
		wantCode    int
		wantStdout  string
		wantStderr  string
		connections int32
	}{
		{"once", []string{srv.URL + "/"}, 0, "answer 1\n", "", 1},
		{"three times, flags after the URL", []string{srv.URL + "/", "-n", "3"}, 0, "answer 1\nanswer 2\nanswer 3\n", "", 3},
		{"without scheme", []string{"-n", "2", strings.TrimPrefix(srv.URL, "http://")}, 0, "answer 1\nanswer 2\n", "", 2},
		{"server error", []string{srv.URL + "/fail"}, 1, "", `/fail (request 1 of 1): status 500 Internal Server Error: "backend broke\n"`, 1},
		{"timeout", []string{srv.URL + "/slow", "-timeout", "100ms"}, 1, "", "Client.Timeout exceeded", 1},
		{"connection refused", []string{closed.URL, "-n", "2"}, 1, "", "(request 1 of 2): Get", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			requests.Store(0)
			connections.Store(0)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), append([]string{"get"}, tc.args...), &stdout, &stderr)
			if code != tc.wantCode {
				t.Errorf("exit status %d, want %d (stderr %q)", code, tc.wantCode, stderr.String())
			}
			if stdout.String() != tc.wantStdout {
				t.Errorf("stdout %q, want %q", stdout.String(), tc.wantStdout)
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Errorf("stderr %q, want %q", stderr.String(), tc.wantStderr)
			}
			if got := connections.Load(); got != tc.connections {
				t.Errorf("%d connections, want %d (one per request)", got, tc.connections)
			}
		})
	}
}
