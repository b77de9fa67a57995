package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// maxBody bounds what get reads of one response.
const maxBody = 1 << 20

func runGet(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("get", flag.ContinueOnError)
	timeout := fs.Duration("timeout", 5*time.Second, "time limit for each request")
	n := fs.Int("n", 1, "number of requests")
	rest, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	if *n < 1 {
		return fmt.Errorf("%w: -n %d: want at least 1", errUsage, *n)
	}
	target := rest[0]
	if !strings.Contains(target, "://") {
		target = "http://" + target
	}
	if u, err := url.Parse(target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: %q is not an http(s) URL", errUsage, rest[0])
	}
	client := &http.Client{
		Timeout: *timeout,
		// A new connection for each request, so that requests to a Service spread over its
		// pods (kube-proxy balances connections, not requests). No proxy from the environment.
		Transport: &http.Transport{DisableKeepAlives: true},
	}
	for i := 1; i <= *n; i++ {
		body, err := fetch(ctx, client, target)
		if err != nil {
			return fmt.Errorf("%s (request %d of %d): %w", target, i, *n, err)
		}
		if !strings.HasSuffix(body, "\n") {
			body += "\n"
		}
		if _, err := io.WriteString(stdout, body); err != nil {
			return err
		}
	}
	return nil
}

// fetch returns the body of a 200 response; any other status is an error.
func fetch(ctx context.Context, client *http.Client, target string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return "", fmt.Errorf("reading the body: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("status %s: %q", resp.Status, truncate(string(body), 200))
	}
	return string(body), nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
