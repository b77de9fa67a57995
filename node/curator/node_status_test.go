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
		{"an IPv6 address with a curator", &apb.NodeStatus{ExternalAddress: "2001:db8::1",
			RunningCurator: &apb.NodeStatus_RunningCurator{Port: 7835}}, ""},
		{"no status", nil, "status: missing"},
		{"no address", &apb.NodeStatus{}, "external_address: missing"},
		{"an address with a port", &apb.NodeStatus{ExternalAddress: "192.0.2.10:7835"}, "not an IP address"},
		{"a host name", &apb.NodeStatus{ExternalAddress: "node1.example.com"}, "not an IP address"},
		{"a curator without port", &apb.NodeStatus{ExternalAddress: "192.0.2.10",
			RunningCurator: &apb.NodeStatus_RunningCurator{}}, "running_curator.port 0"},
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
