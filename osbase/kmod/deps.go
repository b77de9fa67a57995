package kmod

import (
	"bufio"
	"fmt"
	"io"
	"path"
	"strings"
)

// Deps is a parsed modules.dep: for every module (by normalised name), its file and the files
// of the modules it needs, relative to the module directory.
type Deps map[string]Module

// Module is one modules.dep line.
type Module struct {
	// Path is the module's file relative to the module directory, e.g.
	// kernel/drivers/md/dm-verity.ko.
	Path string
	// Needs are the names (normalised) of the modules this one needs, as listed.
	Needs []string
	// SoftPre are the names of modules to load before this one if they can be (modules.softdep
	// "pre:"), such as the crypto implementation libcrc32c asks the kernel for: there is no
	// modprobe for the kernel to run. Names not in Deps (built in, or aliases) are ignored.
	SoftPre []string
}

// NormaliseName returns the kernel's name for a module given by name or file: the file's base
// name without its .ko suffix, with every - replaced by _ (the kernel treats them the same, and
// /sys/module uses _).
func NormaliseName(s string) string {
	s = path.Base(s)
	s = strings.TrimSuffix(s, ".ko")
	return strings.ReplaceAll(s, "-", "_")
}

// ParseDeps reads modules.dep. Each non-empty line is `FILE: [DEPFILE...]`; lines starting with
// # are ignored. A module listed twice, a line without a colon, or a file that is not a plain
// relative .ko path is an error naming the line.
func ParseDeps(r io.Reader) (Deps, error) {
	deps := Deps{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for lineNo := 1; sc.Scan(); lineNo++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		file, rest, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("modules.dep line %d: no colon after the module file: %q", lineNo, line)
		}
		file = strings.TrimSpace(file)
		if err := checkModulePath(file); err != nil {
			return nil, fmt.Errorf("modules.dep line %d: %w", lineNo, err)
		}
		name := NormaliseName(file)
		if _, dup := deps[name]; dup {
			return nil, fmt.Errorf("modules.dep line %d: module %s listed twice", lineNo, name)
		}
		m := Module{Path: file}
		for _, dep := range strings.Fields(rest) {
			if err := checkModulePath(dep); err != nil {
				return nil, fmt.Errorf("modules.dep line %d (%s): dependency: %w", lineNo, name, err)
			}
			m.Needs = append(m.Needs, NormaliseName(dep))
		}
		deps[name] = m
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading modules.dep: %w", err)
	}
	return deps, nil
}

// checkModulePath refuses files this package cannot or must not load: compressed modules
// (finit_module would need kernel support we do not rely on) and paths leaving the module
// directory.
func checkModulePath(p string) error {
	switch {
	case !strings.HasSuffix(p, ".ko"):
		return fmt.Errorf("module file %q does not end in .ko (compressed modules are not supported)", p)
	case path.IsAbs(p) || path.Clean(p) != p || strings.HasPrefix(p, "../") || p == ".ko":
		return fmt.Errorf("module file %q is not a clean path inside the module directory", p)
	}
	return nil
}

// ParseSoftDeps reads modules.softdep ("softdep NAME pre: A B post: C" lines) into d's
// modules' SoftPre. Only pre: dependencies matter here; lines for modules not in d are ignored.
func (d Deps) ParseSoftDeps(r io.Reader) error {
	sc := bufio.NewScanner(r)
	for lineNo := 1; sc.Scan(); lineNo++ {
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		if f[0] != "softdep" || len(f) < 2 {
			return fmt.Errorf("modules.softdep line %d: want \"softdep MODULE pre: ... post: ...\": %q", lineNo, sc.Text())
		}
		name := NormaliseName(f[1])
		m, ok := d[name]
		if !ok {
			continue
		}
		pre := false
		for _, w := range f[2:] {
			switch w {
			case "pre:":
				pre = true
			case "post:":
				pre = false
			default:
				if pre {
					m.SoftPre = append(m.SoftPre, NormaliseName(w))
				}
			}
		}
		d[name] = m
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("reading modules.softdep: %w", err)
	}
	return nil
}

// LoadOrder returns the modules to load for names (in any spelling NormaliseName accepts),
// dependencies before the modules needing them, each once. A module for which skip returns true
// (already loaded, built in) is left out, and its dependencies are not looked at: the kernel
// loaded them with it. An unknown module or a dependency cycle is an error naming the modules
// involved.
//
// Soft dependencies (SoftPre) that are in d come before their module too, unless that would
// close a cycle, which a soft dependency never makes an error.
func (d Deps) LoadOrder(names []string, skip func(name string) bool) ([]Module, error) {
	return d.order(names, skip, true)
}

// order is LoadOrder, with soft dependencies or without.
func (d Deps) order(names []string, skip func(name string) bool, soft bool) ([]Module, error) {
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	var order []Module
	var visit func(name string, chain []string) error
	visit = func(name string, chain []string) error {
		switch state[name] {
		case done:
			return nil
		case visiting:
			return fmt.Errorf("module dependency cycle: %s", strings.Join(append(chain, name), " -> "))
		}
		if skip != nil && skip(name) {
			state[name] = done
			return nil
		}
		m, ok := d[name]
		if !ok {
			if len(chain) == 0 {
				return fmt.Errorf("module %s is not in modules.dep", name)
			}
			return fmt.Errorf("module %s (needed by %s) is not in modules.dep", name, strings.Join(chain, " -> "))
		}
		state[name] = visiting
		next := append(chain[:len(chain):len(chain)], name)
		if soft {
			for _, dep := range m.SoftPre {
				// A soft dependency that cannot come first (it leads back here, or to an
				// unknown module) is left to load in its own place, if at all.
				if _, known := d[dep]; known {
					_ = visit(dep, next)
				}
			}
		}
		for _, dep := range m.Needs {
			if err := visit(dep, next); err != nil {
				// Unmark, so a soft dependency's failed attempt does not poison this module
				// for its own, later turn.
				state[name] = 0
				return err
			}
		}
		state[name] = done
		order = append(order, m)
		return nil
	}
	for _, n := range names {
		if err := visit(NormaliseName(n), nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}
