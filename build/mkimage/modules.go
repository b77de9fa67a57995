package mkimage

import (
	"bytes"
	"debug/elf"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// moduleInfo is what a module's .modinfo section says about it.
type moduleInfo struct {
	// Name is the module's name as the kernel knows it (underscores).
	Name string
	// Path is the module file relative to /lib/modules/<kver>, e.g. kernel/fs/erofs/erofs.ko.
	Path string
	// Depends are the names of modules it needs loaded first (normalised to underscores).
	Depends []string
	// SoftPre are names or aliases the module asks to be loaded before it (softdep pre:),
	// e.g. ext4's crypto-crc32c, which it requests through the crypto API at mount time.
	SoftPre []string
	// Aliases are the module's alias patterns (device IDs, crypto-NAME, fs-NAME).
	Aliases []string
}

// normaliseModuleName turns a module name or file stem into the kernel's form: modules.dep
// and depends= may write dm-mod where the module is called dm_mod.
func normaliseModuleName(name string) string {
	return strings.ReplaceAll(strings.TrimSuffix(name, ".ko"), "-", "_")
}

// parseModinfo parses the NUL-separated key=value strings of a .modinfo section.
func parseModinfo(section []byte, relPath string) moduleInfo {
	info := moduleInfo{Path: relPath, Name: normaliseModuleName(path.Base(relPath))}
	for _, field := range bytes.Split(section, []byte{0}) {
		key, value, ok := strings.Cut(string(field), "=")
		if !ok {
			continue
		}
		switch key {
		case "name":
			if value != "" {
				info.Name = normaliseModuleName(value)
			}
		case "depends":
			for _, d := range strings.Split(value, ",") {
				if d = strings.TrimSpace(d); d != "" {
					info.Depends = append(info.Depends, normaliseModuleName(d))
				}
			}
		case "softdep":
			info.SoftPre = append(info.SoftPre, parseSoftdepPre(value)...)
		case "alias":
			if value != "" {
				info.Aliases = append(info.Aliases, value)
			}
		}
	}
	return info
}

// parseSoftdepPre returns the names after "pre:" in a softdep value ("pre: a b post: c").
func parseSoftdepPre(value string) []string {
	var out []string
	inPre := false
	for _, word := range strings.Fields(value) {
		switch word {
		case "pre:":
			inPre = true
		case "post:":
			inPre = false
		default:
			if inPre {
				out = append(out, word)
			}
		}
	}
	return out
}

// readModinfo reads the .modinfo section of the module file at root/relPath.
func readModinfo(root, relPath string) (moduleInfo, error) {
	f, err := elf.Open(filepath.Join(root, relPath))
	if err != nil {
		return moduleInfo{}, fmt.Errorf("kernel module %s: %w", relPath, err)
	}
	defer f.Close()
	section := f.Section(".modinfo")
	if section == nil {
		return moduleInfo{}, fmt.Errorf("kernel module %s has no .modinfo section", relPath)
	}
	data, err := section.Data()
	if err != nil {
		return moduleInfo{}, fmt.Errorf("kernel module %s: reading .modinfo: %w", relPath, err)
	}
	return parseModinfo(data, relPath), nil
}

// moduleIndex is every module of one kernel, by name, plus its alias table.
type moduleIndex struct {
	modules map[string]moduleInfo
	// builtin are the names of modules built into the kernel: a dependency on one needs nothing.
	builtin map[string]bool
}

// loadModuleIndex reads the .modinfo of every .ko under modulesDir (/lib/modules/<kver> of
// the unpacked kernel package, which ships no modules.dep: depmod writes it at install time).
func loadModuleIndex(modulesDir string) (*moduleIndex, error) {
	idx := &moduleIndex{modules: map[string]moduleInfo{}, builtin: map[string]bool{}}
	err := filepath.WalkDir(filepath.Join(modulesDir, "kernel"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".ko") {
			return nil
		}
		rel, err := filepath.Rel(modulesDir, p)
		if err != nil {
			return err
		}
		info, err := readModinfo(modulesDir, filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		idx.modules[info.Name] = info
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("indexing kernel modules in %s: %w", modulesDir, err)
	}
	if len(idx.modules) == 0 {
		return nil, fmt.Errorf("no kernel modules (.ko) under %s/kernel: is the kernel package unpacked completely?", modulesDir)
	}
	builtin, err := os.ReadFile(filepath.Join(modulesDir, "modules.builtin"))
	if err != nil {
		return nil, fmt.Errorf("kernel modules: %w", err)
	}
	for _, line := range strings.Split(string(builtin), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			idx.builtin[normaliseModuleName(path.Base(line))] = true
		}
	}
	return idx, nil
}

// providers returns the modules called name or carrying an alias matching it, sorted by name.
func (idx *moduleIndex) providers(name string) []string {
	if _, ok := idx.modules[normaliseModuleName(name)]; ok {
		return []string{normaliseModuleName(name)}
	}
	var out []string
	for modName, info := range idx.modules {
		for _, alias := range info.Aliases {
			if ok, _ := path.Match(alias, name); ok || alias == name {
				out = append(out, modName)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// resolve returns the named modules with everything they depend on (depends= and softdep
// pre:, transitively), sorted by name. A name built into the kernel needs nothing; a name that
// is neither a module nor built in is an error, so a typo in layout fails the build.
func (idx *moduleIndex) resolve(names []string) ([]moduleInfo, error) {
	seen := map[string]bool{}
	var visit func(name, wantedBy string, soft bool) error
	visit = func(name, wantedBy string, soft bool) error {
		norm := normaliseModuleName(name)
		if seen[norm] || idx.builtin[norm] {
			return nil
		}
		if _, ok := idx.modules[norm]; !ok {
			provs := idx.providers(name)
			if len(provs) == 0 {
				if soft {
					// A soft dependency satisfied by built-in code (crypto-sha256) has no module.
					return nil
				}
				return fmt.Errorf("kernel module %q (wanted by %s) is neither a module of this kernel nor built in", name, wantedBy)
			}
			for _, p := range provs {
				if err := visit(p, wantedBy, soft); err != nil {
					return err
				}
			}
			return nil
		}
		seen[norm] = true
		info := idx.modules[norm]
		for _, d := range info.Depends {
			if err := visit(d, norm, false); err != nil {
				return err
			}
		}
		for _, d := range info.SoftPre {
			if err := visit(d, norm, true); err != nil {
				return err
			}
		}
		return nil
	}
	for _, n := range names {
		if err := visit(n, "layout", false); err != nil {
			return nil, err
		}
	}
	out := make([]moduleInfo, 0, len(seen))
	for n := range seen {
		out = append(out, idx.modules[n])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// moduleMetadata writes depmod-style metadata for a set of modules (paths relative to
// /lib/modules/<kver>), so the node's loader resolves dependencies at run time:
// modules.dep ("path: dep-path ..." with dependencies in load-last-first order as depmod
// writes them), modules.softdep, and modules.alias. Only modules in the set are mentioned.
func moduleMetadata(set []moduleInfo) map[string][]byte {
	byName := map[string]moduleInfo{}
	for _, m := range set {
		byName[m.Name] = m
	}
	var dep, soft, alias bytes.Buffer
	for _, m := range set {
		fmt.Fprintf(&dep, "%s:", m.Path)
		for _, d := range transitiveDeps(m.Name, byName) {
			fmt.Fprintf(&dep, " %s", byName[d].Path)
		}
		dep.WriteString("\n")
		var pre []string
		for _, s := range m.SoftPre {
			pre = append(pre, softProviders(s, byName)...)
		}
		if len(pre) > 0 {
			fmt.Fprintf(&soft, "softdep %s pre: %s\n", m.Name, strings.Join(pre, " "))
		}
		aliases := append([]string(nil), m.Aliases...)
		sort.Strings(aliases)
		for _, a := range aliases {
			fmt.Fprintf(&alias, "alias %s %s\n", a, m.Name)
		}
	}
	return map[string][]byte{
		"modules.dep":     dep.Bytes(),
		"modules.softdep": soft.Bytes(),
		"modules.alias":   alias.Bytes(),
	}
}

// transitiveDeps lists name's hard dependencies within the set, the ones to load first last
// (modules.dep order: a loader walks the list backwards).
func transitiveDeps(name string, byName map[string]moduleInfo) []string {
	var order []string
	seen := map[string]bool{name: true}
	var visit func(n string)
	visit = func(n string) {
		for _, d := range byName[n].Depends {
			if _, ok := byName[d]; !ok || seen[d] {
				continue // built in, or already listed
			}
			seen[d] = true
			visit(d)
			order = append(order, d)
		}
	}
	visit(name)
	// order has dependencies before their users; modules.dep lists users first.
	for i, j := 0, len(order)-1; i < j; i, j = i+1, j-1 {
		order[i], order[j] = order[j], order[i]
	}
	return order
}

// softProviders returns the modules of the set that satisfy a softdep name or alias.
func softProviders(name string, byName map[string]moduleInfo) []string {
	if _, ok := byName[normaliseModuleName(name)]; ok {
		return []string{normaliseModuleName(name)}
	}
	var out []string
	for n, m := range byName {
		for _, a := range m.Aliases {
			if ok, _ := path.Match(a, name); ok || a == name {
				out = append(out, n)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}
