package core

import (
	"net"
	"slices"
	"testing"
)

// TestClusterTimeCountsItself: a consensus member is a candidate for the time reference even
// if the curator list it knows lacks it, so the lowest member never follows the next one.
func TestClusterTimeCountsItself(t *testing.T) {
	others := []string{"10.0.0.3:7835", "10.0.0.4:7835"}
	for _, tc := range []struct {
		name        string
		self        string
		member      bool
		wantServers []string
		wantRef     bool
	}{
		{"a member missing from the list, lowest: the reference", "10.0.0.2", true, nil, true},
		{"a member missing from the list, not lowest: follows the lowest", "10.0.0.5", true, []string{"10.0.0.3:123"}, false},
		{"not a member: follows the lowest it knows", "10.0.0.2", false, []string{"10.0.0.3:123"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := newClusterTime(others, net.ParseIP(tc.self))
			ct.member.Store(tc.member)
			if got := ct.servers(); !slices.Equal(got, tc.wantServers) {
				t.Errorf("servers %v, want %v", got, tc.wantServers)
			}
			if got := ct.isReference(); got != tc.wantRef {
				t.Errorf("reference %v, want %v", got, tc.wantRef)
			}
		})
	}
	ct := newClusterTime(others, net.ParseIP("10.0.0.2"))
	ct.member.Store(true)
	servers := []string{"ntp.example.com:123"}
	ct.configured.Store(&servers)
	if ct.isReference() || !slices.Equal(ct.servers(), servers) {
		t.Errorf("with configured servers: reference %v, servers %v; want their servers and no reference", ct.isReference(), ct.servers())
	}
}

// TestClusterTimeSources: the configuration's servers win over the DHCP lease's, which win over
// the cluster's reference; a node with either is no reference.
func TestClusterTimeSources(t *testing.T) {
	others := []string{"10.0.0.3:7835"}
	configured, dhcp := []string{"ntp.example.com:123"}, []string{"192.0.2.123:123"}
	for _, tc := range []struct {
		name             string
		configured, dhcp []string
		want             []string
		wantRef          bool
	}{
		{"neither: the reference", nil, nil, nil, true},
		{"DHCP's", nil, dhcp, dhcp, false},
		{"the configuration's over DHCP's", configured, dhcp, configured, false},
		{"an empty lease list: the reference", nil, []string{}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ct := newClusterTime(others, net.ParseIP("10.0.0.2"))
			ct.member.Store(true)
			if tc.configured != nil {
				ct.configured.Store(&tc.configured)
			}
			if tc.dhcp != nil {
				ct.dhcp.Store(&tc.dhcp)
			}
			if got := ct.servers(); !slices.Equal(got, tc.want) {
				t.Errorf("servers %v, want %v", got, tc.want)
			}
			if got := ct.isReference(); got != tc.wantRef {
				t.Errorf("reference %v, want %v", got, tc.wantRef)
			}
		})
	}
}
