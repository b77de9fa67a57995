package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

func runServe(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	listen := fs.String("listen", ":8080", "address to listen on")
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	return serve(ctx, ln, stdout, podIdentity())
}

// podIdentity names this pod: its hostname, and the pod and node names when the pod spec
// passes them in (fieldRef metadata.name and spec.nodeName).
func podIdentity() string {
	hostname, err := os.Hostname()
	if err != nil {
		hostname = "unknown"
	}
	fields := []string{"hostname=" + hostname}
	for _, v := range []struct{ key, env string }{{"pod", "POD_NAME"}, {"node", "NODE_NAME"}} {
		if value := os.Getenv(v.env); value != "" {
			fields = append(fields, v.key+"="+value)
		}
	}
	return strings.Join(fields, " ")
}

// serve answers on ln until ctx ends, then shuts down, letting requests in flight finish.
// Each request gets one log line on stdout, so that `kubectl logs` shows the traffic.
func serve(ctx context.Context, ln net.Listener, stdout io.Writer, identity string) error {
	logger := log.New(stdout, "", log.LstdFlags|log.LUTC)
	srv := &http.Server{Handler: handler(identity, logger), ReadHeaderTimeout: 10 * time.Second}
	logger.Printf("serving on %s as %s", ln.Addr(), identity)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if served := <-served; !errors.Is(served, http.ErrServerClosed) && err == nil {
		err = served
	}
	logger.Printf("stopped")
	return err
}

func handler(identity string, logger *log.Logger) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, identity)
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		mux.ServeHTTP(rec, r)
		logger.Printf("%s %s from %s: %d", r.Method, r.URL.Path, r.RemoteAddr, rec.status)
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}
