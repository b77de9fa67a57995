package kmod

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// Loader loads modules from one module directory into the running kernel.
type Loader struct {
	// Dir is the module directory, usually /lib/modules/$(uname -r) (see DefaultDir).
	Dir string
	// SysModule is where the kernel lists loaded modules; /sys/module if empty. Tests point it
	// elsewhere.
	SysModule string
}

// DefaultDir returns /lib/modules/RELEASE for the running kernel.
func DefaultDir() (string, error) {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return "", fmt.Errorf("uname: %w", err)
	}
	return filepath.Join("/lib/modules", unix.ByteSliceToString(u.Release[:])), nil
}

// Load loads the named modules and their dependencies, dependencies first, skipping modules the
// kernel already has. It returns the names of the modules it loaded, in order.
func (l *Loader) Load(names ...string) ([]string, error) {
	f, err := os.Open(filepath.Join(l.Dir, "modules.dep"))
	if err != nil {
		return nil, fmt.Errorf("module directory: %w", err)
	}
	deps, err := ParseDeps(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(l.Dir, "modules.dep"), err)
	}
	if err := l.readSoftDeps(deps); err != nil {
		return nil, err
	}
	builtin, err := l.builtin()
	if err != nil {
		return nil, err
	}
	skip := func(name string) bool { return builtin[name] || l.isLoaded(name) }
	order, err := deps.LoadOrder(names, skip)
	if err != nil {
		return nil, err
	}
	// Modules needed only softly may fail to load (crc32c_intel on a CPU without SSE4.2, while
	// crc32c_generic serves); modules needed for real may not.
	hard, err := deps.order(names, skip, false)
	if err != nil {
		return nil, err
	}
	required := map[string]bool{}
	for _, m := range hard {
		required[m.Path] = true
	}
	var loaded []string
	for _, m := range order {
		fresh, err := loadFile(filepath.Join(l.Dir, m.Path))
		if err != nil && required[m.Path] {
			return loaded, err
		}
		if err == nil && fresh {
			loaded = append(loaded, NormaliseName(m.Path))
		}
	}
	return loaded, nil
}

// readSoftDeps adds modules.softdep, if the directory has one, to deps.
func (l *Loader) readSoftDeps(deps Deps) error {
	f, err := os.Open(filepath.Join(l.Dir, "modules.softdep"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("module directory: %w", err)
	}
	defer f.Close()
	if err := deps.ParseSoftDeps(f); err != nil {
		return fmt.Errorf("%s: %w", f.Name(), err)
	}
	return nil
}

// builtin reads modules.builtin (one module file per line), if the directory has one.
func (l *Loader) builtin() (map[string]bool, error) {
	f, err := os.Open(filepath.Join(l.Dir, "modules.builtin"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("module directory: %w", err)
	}
	defer f.Close()
	names := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			names[NormaliseName(line)] = true
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", f.Name(), err)
	}
	return names, nil
}

func (l *Loader) isLoaded(name string) bool {
	dir := l.SysModule
	if dir == "" {
		dir = "/sys/module"
	}
	// /sys/module/NAME also exists for built-in modules with parameters, which is what we want.
	_, err := os.Stat(filepath.Join(dir, name))
	return err == nil
}

// loadFile loads one module file; fresh is false if the kernel already had it (EEXIST, e.g.
// loaded concurrently since we looked at /sys/module).
func loadFile(path string) (fresh bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, fmt.Errorf("module file: %w", err)
	}
	defer f.Close()
	err = unix.FinitModule(int(f.Fd()), "", 0)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.EEXIST):
		return false, nil
	default:
		return false, fmt.Errorf("loading module %s (finit_module %s): %w", NormaliseName(path), path, err)
	}
}
