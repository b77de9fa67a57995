package apb

import (
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
)

func validNodeConfiguration() *NodeConfiguration {
	return &NodeConfiguration{
		NtpServers:  []string{"ntp.example.com", "192.0.2.123:123", "[2001:db8::123]:1123"},
		Nameservers: []string{"192.0.2.53", "2001:db8::53"},
		Kubernetes: &KubernetesNodeConfiguration{
			Labels: map[string]string{"rack": "r12", "node-role.kubernetes.io/storage": "", "example.com/zone": "a"},
			Taints: []*Taint{
				{Key: "dedicated", Value: "db", Effect: "NoSchedule"},
				{Key: "dedicated", Value: "db", Effect: "NoExecute"},
			},
		},
		Kubelet: &KubeletConfiguration{
			SystemReserved: map[string]string{"cpu": "500m", "memory": "1Gi", "pid": "1000"},
			EvictionHard:   map[string]string{"memory.available": "100Mi", "nodefs.available": "5%"},
		},
		Network: &NodeNetwork{
			Uplink: &NetworkConfig{Mode: &NetworkConfig_Static{Static: &NetworkConfig_StaticMode{
				Addresses: []string{"192.0.2.10/24"}, Gateways: []string{"192.0.2.1"},
			}}},
			Mtu:    1500,
			Vlans:  []*VlanLink{{Id: 100, Addresses: []string{"10.100.0.5/24"}}},
			Routes: []*NetworkRoute{{Destination: "198.51.100.0/24", Gateway: "10.100.0.1"}},
			Bond:   &NetworkBond{Members: []string{"52:54:00:12:34:56", "52:54:00:12:34:57"}},
		},
	}
}

