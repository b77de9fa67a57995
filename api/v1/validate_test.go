package apb

import (
	"strings"
	"testing"
)

func validBootstrap() *NodeParameters {
	return &NodeParameters{Cluster: &NodeParameters_ClusterBootstrap{ClusterBootstrap: &ClusterBootstrap{
		OwnerPublicKey: make([]byte, 32),
	}}}
}

func validRegister(t testing.TB) *NodeParameters {
	return &NodeParameters{Cluster: &NodeParameters_ClusterRegister{ClusterRegister: &ClusterRegister{
		RegisterTicket:   []byte("ticket"),
		CaCertificate:    testCACertificate(t),
		ClusterAddresses: []string{"192.0.2.10:7835", "[2001:db8::10]:7835", "node1.example:7835"},
	}}}
}

func withStatic(p *NodeParameters, s *NetworkConfig_StaticMode) *NodeParameters {
	p.Network = &NetworkConfig{Mode: &NetworkConfig_Static{Static: s}}
	return p
}

func validStatic() *NetworkConfig_StaticMode {
	return &NetworkConfig_StaticMode{
		HardwareAddress: "52:54:00:12:34:56",
		Addresses:       []string{"192.0.2.10/24", "2001:db8::10/64"},
		Gateways:        []string{"192.0.2.1", "fe80::1"},
		Nameservers:     []string{"192.0.2.53", "2001:db8::53"},
	}
}

