package netns

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
)

// Attach returns the Network that spec (as returned by Network.Spec) describes, for a program
// that did not create it, such as a later run of the launcher. It checks that the bridge and
// every node's namespace exist; it changes nothing.
func Attach(spec Spec) (*Network, error) {
	spec = spec.withDefaults()
	if err := spec.validate(); err != nil {
		return nil, fmt.Errorf("attach network: %w", err)
	}
	n := &Network{name: spec.Name, subnet: spec.Subnet, nodes: spec.Nodes}
	_, err := netlink.LinkByName(n.Bridge())
	if errors.As(err, new(netlink.LinkNotFoundError)) {
		return nil, fmt.Errorf("attach network %s: bridge %s does not exist", n.name, n.Bridge())
	}
	if err != nil {
		return nil, fmt.Errorf("attach network %s: find bridge %s: %w", n.name, n.Bridge(), err)
	}
	for _, node := range n.Nodes() {
		if _, err := os.Stat(filepath.Join(namespaceDir, node.Namespace)); err != nil {
			return nil, fmt.Errorf("attach network %s: node %d: %w", n.name, node.Index, err)
		}
	}
	return n, nil
}
