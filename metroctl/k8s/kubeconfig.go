package k8s

import (
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"

	"metropolis.dev/metropolis/osbase/atomicfile"
)

// Entry is what `metroctl k8s configure` adds to a kubeconfig: a cluster, a user whose
// credentials come from an exec plugin, and a context joining them, all named Name.
type Entry struct {
	Name string
	// Server is the apiserver URL (https://HOST:PORT).
	Server string
	// TLSServerName, if set, is the name checked in the server's certificate instead of
	// Server's host (for the proxy).
	TLSServerName string
	// CAPEM is the Kubernetes CA certificate.
	CAPEM []byte
	// Command and Args run the credential plugin.
	Command string
	Args    []string
}

// DefaultPath is where kubectl looks for its kubeconfig: the first file of $KUBECONFIG, else
// ~/.kube/config.
func DefaultPath(getenv func(string) string) (string, error) {
	if list := getenv("KUBECONFIG"); list != "" {
		return filepath.SplitList(list)[0], nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", errors.New("cannot find the kubeconfig: neither $KUBECONFIG nor $HOME is set (pass --kubeconfig)")
	}
	return filepath.Join(home, ".kube", "config"), nil
}

// Merge adds e to the kubeconfig at path (created if missing), replacing entries of the same
// name, and makes it the current context. Other entries are kept as they are.
func Merge(path string, e Entry) error {
	cfg := map[string]any{}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read kubeconfig: %w", err)
	default:
		if err := yaml.Unmarshal(data, &cfg); err != nil {
			return fmt.Errorf("kubeconfig %s is not valid YAML: %w", path, err)
		}
		if cfg == nil {
			cfg = map[string]any{}
		}
	}
	cfg["apiVersion"], cfg["kind"] = "v1", "Config"
	cluster := map[string]any{
		"server":                     e.Server,
		"certificate-authority-data": base64.StdEncoding.EncodeToString(e.CAPEM),
	}
	if e.TLSServerName != "" {
		cluster["tls-server-name"] = e.TLSServerName
	}
	args := make([]any, len(e.Args))
	for i, a := range e.Args {
		args[i] = a
	}
	user := map[string]any{"exec": map[string]any{
		"apiVersion":      "client.authentication.k8s.io/v1",
		"command":         e.Command,
		"args":            args,
		"interactiveMode": "Never",
	}}
	for _, s := range []struct {
		list, field string
		value       any
	}{
		{"clusters", "cluster", cluster},
		{"users", "user", user},
		{"contexts", "context", map[string]any{"cluster": e.Name, "user": e.Name}},
	} {
		updated, err := upsert(cfg[s.list], e.Name, s.field, s.value)
		if err != nil {
			return fmt.Errorf("kubeconfig %s: %s: %w", path, s.list, err)
		}
		cfg[s.list] = updated
	}
	cfg["current-context"] = e.Name
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("kubeconfig directory: %w", err)
	}
	// Other entries may carry credentials: only the owner reads the file.
	return atomicfile.Write(path, out, 0o600)
}

// upsert replaces the element named name in a kubeconfig list (or appends one).
func upsert(list any, name, field string, value any) ([]any, error) {
	var items []any
	if list != nil {
		var ok bool
		if items, ok = list.([]any); !ok {
			return nil, fmt.Errorf("is a %T, want a list", list)
		}
	}
	entry := map[string]any{"name": name, field: value}
	for i, item := range items {
		if m, ok := item.(map[string]any); ok && m["name"] == name {
			items[i] = entry
			return items, nil
		}
	}
	return append(items, entry), nil
}

// EntryName is the kubeconfig name for a metroctl context: "metropolis-" and the context name,
// so that it cannot collide with entries of other tools.
func EntryName(contextName string) string {
	return "metropolis-" + strings.ReplaceAll(contextName, " ", "-")
}
