package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"metropolis.dev/metropolis/osbase/atomicfile"
)

const currentContextFileName = "current-context"

func (s *Store) currentContextPath() string { return filepath.Join(s.dir, currentContextFileName) }

// CurrentContext returns the name of the current context, or "" if none is set. It does not
// check that the context exists (Resolve does).
func (s *Store) CurrentContext() (string, error) {
	path := s.currentContextPath()
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read current context: %w", err)
	}
	name := strings.TrimSpace(string(data))
	if err := ValidateContextName(name); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return name, nil
}

// UseContext makes the existing context name the current one.
func (s *Store) UseContext(name string) error {
	if err := s.checkExists(name); err != nil {
		return fmt.Errorf("use context: %w", err)
	}
	return atomicfile.Write(s.currentContextPath(), []byte(name+"\n"), 0o644)
}

// Resolve loads the context name, or the current context if name is empty.
func (s *Store) Resolve(name string) (*Context, error) {
	if name == "" {
		current, err := s.CurrentContext()
		if err != nil {
			return nil, err
		}
		if current == "" {
			return nil, fmt.Errorf("no current context in %s: pass --context NAME or run metroctl config use-context NAME", s.dir)
		}
		name = current
	}
	return s.LoadContext(name)
}
