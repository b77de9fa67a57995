package config

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/osbase/atomicfile"
)

// File names inside a context's directory.
const (
	contextFileName   = "context.yaml"
	ownerKeyFileName  = "owner-key.pem"
	caFileName        = "ca.pem"
	ownerCertFileName = "owner.pem"
	// kubeCredentialFileName is what `metroctl k8s credential` keeps between runs
	// (metroctl/k8s.CachedCredential); the store only names it.
	kubeCredentialFileName = "kubernetes-credential.json"
)

// Store is a metroctl configuration directory. It holds no state of its own besides the path:
// every call reads or writes the files, so several Stores (or processes) on one directory see
// each other's changes.
type Store struct {
	dir string
}

// NewStore returns the store in dir. The directory is created on the first write.
func NewStore(dir string) *Store {
	return &Store{dir: dir}
}

// Dir returns the store's directory.
func (s *Store) Dir() string { return s.dir }

// DefaultDir returns the configuration directory to use when none is given on the command
// line: $METROCTL_CONFIG_DIR, else $XDG_CONFIG_HOME/metroctl, else ~/.config/metroctl.
// getenv is os.Getenv outside of tests.
func DefaultDir(getenv func(string) string) (string, error) {
	if d := getenv("METROCTL_CONFIG_DIR"); d != "" {
		return d, nil
	}
	if d := getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "metroctl"), nil
	}
	home := getenv("HOME")
	if home == "" {
		return "", errors.New("cannot find metroctl's configuration directory: none of METROCTL_CONFIG_DIR, XDG_CONFIG_HOME and HOME is set (use --config-dir)")
	}
	return filepath.Join(home, ".config", "metroctl"), nil
}

var contextNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

// ValidateContextName checks that name can name a context: 1 to 63 letters, digits, '.', '_'
// and '-', starting with a letter or digit (it becomes a directory name).
func ValidateContextName(name string) error {
	if !contextNameRE.MatchString(name) {
		return fmt.Errorf("context name %q: want 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	return nil
}

func (s *Store) contextsDir() string { return filepath.Join(s.dir, "contexts") }

func (s *Store) contextDir(name string) string { return filepath.Join(s.contextsDir(), name) }

// ContextNames lists the contexts in the store, sorted.
func (s *Store) ContextNames() ([]string, error) {
	entries, err := os.ReadDir(s.contextsDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list contexts: %w", err)
	}
	var names []string
	for _, e := range entries {
		// Skips leftovers of an interrupted create or delete (dot-prefixed) and stray files.
		if e.IsDir() && ValidateContextName(e.Name()) == nil {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// CreateContext creates the context name holding ownerKey and endpoints (host:port, see
// ParseEndpoint; may be empty), with no CA and no owner certificate yet. It fails if the
// context exists. The context appears whole or not at all: it is assembled in a temporary
// directory that is renamed into place.
func (s *Store) CreateContext(name string, ownerKey ed25519.PrivateKey, endpoints []string) error {
	if err := ValidateContextName(name); err != nil {
		return err
	}
	if len(ownerKey) != ed25519.PrivateKeySize {
		return fmt.Errorf("create context %q: owner key is not an ed25519 private key", name)
	}
	eps, err := ParseEndpoints(endpoints)
	if err != nil {
		return fmt.Errorf("create context %q: %w", name, err)
	}
	keyPEM, err := identity.MarshalPrivateKeyPEM(ownerKey)
	if err != nil {
		return fmt.Errorf("create context %q: encode owner key: %w", name, err)
	}
	ctxFile, err := (&ContextFile{Endpoints: eps}).Marshal()
	if err != nil {
		return fmt.Errorf("create context %q: %w", name, err)
	}

	if err := os.MkdirAll(s.contextsDir(), 0o700); err != nil {
		return fmt.Errorf("create context %q: %w", name, err)
	}
	final := s.contextDir(name)
	if _, err := os.Stat(final); err == nil {
		return fmt.Errorf("create context %q: it already exists (in %s)", name, final)
	}
	tmp, err := os.MkdirTemp(s.contextsDir(), "."+name+".new-*")
	if err != nil {
		return fmt.Errorf("create context %q: %w", name, err)
	}
	defer os.RemoveAll(tmp) // a no-op after the rename
	if err := atomicfile.Write(filepath.Join(tmp, ownerKeyFileName), keyPEM, 0o600); err != nil {
		return fmt.Errorf("create context %q: %w", name, err)
	}
	if err := atomicfile.Write(filepath.Join(tmp, contextFileName), ctxFile, 0o644); err != nil {
		return fmt.Errorf("create context %q: %w", name, err)
	}
	if err := os.Chmod(tmp, 0o700); err != nil {
		return fmt.Errorf("create context %q: %w", name, err)
	}
	// rename(2) onto an existing non-empty directory fails, so a concurrent create of the
	// same name cannot be overwritten.
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("create context %q: %w", name, err)
	}
	return nil
}

// KubernetesCredentialPath is where the context name keeps its cached Kubernetes credential
// (written with mode 0600: it holds a private key).
func (s *Store) KubernetesCredentialPath(name string) string {
	return filepath.Join(s.contextDir(name), kubeCredentialFileName)
}

// DeleteContext removes the context name, and clears the current context if it was name.
func (s *Store) DeleteContext(name string) error {
	if err := s.checkExists(name); err != nil {
		return fmt.Errorf("delete context: %w", err)
	}
	// Renaming first makes the context disappear at once; the removal of the files after it
	// may be interrupted without leaving a half context behind.
	doomed := filepath.Join(s.contextsDir(), fmt.Sprintf(".%s.deleted-%d", name, os.Getpid()))
	if err := os.Rename(s.contextDir(name), doomed); err != nil {
		return fmt.Errorf("delete context %q: %w", name, err)
	}
	if err := os.RemoveAll(doomed); err != nil {
		return fmt.Errorf("delete context %q: remove %s: %w", name, doomed, err)
	}
	current, err := s.CurrentContext()
	if err == nil && current == name {
		if err := os.Remove(s.currentContextPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete context %q: clear current context: %w", name, err)
		}
	}
	return nil
}

// checkExists returns an error listing the known contexts if name is not one of them.
func (s *Store) checkExists(name string) error {
	if err := ValidateContextName(name); err != nil {
		return err
	}
	st, err := os.Stat(s.contextDir(name))
	if err == nil && st.IsDir() {
		return nil
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("context %q: %w", name, err)
	}
	names, _ := s.ContextNames()
	if len(names) == 0 {
		return &noContextError{fmt.Sprintf("context %q does not exist (there are no contexts in %s)", name, s.dir)}
	}
	return &noContextError{fmt.Sprintf("context %q does not exist (known: %s)", name, strings.Join(names, ", "))}
}

// ErrNoSuchContext is what errors about a context that does not exist match (errors.Is).
var ErrNoSuchContext = errors.New("no such context")

type noContextError struct{ msg string }

func (e *noContextError) Error() string        { return e.msg }
func (e *noContextError) Is(target error) bool { return target == ErrNoSuchContext }
