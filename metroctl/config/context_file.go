package config

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"

	"metropolis.dev/metropolis/node/ports"
)

// ContextFile is the content of a context's context.yaml: the settings of a context that are
// neither keys nor certificates. It is YAML so that a person can read and edit it.
type ContextFile struct {
	// Endpoints are host:port addresses of curator nodes, tried in order. Empty until the
	// creator of the context knows them.
	Endpoints []string `json:"endpoints"`
}

// ParseContextFile parses and checks the content of a context.yaml. Unknown keys are errors,
// so that a misspelt setting is reported instead of silently ignored.
func ParseContextFile(data []byte) (*ContextFile, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("file is empty")
	}
	var f ContextFile
	if err := yaml.UnmarshalStrict(data, &f); err != nil {
		return nil, fmt.Errorf("not a valid context file: %w", err)
	}
	if err := f.validate(); err != nil {
		return nil, err
	}
	return &f, nil
}

// validate checks that every endpoint is already in canonical form, as written by Marshal.
func (f *ContextFile) validate() error {
	seen := make(map[string]bool)
	for i, e := range f.Endpoints {
		canonical, err := ParseEndpoint(e)
		if err != nil {
			return fmt.Errorf("endpoints[%d]: %w", i, err)
		}
		if canonical != e {
			return fmt.Errorf("endpoints[%d]: %q is not in host:port form (want %q)", i, e, canonical)
		}
		if seen[e] {
			return fmt.Errorf("endpoints[%d]: %q is listed twice", i, e)
		}
		seen[e] = true
	}
	return nil
}

// Marshal returns the file's YAML text.
func (f *ContextFile) Marshal() ([]byte, error) {
	if err := f.validate(); err != nil {
		return nil, err
	}
	out, err := yaml.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("encode context file: %w", err)
	}
	return append([]byte("# metroctl context, written by metroctl.\n"), out...), nil
}

// ParseEndpoint checks an endpoint given by a person and returns it as host:port. A missing
// port means the curator port (ports.Curator), so "10.0.0.1" and "[fd00::1]" are accepted.
func ParseEndpoint(s string) (string, error) {
	if s == "" {
		return "", errors.New("endpoint is empty")
	}
	if strings.ContainsAny(s, " \t\r\n/") {
		return "", fmt.Errorf("endpoint %q: contains a space or '/', want host:port", s)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// A bare host (or bracketed IPv6 address) gets the default port; anything else
		// that SplitHostPort rejects is malformed.
		bare := strings.TrimSuffix(strings.TrimPrefix(s, "["), "]")
		if strings.Contains(bare, ":") && net.ParseIP(bare) == nil {
			return "", fmt.Errorf("endpoint %q: want host:port", s)
		}
		host, port = bare, strconv.Itoa(int(ports.Curator))
	}
	if host == "" {
		return "", fmt.Errorf("endpoint %q: host is empty", s)
	}
	if strings.ContainsAny(host, "[]") {
		return "", fmt.Errorf("endpoint %q: misplaced brackets", s)
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 || strconv.FormatUint(n, 10) != port {
		return "", fmt.Errorf("endpoint %q: port %q is not a number from 1 to 65535", s, port)
	}
	return net.JoinHostPort(host, port), nil
}

// ParseEndpoints is ParseEndpoint for a list, refusing duplicates.
func ParseEndpoints(list []string) ([]string, error) {
	out := make([]string, 0, len(list))
	seen := make(map[string]bool)
	for _, s := range list {
		e, err := ParseEndpoint(s)
		if err != nil {
			return nil, err
		}
		if seen[e] {
			return nil, fmt.Errorf("endpoint %q is given twice", e)
		}
		seen[e] = true
		out = append(out, e)
	}
	return out, nil
}
