package curator

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"net"

	apb "metropolis.dev/metropolis/api/v1"
)

// checkNodeStatus validates a node's report about itself before it is stored: other nodes
// and clients dial the addresses in it, so the address must be a bare IP address another
// machine can reach the node at, and a curator port a real port.
func checkNodeStatus(st *apb.NodeStatus) error {
	if st == nil {
		return errors.New("status: missing")
	}
	addr := st.GetExternalAddress()
	if addr == "" {
		return errors.New("status.external_address: missing")
	}
	ip := net.ParseIP(addr)
	if ip == nil {
		return fmt.Errorf("status.external_address %q: not an IP address (without port)", addr)
	}
	if why := unreachableAddress(ip); why != "" {
		return fmt.Errorf("status.external_address %s: %s, which other nodes cannot dial", addr, why)
	}
	if c := st.GetRunningCurator(); c != nil && (c.GetPort() <= 0 || c.GetPort() > 65535) {
		return fmt.Errorf("status.running_curator.port %d: not between 1 and 65535", c.GetPort())
	}
	if err := checkTimeSync(st.GetTimeSync()); err != nil {
		return err
	}
	if err := checkConfigurationStatus(st.GetConfiguration()); err != nil {
		return err
	}
	return checkSoftware(st.GetSoftware())
}

// maxConfigurationErrors bounds what a node reports it could not apply of its configuration.
const maxConfigurationErrors = 16

func checkConfigurationStatus(cs *apb.NodeConfigurationStatus) error {
	if n := len(cs.GetErrors()); n > maxConfigurationErrors {
		return fmt.Errorf("status.configuration.errors: %d, more than %d", n, maxConfigurationErrors)
	}
	for i, e := range cs.GetErrors() {
		if len(e) > maxTimeSyncString {
			return fmt.Errorf("status.configuration.errors[%d]: %d bytes, more than %d", i, len(e), maxTimeSyncString)
		}
	}
	return nil
}

// maxTimeSyncString bounds the strings of a node's report of its clock (a server's host:port,
// a warning, an error).
const maxTimeSyncString = 1024

// checkTimeSync bounds a node's report of how it keeps its clock.
func checkTimeSync(ts *apb.TimeSyncStatus) error {
	if ts == nil {
		return nil
	}
	for _, f := range []struct{ name, value string }{
		{"server", ts.GetServer()}, {"warning", ts.GetWarning()}, {"error", ts.GetError()},
	} {
		if len(f.value) > maxTimeSyncString {
			return fmt.Errorf("status.time_sync.%s: %d bytes, more than %d", f.name, len(f.value), maxTimeSyncString)
		}
	}
	if ts.GetStratum() > 16 {
		return fmt.Errorf("status.time_sync.stratum %d: more than 16", ts.GetStratum())
	}
	return nil
}

// Bounds on what a node says about its software: the cluster stores it with every status.
const (
	maxSoftwareString = 512
	maxRollbackLog    = 32
	// maxKeptBundles bounds the bundles a node says it keeps (node/update keeps two).
	maxKeptBundles = 8
)

// checkSoftware bounds a node's report of its software and slots.
func checkSoftware(sw *apb.NodeSoftware) error {
	if sw == nil {
		return nil
	}
	if len(sw.GetSlots()) > 2 {
		return fmt.Errorf("status.software.slots: %d slots, a node has at most 2", len(sw.GetSlots()))
	}
	if len(sw.GetKeptBundles()) > maxKeptBundles {
		return fmt.Errorf("status.software.kept_bundles: %d bundles, at most %d", len(sw.GetKeptBundles()), maxKeptBundles)
	}
	for _, sum := range sw.GetKeptBundles() {
		if len(sum) != sha256.Size {
			return fmt.Errorf("status.software.kept_bundles: a SHA-256 of %d bytes, not %d", len(sum), sha256.Size)
		}
	}
	strs := []string{sw.GetVersion(), sw.GetBuildId(), sw.GetRunningSlot(), sw.GetLastFailure().GetRolloutId(), sw.GetLastFailure().GetMessage()}
	for _, sl := range sw.GetSlots() {
		if len(sl.GetRollbackLog()) > maxRollbackLog {
			return fmt.Errorf("status.software.slots: slot %.8q has %d rollback log lines, at most %d", sl.GetName(), len(sl.GetRollbackLog()), maxRollbackLog)
		}
		strs = append(strs, sl.GetName(), sl.GetVersion(), sl.GetBuildId(), sl.GetRollbackReason(), sl.GetRolloutId())
		strs = append(strs, sl.GetRollbackLog()...)
	}
	for _, str := range strs {
		if len(str) > maxSoftwareString {
			return fmt.Errorf("status.software: a field of %d bytes, at most %d", len(str), maxSoftwareString)
		}
	}
	return nil
}

// unreachableAddress says why ip can never be a node's address ("" if it can be): the
// unspecified address is a listener's wildcard, multicast and broadcast reach groups rather
// than one node, and a link-local address is valid only on one link (for IPv6 only with an
// interface zone, which the field cannot carry).
//
// Loopback addresses are allowed on purpose: the curator's and consensus tests run several
// nodes in one network namespace on 127.0.0.x, which is the only place they reach each other.
// Real and hosted nodes report the address of their own interface (hosted nodes have their
// own namespace and a 10.x address), so nothing in the product depends on this.
func unreachableAddress(ip net.IP) string {
	switch {
	case ip.IsUnspecified():
		return "the unspecified address"
	case ip.IsMulticast():
		return "a multicast address"
	case ip.Equal(net.IPv4bcast):
		return "the broadcast address"
	case ip.IsLinkLocalUnicast():
		return "a link-local address"
	}
	return ""
}
