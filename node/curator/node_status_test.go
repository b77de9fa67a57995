package curator

import (
	"strings"
	"testing"

	apb "metropolis.dev/metropolis/api/v1"
)

func TestCheckNodeStatus(t *testing.T) {
	for _, c := range []struct {
		name    string
		status  *apb.NodeStatus
		message string // empty: valid
	}{
		{"an IPv4 address", &apb.NodeStatus{ExternalAddress: "192.0.2.10"}, ""},
		{"a private IPv4 address, as hosted nodes have", &apb.NodeStatus{ExternalAddress: "10.42.0.3"}, ""},
		{"an IPv6 address with a curator", &apb.NodeStatus{ExternalAddress: "2001:db8::1",
			RunningCurator: &apb.NodeStatus_RunningCurator{Port: 7835}}, ""},
		{"a loopback address, as tests on one machine use", &apb.NodeStatus{ExternalAddress: "127.0.0.2"}, ""},
		{"no status", nil, "status: missing"},
		{"no address", &apb.NodeStatus{}, "external_address: missing"},
		{"an address with a port", &apb.NodeStatus{ExternalAddress: "192.0.2.10:7835"}, "not an IP address"},
		{"a host name", &apb.NodeStatus{ExternalAddress: "node1.example.com"}, "not an IP address"},
		{"the unspecified IPv4 address", &apb.NodeStatus{ExternalAddress: "0.0.0.0"}, "status.external_address 0.0.0.0: the unspecified address"},
		{"the unspecified IPv6 address", &apb.NodeStatus{ExternalAddress: "::"}, "status.external_address ::: the unspecified address"},
		{"an IPv4 multicast address", &apb.NodeStatus{ExternalAddress: "224.0.0.1"}, "a multicast address"},
		{"an IPv6 multicast address", &apb.NodeStatus{ExternalAddress: "ff02::1"}, "a multicast address"},
		{"the IPv4 broadcast address", &apb.NodeStatus{ExternalAddress: "255.255.255.255"}, "the broadcast address"},
		{"an IPv4 link-local address", &apb.NodeStatus{ExternalAddress: "169.254.10.1"}, "a link-local address"},
		{"an IPv6 link-local address", &apb.NodeStatus{ExternalAddress: "fe80::1"}, "a link-local address"},
		{"a curator without port", &apb.NodeStatus{ExternalAddress: "192.0.2.10",
			RunningCurator: &apb.NodeStatus_RunningCurator{}}, "running_curator.port 0"},
		{"a synchronised clock", &apb.NodeStatus{ExternalAddress: "192.0.2.10",
			TimeSync: &apb.TimeSyncStatus{Synced: true, Server: "192.0.2.2:123", Stratum: 11, Adjustment: "slew"}}, ""},
		{"a clock's error of 2 KiB", &apb.NodeStatus{ExternalAddress: "192.0.2.10",
			TimeSync: &apb.TimeSyncStatus{Error: strings.Repeat("x", 2048)}}, "status.time_sync.error: 2048 bytes, more than 1024"},
		{"stratum 200", &apb.NodeStatus{ExternalAddress: "192.0.2.10",
			TimeSync: &apb.TimeSyncStatus{Stratum: 200}}, "status.time_sync.stratum 200"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := checkNodeStatus(c.status)
			if c.message == "" && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if c.message != "" && (err == nil || !strings.Contains(err.Error(), c.message)) {
				t.Fatalf("checkNodeStatus = %v, want an error mentioning %q", err, c.message)
			}
		})
	}
}
