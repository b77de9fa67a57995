package qemu

import (
	"net/netip"
	"strings"
	"testing"

	apb "metropolis.dev/metropolis/api/v1"
)

func TestNodeMAC(t *testing.T) {
	for _, tc := range []struct {
		cluster string
		node    int
		want    string
	}{
		// The cluster's 12 bits (0x708 for "local"), then the node's 12 bits.
		{"local", 1, "52:54:00:70:80:01"},
		{"local", 2, "52:54:00:70:80:02"},
		{"local", 300, "52:54:00:70:81:2c"},
		{"local", 4095, "52:54:00:70:8f:ff"},
	} {
		if got := nodeMAC(tc.cluster, tc.node).String(); got != tc.want {
			t.Errorf("nodeMAC(%q, %d) = %s, want %s", tc.cluster, tc.node, got, tc.want)
		}
	}
	seen := map[string]int{}
	for i := 1; i <= maxNodes; i++ {
		mac := nodeMAC("local", i)
		if !strings.HasPrefix(mac.String(), "52:54:00:") {
			t.Fatalf("node %d: %s lacks QEMU's prefix 52:54:00", i, mac)
		}
		if j, dup := seen[mac.String()]; dup {
			t.Fatalf("nodes %d and %d share MAC %s", j, i, mac)
		}
		seen[mac.String()] = i
	}
	// Every card of every node has an address of its own, card 1's the node's.
	for i := 1; i <= maxNodes; i++ {
		if got, want := cardMAC("local", i, 1).String(), nodeMAC("local", i).String(); got != want {
			t.Fatalf("node %d: card 1 has %s, want the node's %s", i, got, want)
		}
		for k := 2; k <= maxCards; k++ {
			mac := cardMAC("local", i, k)
			if j, dup := seen[mac.String()]; dup {
				t.Fatalf("node %d card %d and node %d share MAC %s", i, k, j, mac)
			}
			seen[mac.String()] = i
		}
	}
	if nodeMAC("local", 1).String() == nodeMAC("other", 1).String() {
		t.Errorf("clusters local and other give node 1 the same MAC")
	}
}

func TestStaticNetwork(t *testing.T) {
	subnet := netip.MustParsePrefix("10.77.0.0/24")
	gw := netip.MustParseAddr("10.77.0.1")
	for _, tc := range []struct {
		name    string
		addr    string
		wantErr string
	}{
		{"in subnet", "10.77.0.3", ""},
		{"outside subnet", "10.78.0.3", "must lie in subnet 10.77.0.0/24"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := staticNetwork(nodeMAC("t", 2), netip.MustParseAddr(tc.addr), subnet, gw)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			s := cfg.GetStatic()
			if s.HardwareAddress != nodeMAC("t", 2).String() || strings.Join(s.Addresses, ",") != tc.addr+"/24" || strings.Join(s.Gateways, ",") != "10.77.0.1" {
				t.Errorf("got %v", s)
			}
			// What the launcher writes must pass the node's own validation.
			p := &apb.NodeParameters{Network: cfg, Cluster: &apb.NodeParameters_ClusterBootstrap{
				ClusterBootstrap: &apb.ClusterBootstrap{OwnerPublicKey: make([]byte, 32)},
			}}
			if err := apb.ValidateNodeParameters(p); err != nil {
				t.Errorf("parameters with this network are invalid: %v", err)
			}
		})
	}
}

func TestCheckCards(t *testing.T) {
	for _, tc := range []struct {
		cards   int
		name    string
		nodes   int
		wantErr string
	}{
		{0, "kworkers", 999, ""},
		{1, "kworkers", 999, ""},
		{2, "kworkers", 99, ""},
		{4, "local", 999, ""},
		{2, "kworkers", 100, "tap names like mp-kworkers-100b, longer than Linux's 15 bytes"},
		{5, "local", 1, "want 1 to 4 network cards per VM, got 5"},
		{-1, "local", 1, "got -1"},
	} {
		err := checkCards(tc.cards, tc.name, tc.nodes)
		if (tc.wantErr == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.wantErr)) {
			t.Errorf("checkCards(%d, %q, %d) = %v, want %q", tc.cards, tc.name, tc.nodes, err, tc.wantErr)
		}
	}
}
