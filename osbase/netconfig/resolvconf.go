package netconfig

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"

	"metropolis.dev/metropolis/osbase/atomicfile"
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

// writeResolvConf replaces path with the resolver file for nameservers, whole (atomicfile), so
// that a reader never sees half a file. Nothing happens when path is empty or the file already
// says the same.
func writeResolvConf(path string, nameservers []netip.Addr) error {
	if path == "" {
		return nil
	}
	content := resolvConf(nameservers)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, content) {
		return nil
	}
	return atomicfile.Write(path, content, 0o644)
}
