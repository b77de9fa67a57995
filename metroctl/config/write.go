package config

import (
	"fmt"
	"os"
	"path/filepath"
)

// writeFileAtomic replaces path with data so that readers (and a crash) see either the old
// content or the new one in full. The data goes to a temporary file in the same directory,
// which is synced and then renamed over path; the directory is synced last so that the rename
// itself survives a power cut.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Until the rename succeeds the temporary file is ours to clean up.
	renamed := false
	defer func() {
		if !renamed {
			os.Remove(tmp.Name())
		}
	}()
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: set mode: %w", path, err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: sync: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	renamed = true
	if d, err := os.Open(dir); err == nil {
		// Best effort: some file systems do not support syncing directories.
		d.Sync()
		d.Close()
	}
	return nil
}
