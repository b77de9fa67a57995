package worker

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strings"
)

// defaultResolvConf is where the node's network configuration writes its resolvers
// (osbase/netconfig, on the image).
const defaultResolvConf = "/etc/resolv.conf"

// upstreamResolvers returns the nameservers of the resolv.conf at path as host:53 addresses,
// for the cluster DNS to forward names outside the cluster to. A missing file means none (the
// node has no resolvers: outside names are then refused). DNSAddress itself is left out: the
// cluster DNS must never forward to itself.
func upstreamResolvers(path string) ([]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("node resolvers: %w", err)
	}
	return parseNameservers(data), nil
}

// parseNameservers reads "nameserver ADDRESS" lines; others, and addresses that are not IPs
// (resolv.conf has no other syntax for them), are ignored as the C library does.
func parseNameservers(data []byte) []string {
	var servers []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "nameserver" {
			continue
		}
		addr, err := netip.ParseAddr(fields[1])
		if err != nil || addr.String() == DNSAddress {
			continue
		}
		servers = append(servers, net.JoinHostPort(addr.String(), "53"))
	}
	return servers
}
