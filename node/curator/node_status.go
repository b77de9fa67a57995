package curator

import (
	"errors"
	"fmt"
	"net"

	apb "metropolis.dev/metropolis/api/v1"
)

// checkNodeStatus validates a node's report about itself before it is stored: other nodes
// and clients dial the addresses in it, so the address must be a bare IP address and a
// curator port a real port.
func checkNodeStatus(st *apb.NodeStatus) error {
	if st == nil {
		return errors.New("status: missing")
	}
	addr := st.GetExternalAddress()
	if addr == "" {
		return errors.New("status.external_address: missing")
	}
	if net.ParseIP(addr) == nil {
		return fmt.Errorf("status.external_address %q: not an IP address (without port)", addr)
	}
	if c := st.GetRunningCurator(); c != nil && (c.GetPort() <= 0 || c.GetPort() > 65535) {
		return fmt.Errorf("status.running_curator.port %d: not between 1 and 65535", c.GetPort())
	}
	return nil
}