func TestValidateNodeConfiguration(t *testing.T) {
	if err := ValidateNodeConfiguration(validNodeConfiguration()); err != nil {
		t.Fatalf("valid configuration refused: %v", err)
	}
	if err := ValidateNodeConfiguration(nil); err != nil {
		t.Fatalf("absent configuration refused: %v", err)
	}
	for _, tc := range []struct {
		name   string
		modify func(c *NodeConfiguration)
		want   string
	}{
		{"NTP server not a host", func(c *NodeConfiguration) { c.NtpServers[0] = "not a host" }, "ntp_servers[0]: \"not a host\": neither an IP address nor a DNS name"},
		{"NTP port out of range", func(c *NodeConfiguration) { c.NtpServers[1] = "192.0.2.1:70000" }, "ntp_servers[1]: \"192.0.2.1:70000\": port"},
		{"NTP server twice", func(c *NodeConfiguration) { c.NtpServers[2] = c.NtpServers[0] }, "ntp_servers[2]: \"ntp.example.com\" is listed twice"},
		{"NTP multicast", func(c *NodeConfiguration) { c.NtpServers[1] = "224.0.1.1" }, "ntp_servers[1]: \"224.0.1.1\": not an address a server can have"},
		{"too many NTP servers", func(c *NodeConfiguration) { c.NtpServers = strings.Split("a b c d e f g h i", " ") }, "ntp_servers: 9 servers, at most 8"},
		{"nameserver by name", func(c *NodeConfiguration) { c.Nameservers[1] = "dns.example.com" }, "nameservers[1]: \"dns.example.com\" is not an IP address"},
		{"four nameservers", func(c *NodeConfiguration) {
			c.Nameservers = []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"}
		}, "nameservers: 4 servers, at most 3"},
		{"unspecified nameserver", func(c *NodeConfiguration) { c.Nameservers[0] = "0.0.0.0" }, "nameservers[0]: 0.0.0.0 is not an address"},
		{"label key", func(c *NodeConfiguration) { c.Kubernetes.Labels["-bad"] = "x" }, "kubernetes.labels: key \"-bad\""},
		{"label value", func(c *NodeConfiguration) { c.Kubernetes.Labels["rack"] = "a b" }, "kubernetes.labels[\"rack\"]: value \"a b\""},
		{"system label", func(c *NodeConfiguration) { c.Kubernetes.Labels["kubernetes.io/hostname"] = "x" }, "the prefix kubernetes.io belongs to the system"},
		{"system label subdomain", func(c *NodeConfiguration) { c.Kubernetes.Labels["node.metropolis.dev/id"] = "x" }, "the prefix metropolis.dev belongs to the system"},
		{"taint effect", func(c *NodeConfiguration) { c.Kubernetes.Taints[1].Effect = "NoRun" }, "kubernetes.taints[1].effect: \"NoRun\"; want NoSchedule"},
		{"taint key", func(c *NodeConfiguration) { c.Kubernetes.Taints[0].Key = "" }, "kubernetes.taints[0].key: \"\""},
		{"taint twice", func(c *NodeConfiguration) { c.Kubernetes.Taints[1].Effect = "NoSchedule" }, "kubernetes.taints[1]: same key and effect as taints[0]"},
		{"reserved resource", func(c *NodeConfiguration) { c.Kubelet.SystemReserved["gpu"] = "1" }, "kubelet.system_reserved: resource \"gpu\"; want one of cpu"},
		{"reserved quantity", func(c *NodeConfiguration) { c.Kubelet.SystemReserved["memory"] = "lots" }, "kubelet.system_reserved[memory]: \"lots\" is not a quantity"},
		{"negative reservation", func(c *NodeConfiguration) { c.Kubelet.SystemReserved["cpu"] = "-1" }, "kubelet.system_reserved[cpu]: \"-1\""},
		{"eviction signal", func(c *NodeConfiguration) { c.Kubelet.EvictionHard["memory.free"] = "1Gi" }, "kubelet.eviction_hard: signal \"memory.free\""},
		{"eviction percentage", func(c *NodeConfiguration) { c.Kubelet.EvictionHard["nodefs.available"] = "120%" }, "kubelet.eviction_hard[nodefs.available]: \"120%\" is not a percentage"},
		{"uplink without mode", func(c *NodeConfiguration) { c.Network.Uplink.Mode = nil }, "network.uplink: neither dhcp nor static is set"},
		{"uplink gateway off the link", func(c *NodeConfiguration) { c.Network.Uplink.GetStatic().Gateways[0] = "198.51.100.1" }, "network.uplink.static.gateways[0]: 198.51.100.1 is in none of the link's subnets"},
		{"MTU", func(c *NodeConfiguration) { c.Network.Mtu = 70000 }, "network.mtu: 70000 is outside 576 to 9216"},
		{"VLAN ID", func(c *NodeConfiguration) { c.Network.Vlans[0].Id = 5000 }, "network.vlans[0].id: 5000 is outside 1 to 4094"},
		{"bond member", func(c *NodeConfiguration) { c.Network.Bond.Members[1] = "eth1" }, "network.bond.members[1]: address eth1: invalid MAC address"},
		{"bond mode", func(c *NodeConfiguration) { c.Network.Bond.Mode = "lacp" }, `network.bond.mode: "lacp" is none of`},
		{"uplink card outside the bond", func(c *NodeConfiguration) { c.Network.Uplink.GetStatic().HardwareAddress = "52:54:00:12:34:58" },
			"network.uplink.static.hardware_address: 52:54:00:12:34:58 is not one of bond.members"},
		{"route gateway off every link", func(c *NodeConfiguration) { c.Network.Routes[0].Gateway = "172.16.0.1" }, "network.routes[0].gateway: 172.16.0.1 is in none of the link's subnets (192.0.2.10/24, 10.100.0.5/24)"},
		{"long NTP server echoed briefly", func(c *NodeConfiguration) { c.NtpServers[0] = strings.Repeat("x", 1<<20) }, "ntp_servers[0]: 1048576 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validNodeConfiguration()
			tc.modify(c)
			err := ValidateNodeConfiguration(c)
			if err == nil {
				t.Fatalf("accepted, want an error saying %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if len(err.Error()) > 600 {
				t.Errorf("error of %d bytes echoes too much", len(err.Error()))
			}
		})
	}
}

