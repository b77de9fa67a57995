package kmod

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
)

// BuildDeps does depmod's job for modules.dep: it reads the .modinfo section of every .ko file
// under dir and records each module's direct dependencies ("depends="). The image builder uses
// it, since the kernel package ships no modules.dep and the build machines have no depmod.
func BuildDeps(dir string) (Deps, error) {
	deps := Deps{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".ko") {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		if err != nil {
			return err
		}
		info, err := ModInfo(path)
		if err != nil {
			return err
		}
		name := NormaliseName(rel)
		if prev, dup := deps[name]; dup {
			return fmt.Errorf("module %s is both %s and %s", name, prev.Path, rel)
		}
		m := Module{Path: filepath.ToSlash(rel)}
		for _, dep := range strings.Split(info["depends"], ",") {
			if dep != "" {
				m.Needs = append(m.Needs, NormaliseName(dep))
			}
		}
		deps[name] = m
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("building modules.dep from %s: %w", dir, err)
	}
	return deps, nil
}

// ModInfo returns the key=value pairs of a module file's .modinfo section (for keys given more
// than once, such as alias, the last).
func ModInfo(path string) (map[string]string, error) {
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("module %s: %w", path, err)
	}
	defer f.Close()
	sec := f.Section(".modinfo")
	if sec == nil {
		return nil, fmt.Errorf("module %s has no .modinfo section", path)
	}
	data, err := sec.Data()
	if err != nil {
		return nil, fmt.Errorf("module %s: reading .modinfo: %w", path, err)
	}
	info := map[string]string{}
	for _, kv := range bytes.Split(data, []byte{0}) {
		if k, v, ok := strings.Cut(string(kv), "="); ok {
			info[k] = v
		}
	}
	return info, nil
}

// Write writes d in modules.dep format, modules sorted by file, each followed by all the
// modules it needs (directly or not), dependencies first. An unknown dependency or a cycle is
// an error.
func (d Deps) Write(w io.Writer) error {
	names := make([]string, 0, len(d))
	for n := range d {
		names = append(names, n)
	}
	slices.SortFunc(names, func(a, b string) int { return strings.Compare(d[a].Path, d[b].Path) })
	for _, n := range names {
		order, err := d.LoadOrder([]string{n}, nil)
		if err != nil {
			return err
		}
		line := d[n].Path + ":"
		for _, m := range order[:len(order)-1] {
			line += " " + m.Path
		}
		if _, err := fmt.Fprintln(w, line); err != nil {
			return err
		}
	}
	return nil
}
