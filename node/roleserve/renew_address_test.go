package roleserve

import (
	"crypto/x509"
	"net"
	"strings"
	"testing"
)

func TestLacksAddress(t *testing.T) {
	addr := net.ParseIP("10.0.0.3")
	for _, tc := range []struct {
		name string
		ips  []net.IP
		addr net.IP
		want string // fragment; empty: not outdated
	}{
		{"names the address", []net.IP{net.ParseIP("10.0.0.3")}, addr, ""},
		{"names it among others", []net.IP{net.ParseIP("10.0.0.9"), net.ParseIP("10.0.0.3").To4()}, addr, ""},
		{"names no address", nil, addr, "does not name this node's address 10.0.0.3"},
		{"names an old address", []net.IP{net.ParseIP("10.0.0.9")}, addr, "10.0.0.3"},
		{"the node has no address", nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := lacksAddress(&x509.Certificate{IPAddresses: tc.ips}, tc.addr)
			if (tc.want == "") != (got == "") || !strings.Contains(got, tc.want) {
				t.Errorf("lacksAddress = %q, want %q", got, tc.want)
			}
		})
	}
}