func TestValidateClusterConfiguration(t *testing.T) {
	valid := func() *ClusterConfiguration {
		return &ClusterConfiguration{
			NodeDefaults: &NodeDefaults{
				NtpServers:  []string{"pool.ntp.org"},
				Nameservers: []string{"192.0.2.53"},
				KubernetesRules: []*KubernetesNodeRule{{
					NodeSelector: map[string]string{"pool": "gpu"},
					Kubernetes:   &KubernetesNodeConfiguration{Taints: []*Taint{{Key: "gpu", Effect: "NoSchedule"}}},
				}},
			},
			Attestation: &ClusterAttestation{Required: true},
		}
	}
	if err := ValidateClusterConfiguration(valid()); err != nil {
		t.Fatalf("valid configuration refused: %v", err)
	}
	for _, tc := range []struct {
		name   string
		modify func(c *ClusterConfiguration)
		want   string
	}{
		{"NTP", func(c *ClusterConfiguration) { c.NodeDefaults.NtpServers[0] = "a..b" }, "node_defaults.ntp_servers[0]: \"a..b\""},
		{"nameserver", func(c *ClusterConfiguration) { c.NodeDefaults.Nameservers[0] = "x" }, "node_defaults.nameservers[0]"},
		{"selector", func(c *ClusterConfiguration) { c.NodeDefaults.KubernetesRules[0].NodeSelector["a b"] = "" }, "node_defaults.kubernetes_rules[0].node_selector: key \"a b\""},
		{"empty rule", func(c *ClusterConfiguration) { c.NodeDefaults.KubernetesRules[0].Kubernetes = nil }, "node_defaults.kubernetes_rules[0].kubernetes: a rule must give labels or taints"},
		{"rule taint", func(c *ClusterConfiguration) {
			c.NodeDefaults.KubernetesRules[0].Kubernetes.Taints[0].Effect = ""
		}, "node_defaults.kubernetes_rules[0].kubernetes.taints[0].effect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := valid()
			tc.modify(c)
			err := ValidateClusterConfiguration(c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
}

func TestEffectiveNodeConfiguration(t *testing.T) {
	yes, no := true, false
	cluster := &ClusterConfiguration{NodeDefaults: &NodeDefaults{
		NtpServers:  []string{"pool.ntp.org"},
		Nameservers: []string{"192.0.2.53"},
		KubernetesRules: []*KubernetesNodeRule{
			{Kubernetes: &KubernetesNodeConfiguration{Labels: map[string]string{"site": "ams", "tier": "any"}}},
			{NodeSelector: map[string]string{"pool": "gpu"}, Kubernetes: &KubernetesNodeConfiguration{
				Labels: map[string]string{"tier": "gpu"},
				Taints: []*Taint{{Key: "gpu", Value: "a", Effect: "NoSchedule"}},
			}},
			{ConsensusMember: &yes, Kubernetes: &KubernetesNodeConfiguration{Taints: []*Taint{{Key: "etcd", Effect: "PreferNoSchedule"}}}},
			{ConsensusMember: &no, Kubernetes: &KubernetesNodeConfiguration{Labels: map[string]string{"plain": "yes"}}},
		},
	}}
	for _, tc := range []struct {
		name  string
		node  *NodeConfiguration
		facts NodeFacts
		want  *NodeConfiguration
	}{
		{
			name:  "nothing of its own: the defaults and the rules that select it",
			facts: NodeFacts{Labels: map[string]string{"pool": "gpu"}},
			want: &NodeConfiguration{NtpServers: []string{"pool.ntp.org"}, Nameservers: []string{"192.0.2.53"}, Kubernetes: &KubernetesNodeConfiguration{
				Labels: map[string]string{"site": "ams", "tier": "gpu", "plain": "yes"},
				Taints: []*Taint{{Key: "gpu", Value: "a", Effect: "NoSchedule"}},
			}},
		},
		{
			name: "its own servers and labels win",
			node: &NodeConfiguration{NtpServers: []string{"192.0.2.123"}, Kubernetes: &KubernetesNodeConfiguration{
				Labels: map[string]string{"tier": "own"},
				Taints: []*Taint{{Key: "gpu", Value: "b", Effect: "NoSchedule"}},
			}},
			facts: NodeFacts{Labels: map[string]string{"pool": "gpu"}, ConsensusMember: true},
			want: &NodeConfiguration{NtpServers: []string{"192.0.2.123"}, Nameservers: []string{"192.0.2.53"}, Kubernetes: &KubernetesNodeConfiguration{
				Labels: map[string]string{"site": "ams", "tier": "own"},
				Taints: []*Taint{{Key: "etcd", Effect: "PreferNoSchedule"}, {Key: "gpu", Value: "b", Effect: "NoSchedule"}},
			}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := proto.Clone(cluster)
			got := EffectiveNodeConfiguration(tc.node, cluster, tc.facts)
			if !proto.Equal(got, tc.want) {
				t.Errorf("got %v\nwant %v", got, tc.want)
			}
			if !proto.Equal(before, cluster) {
				t.Error("the cluster configuration was changed")
			}
		})
	}
	if got := EffectiveNodeConfiguration(nil, nil, NodeFacts{}); !proto.Equal(got, &NodeConfiguration{}) {
		t.Errorf("no configuration anywhere: got %v, want an empty one", got)
	}
}

func TestApplyClusterConfigurationMask(t *testing.T) {
	cur := &ClusterConfiguration{NodeDefaults: &NodeDefaults{NtpServers: []string{"a"}, Nameservers: []string{"192.0.2.1"}}}
	next := &ClusterConfiguration{NodeDefaults: &NodeDefaults{NtpServers: []string{"b"}}, Attestation: &ClusterAttestation{Required: true}}

	got, err := ApplyClusterConfigurationMask(cur, next, []string{"node_defaults.ntp_servers"})
	if err != nil {
		t.Fatal(err)
	}
	want := &ClusterConfiguration{NodeDefaults: &NodeDefaults{NtpServers: []string{"b"}, Nameservers: []string{"192.0.2.1"}}}
	if !proto.Equal(got, want) {
		t.Errorf("ntp_servers only: got %v, want %v", got, want)
	}
	got, err = ApplyClusterConfigurationMask(cur, next, []string{"node_defaults", "attestation.required"})
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(got, next) {
		t.Errorf("whole defaults and attestation: got %v, want %v", got, next)
	}
	if _, err := ApplyClusterConfigurationMask(cur, next, nil); err == nil || !strings.Contains(err.Error(), "update_mask: names no field") {
		t.Errorf("empty mask: got %v", err)
	}
	if _, err := ApplyClusterConfigurationMask(cur, next, []string{"node_defaults.ntp_servers", "owner"}); err == nil || !strings.Contains(err.Error(), `update_mask.paths[1]: "owner"`) {
		t.Errorf("unknown path: got %v", err)
	}
}

// FuzzValidateNodeConfiguration feeds arbitrary values to the validator: it must not panic,
// and its errors name a field and stay short.
func FuzzValidateNodeConfiguration(f *testing.F) {
	f.Add("ntp.example.com", "192.0.2.53", "rack", "r1", "dedicated", "NoSchedule", "memory", "1Gi", "memory.available", "5%")
	f.Add("[::1]:123", "::1", "a/b", "", "x", "NoExecute", "cpu", "-1", "nodefs.available", "101%")
	f.Fuzz(func(t *testing.T, ntp, ns, labelKey, labelValue, taintKey, effect, resourceName, quantity, signal, threshold string) {
		c := &NodeConfiguration{
			NtpServers:  []string{ntp},
			Nameservers: []string{ns},
			Kubernetes: &KubernetesNodeConfiguration{
				Labels: map[string]string{labelKey: labelValue},
				Taints: []*Taint{{Key: taintKey, Value: labelValue, Effect: effect}},
			},
			Kubelet: &KubeletConfiguration{
				SystemReserved: map[string]string{resourceName: quantity},
				EvictionHard:   map[string]string{signal: threshold},
			},
		}
		err := ValidateNodeConfiguration(c)
		if err == nil {
			return
		}
		msg := err.Error()
		if len(msg) > 1200 {
			t.Fatalf("error of %d bytes: %.200q...", len(msg), msg)
		}
		if !strings.HasPrefix(msg, "ntp_servers") && !strings.HasPrefix(msg, "nameservers") && !strings.HasPrefix(msg, "kubernetes.") && !strings.HasPrefix(msg, "kubelet.") {
			t.Fatalf("error %.200q names no field", msg)
		}
	})
}