// TestValidateNodeParameters is the specification of ValidateNodeParameters: which parameters
// pass, and for each kind of mistake, the field the error names.
func TestValidateNodeParameters(t *testing.T) {
	register := func(edit func(r *ClusterRegister)) *NodeParameters {
		p := validRegister(t)
		edit(p.GetClusterRegister())
		return p
	}
	static := func(edit func(s *NetworkConfig_StaticMode)) *NodeParameters {
		s := validStatic()
		edit(s)
		return withStatic(validBootstrap(), s)
	}
	cases := []struct {
		name    string
		params  *NodeParameters
		wantErr string // empty: valid; otherwise the start of the error
	}{
		{"bootstrap", validBootstrap(), ""},
		{"register", validRegister(t), ""},
		{"bootstrap with DHCP", func() *NodeParameters {
			p := validBootstrap()
			p.Network = &NetworkConfig{Mode: &NetworkConfig_Dhcp{Dhcp: &NetworkConfig_DhcpMode{}}}
			return p
		}(), ""},
		{"bootstrap with static network", withStatic(validBootstrap(), validStatic()), ""},
		{"static network, only an address", static(func(s *NetworkConfig_StaticMode) {
			*s = NetworkConfig_StaticMode{Addresses: []string{"10.0.0.5/8"}}
		}), ""},

		{"missing parameters", nil, "node parameters are missing"},
		{"neither bootstrap nor register", &NodeParameters{}, "cluster: neither cluster_bootstrap nor cluster_register"},
		{"bootstrap without owner key", &NodeParameters{Cluster: &NodeParameters_ClusterBootstrap{}}, "cluster_bootstrap.owner_public_key: want a raw ed25519 public key of 32 bytes, got 0"},
		{"owner key too short", &NodeParameters{Cluster: &NodeParameters_ClusterBootstrap{ClusterBootstrap: &ClusterBootstrap{
			OwnerPublicKey: make([]byte, 31)}}}, "cluster_bootstrap.owner_public_key: want a raw ed25519 public key of 32 bytes, got 31"},
		{"owner key as PKIX DER", &NodeParameters{Cluster: &NodeParameters_ClusterBootstrap{ClusterBootstrap: &ClusterBootstrap{
			OwnerPublicKey: make([]byte, 44)}}}, "cluster_bootstrap.owner_public_key:"},

		{"empty ticket", register(func(r *ClusterRegister) { r.RegisterTicket = nil }), "cluster_register.register_ticket: must not be empty"},
		{"no CA", register(func(r *ClusterRegister) { r.CaCertificate = nil }), "cluster_register.ca_certificate: must not be empty"},
		{"CA not X.509", register(func(r *ClusterRegister) { r.CaCertificate = []byte("PEM?") }), "cluster_register.ca_certificate: not a valid X.509 certificate"},
		{"CA not a CA", register(func(r *ClusterRegister) { r.CaCertificate = testCertificate(t, false, testEd25519Key(t)) }), "cluster_register.ca_certificate: not a CA certificate"},
		{"CA not ed25519", register(func(r *ClusterRegister) { r.CaCertificate = testCertificate(t, true, testECDSAKey(t)) }), "cluster_register.ca_certificate: CA key algorithm is ECDSA, want Ed25519"},
		{"no cluster addresses", register(func(r *ClusterRegister) { r.ClusterAddresses = nil }), "cluster_register.cluster_addresses: must list at least one"},
		{"address without port", register(func(r *ClusterRegister) { r.ClusterAddresses = []string{"192.0.2.10:7835", "192.0.2.11"} }), "cluster_register.cluster_addresses[1]: \"192.0.2.11\" is not host:port"},
		{"address without host", register(func(r *ClusterRegister) { r.ClusterAddresses = []string{":7835"} }), "cluster_register.cluster_addresses[0]: \":7835\" has an empty host"},
		{"address with port 0", register(func(r *ClusterRegister) { r.ClusterAddresses = []string{"node:0"} }), "cluster_register.cluster_addresses[0]: \"node:0\" has port \"0\""},
		{"address with named port", register(func(r *ClusterRegister) { r.ClusterAddresses = []string{"node:https"} }), "cluster_register.cluster_addresses[0]: \"node:https\" has port \"https\""},
		{"address with port too large", register(func(r *ClusterRegister) { r.ClusterAddresses = []string{"node:65536"} }), "cluster_register.cluster_addresses[0]: \"node:65536\" has port"},

		{"network without mode", func() *NodeParameters {
			p := validBootstrap()
			p.Network = &NetworkConfig{}
			return p
		}(), "network: neither dhcp nor static is set"},
		{"static without addresses", static(func(s *NetworkConfig_StaticMode) { s.Addresses = nil }), "network.static.addresses: must list at least one"},
		{"static address without prefix", static(func(s *NetworkConfig_StaticMode) { s.Addresses = []string{"192.0.2.10"} }), "network.static.addresses[0]: want an address with prefix length"},
		{"static address unspecified", static(func(s *NetworkConfig_StaticMode) { s.Addresses = []string{"192.0.2.10/24", "::/0"} }), "network.static.addresses[1]: :: is the unspecified address"},
		{"static address loopback", static(func(s *NetworkConfig_StaticMode) { s.Addresses = []string{"127.0.0.2/8"} }), "network.static.addresses[0]: 127.0.0.2 is a loopback address"},
		{"bad hardware address", static(func(s *NetworkConfig_StaticMode) { s.HardwareAddress = "52:54:00" }), "network.static.hardware_address:"},
		{"hardware address not Ethernet", static(func(s *NetworkConfig_StaticMode) { s.HardwareAddress = "00:00:00:00:fe:80:00:00" }), "network.static.hardware_address: \"00:00:00:00:fe:80:00:00\" is not an Ethernet"},
		{"gateway not an address", static(func(s *NetworkConfig_StaticMode) { s.Gateways = []string{"router"} }), "network.static.gateways[0]: want an IP address"},
		{"gateway with zone", static(func(s *NetworkConfig_StaticMode) { s.Gateways = []string{"fe80::1%eth0"} }), "network.static.gateways[0]: \"fe80::1%eth0\" has a zone"},
		{"two IPv4 gateways", static(func(s *NetworkConfig_StaticMode) { s.Gateways = []string{"192.0.2.1", "fe80::1", "192.0.2.2"} }), "network.static.gateways[2]: 192.0.2.2 is a second gateway of its address family"},
		{"multicast nameserver", static(func(s *NetworkConfig_StaticMode) { s.Nameservers = []string{"192.0.2.53", "224.0.0.251"} }), "network.static.nameservers[1]: 224.0.0.251 is a multicast address"},
		{"nameserver with port", static(func(s *NetworkConfig_StaticMode) { s.Nameservers = []string{"192.0.2.53:53"} }), "network.static.nameservers[0]: want an IP address"},
		// Rules that only the node used to apply (it refused what the API had accepted): the API
		// checks with the node's own validator now (osbase/ipconfig).
		{"gateway outside the link's subnets", static(func(s *NetworkConfig_StaticMode) { s.Gateways = []string{"198.51.100.1"} }), "network.static.gateways[0]: 198.51.100.1 is in none of the link's subnets"},
		{"broadcast address", static(func(s *NetworkConfig_StaticMode) { s.Addresses = []string{"192.0.2.255/24"} }), "network.static.addresses[0]: 192.0.2.255 is the broadcast address of 192.0.2.0/24"},
		{"link-local address", static(func(s *NetworkConfig_StaticMode) { s.Addresses = []string{"192.0.2.10/24", "fe80::10/64"} }), "network.static.addresses[1]: fe80::10 is link-local"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := ValidateNodeParameters(c.params)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("valid parameters rejected: %v", err)
			case c.wantErr != "" && err == nil:
				t.Fatalf("invalid parameters accepted; want error starting %q", c.wantErr)
			case c.wantErr != "" && !strings.HasPrefix(err.Error(), c.wantErr):
				t.Fatalf("error %q\ndoes not start with %q", err, c.wantErr)
			}
		})
	}
}
