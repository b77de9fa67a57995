package netconfig

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
)

// resolvConf is the resolv.conf(5) text listing nameservers.
func resolvConf(nameservers []netip.Addr) []byte {
	var b bytes.Buffer
	b.WriteString("# Written by the Metropolis node (osbase/netconfig) from its network configuration.\n")
	for _, ns := range nameservers {
		fmt.Fprintf(&b, "nameserver %s\n", ns)
	}
	return b.Bytes()
}

// writeResolvConf replaces path with the resolver file for nameservers: written to a
// temporary file in the same directory and renamed over it, so that a reader never sees half
// a file. Nothing happens when path is empty or the file already says the same.
func writeResolvConf(path string, nameservers []netip.Addr) error {
	if path == "" {
		return nil
	}
	content := resolvConf(nameservers)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, content) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".resolv.conf-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(content); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
