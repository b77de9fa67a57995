package mkimage

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sort"
)

// initramfsDirs are the directories stage 1 needs before it mounts anything: the API
// filesystems' mount points and where the system partition goes.
var initramfsDirs = []string{"dev", "proc", "sys", "newroot"}

// buildInitramfs returns the gzip'd newc initramfs: /init (stage 1), the initramfs modules
// with their metadata under /lib/modules/<kver>, the empty mount points, and /dev/console,
// which the kernel opens for init's standard streams before anything mounts devtmpfs.
func buildInitramfs(initBinary string, kernel *kernelTree, modules []moduleInfo) ([]byte, error) {
	initData, err := os.ReadFile(initBinary)
	if err != nil {
		return nil, fmt.Errorf("stage 1 (init) binary: %w", err)
	}
	files := map[string][]byte{"init": initData}
	modDir := path.Join("lib/modules", KernelVersion)
	for _, m := range modules {
		data, err := os.ReadFile(filepath.Join(kernel.ModulesDir, m.Path))
		if err != nil {
			return nil, fmt.Errorf("initramfs module %s: %w", m.Name, err)
		}
		files[path.Join(modDir, m.Path)] = data
	}
	for name, data := range moduleMetadata(modules) {
		files[path.Join(modDir, name)] = data
	}

	dirs := map[string]bool{}
	for _, d := range initramfsDirs {
		dirs[d] = true
	}
	var entries []CpioEntry
	for name, data := range files {
		for d := path.Dir(name); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
		mode := uint32(modeRegular | 0o644)
		if name == "init" {
			mode = modeRegular | 0o755
		}
		entries = append(entries, CpioEntry{Name: name, Mode: mode, Data: data})
	}
	for d := range dirs {
		entries = append(entries, CpioEntry{Name: d, Mode: modeDir | 0o755})
	}
	entries = append(entries, CpioEntry{Name: "dev/console", Mode: modeCharDev | 0o600, RdevMajor: 5, RdevMinor: 1})
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })

	var cpio bytes.Buffer
	if err := writeCpio(&cpio, entries, sourceDateEpoch); err != nil {
		return nil, err
	}
	// gzip with no name and a zero time in its header: the same archive, the same bytes.
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.DefaultCompression)
	if _, err := zw.Write(cpio.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}
