package netns

import (
	"net/netip"
	"strings"
	"testing"
)

func TestSpecValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		spec Spec
		// wantErr is empty for a valid spec, else a part of the error.
		wantErr string
	}{
		{"default subnet", Spec{Name: "dev", Nodes: 3}, ""},
		{"longest name", Spec{Name: "abcdefg8", Nodes: 1}, ""},
		{"no nodes yet", Spec{Name: "dev"}, ""},
		{"smallest subnet, one node", Spec{Name: "dev", Subnet: netip.MustParsePrefix("10.1.2.4/30"), Nodes: 1}, ""},
		{"empty name", Spec{Nodes: 1}, `network name ""`},
		{"name too long for interface names", Spec{Name: "abcdefghi"}, "want 1 to 8 characters"},
		{"dash would make names ambiguous", Spec{Name: "a-1"}, `'-' is not`},
		{"upper case", Spec{Name: "Dev"}, `'D' is not`},
		{"IPv6 subnet", Spec{Name: "dev", Subnet: netip.MustParsePrefix("fd00::/64")}, "want IPv4"},
		{"public subnet", Spec{Name: "dev", Subnet: netip.MustParsePrefix("8.8.8.0/24")}, "not a private"},
		{"host bits set", Spec{Name: "dev", Subnet: netip.MustParsePrefix("10.77.0.5/24")}, "want 10.77.0.0/24"},
		{"subnet too small", Spec{Name: "dev", Subnet: netip.MustParsePrefix("10.1.2.4/31")}, "too small"},
		{"more nodes than addresses", Spec{Name: "dev", Subnet: netip.MustParsePrefix("10.1.2.4/30"), Nodes: 2}, "nodes: 2, want 0 to 1"},
		{"more nodes than link names allow", Spec{Name: "dev", Subnet: netip.MustParsePrefix("10.0.0.0/16"), Nodes: 1000}, "want 0 to 999"},
		{"negative nodes", Spec{Name: "dev", Nodes: -1}, "nodes: -1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.spec.withDefaults().validate()
			switch {
			case tc.wantErr == "" && err != nil:
				t.Errorf("rejected: %v", err)
			case tc.wantErr != "" && err == nil:
				t.Errorf("accepted, want an error containing %q", tc.wantErr)
			case tc.wantErr != "" && !strings.Contains(err.Error(), tc.wantErr):
				t.Errorf("error %q, want one containing %q", err, tc.wantErr)
			}
		})
	}
}

func TestNamesFitLinuxInterfaceNames(t *testing.T) {
	longest := strings.Repeat("z", MaxNameLength)
	for _, name := range []string{bridgeName(longest), linkName(longest, MaxNodes)} {
		if len(name) > 15 {
			t.Errorf("%q has %d bytes, Linux allows 15", name, len(name))
		}
	}
}

func TestNodeNamesAreRecognisedOnlyForTheirNetwork(t *testing.T) {
	for _, tc := range []struct {
		network, name string
		want          bool
	}{
		{"dev", "mp-dev-0", true},
		{"dev", "mp-dev-999", true},
		{"dev", "mp-dev", false},
		{"dev", "mp-dev-", false},
		{"dev", "mp-dev-1b", true},
		{"dev", "mp-dev-12z", true},
		{"dev", "mp-dev-b", false},
		{"dev", "mp-dev-1bb", false},
		{"dev", "mp-dev-1B", false},
		{"dev", "mp-dev-1x1", false},
		{"dev", "mp-dev2-1", false},
		{"dev2", "mp-dev-1", false},
		{"dev", "eth0", false},
	} {
		if got := isNodeName(tc.network, tc.name); got != tc.want {
			t.Errorf("isNodeName(%q, %q) = %v, want %v", tc.network, tc.name, got, tc.want)
		}
	}
}

func TestAddressing(t *testing.T) {
	p := netip.MustParsePrefix("10.77.1.0/24")
	for _, tc := range []struct {
		name string
		got  netip.Addr
		want string
	}{
		{"host is first", hostAddress(p), "10.77.1.1"},
		{"node 1 follows the host", nodeAddress(p, 1), "10.77.1.2"},
		{"last node of a /24", nodeAddress(p, maxNodes(p)), "10.77.1.254"},
		{"addresses carry into the next octet", nodeAddress(netip.MustParsePrefix("10.0.0.0/16"), 300), "10.0.1.45"},
		{"no node 0", (&Network{subnet: p}).NodeAddress(0), "invalid IP"},
		{"no node beyond the subnet", (&Network{subnet: p}).NodeAddress(254), "invalid IP"},
	} {
		if tc.got.String() != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, tc.got, tc.want)
		}
	}
}

func TestSubnetForStaysClearOfKubernetesRanges(t *testing.T) {
	services, pods := netip.MustParsePrefix("10.96.0.0/12"), netip.MustParsePrefix("10.244.0.0/16")
	for _, name := range []string{"local", "a", "imgtest", "zzzzzzzz"} {
		p := SubnetFor(name)
		if p.Bits() != 24 || !netip.MustParsePrefix("10.64.0.0/11").Contains(p.Addr()) || p.Masked() != p {
			t.Errorf("SubnetFor(%q) = %s, want a /24 in 10.64.0.0/11", name, p)
		}
		if p.Overlaps(services) || p.Overlaps(pods) {
			t.Errorf("SubnetFor(%q) = %s overlaps Kubernetes' ranges", name, p)
		}
	}
}
