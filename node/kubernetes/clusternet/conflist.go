package clusternet

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"metropolis.dev/metropolis/osbase/atomicfile"
)

// The CNI configuration list, as containerd's CRI plugin (libcni) reads it.
// Only the fields we set; the plugins' defaults do the rest.
type confList struct {
	CNIVersion string       `json:"cniVersion"`
	Name       string       `json:"name"`
	Plugins    []pluginConf `json:"plugins"`
}

type pluginConf struct {
	Type   string   `json:"type"`
	IPMasq bool     `json:"ipMasq"`
	MTU    int      `json:"mtu"`
	IPAM   ipamConf `json:"ipam"`
}

type ipamConf struct {
	Type    string        `json:"type"`
	Ranges  [][]ipamRange `json:"ranges"`
	Routes  []ipamRoute   `json:"routes"`
	DataDir string        `json:"dataDir"`
}

type ipamRange struct {
	Subnet string `json:"subnet"`
}

type ipamRoute struct {
	Dst string `json:"dst"`
}

// ConfList returns the CNI configuration list for a node whose pods get
// addresses from podCIDR: one ptp plugin (a veth pair per pod, a host route
// to it) with host-local addresses. ipMasq is off because the masquerade
// table covers the whole pod range at once.
func ConfList(podCIDR netip.Prefix, mtu int, dataDir string) ([]byte, error) {
	if !podCIDR.IsValid() || !podCIDR.Addr().Is4() {
		return nil, fmt.Errorf("pod CIDR %v is not an IPv4 prefix", podCIDR)
	}
	c := confList{
		CNIVersion: "1.0.0",
		Name:       NetworkName,
		Plugins: []pluginConf{{
			Type:   "ptp",
			IPMasq: false,
			MTU:    mtu,
			IPAM: ipamConf{
				Type:    "host-local",
				Ranges:  [][]ipamRange{{{Subnet: podCIDR.Masked().String()}}},
				Routes:  []ipamRoute{{Dst: "0.0.0.0/0"}},
				DataDir: dataDir,
			},
		}},
	}
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// writeIfChanged replaces path with content whole (atomicfile), so that
// containerd (which watches the directory) never reads half a file. It does
// nothing if path already holds content, and reports whether it wrote.
func writeIfChanged(path string, content []byte) (bool, error) {
	old, err := os.ReadFile(path)
	if err == nil && bytes.Equal(old, content) {
		return false, nil
	}
	if err != nil && !os.IsNotExist(err) {
		return false, fmt.Errorf("reading %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, fmt.Errorf("creating %s: %w", dir, err)
	}
	// atomicfile's temporary name ends in random digits, not
	// .conflist/.conf/.json, so libcni ignores it.
	if err := atomicfile.Write(path, content, 0o644); err != nil {
		return false, err
	}
	return true, nil
}
