package svcproxy

import (
	"net/netip"
	"testing"

	"github.com/google/nftables"

	"metropolis.dev/metropolis/node/kubernetes/internal/netnstest"
	"metropolis.dev/metropolis/node/kubernetes/internal/nftconn"
)

// TestApplyLarge checks that sets bigger than one netlink message (the
// services map, a service's endpoint map) arrive whole, and that a second
// Apply replaces rather than adds.
func TestApplyLarge(t *testing.T) {
	netnstest.RequireRoot(t)
	ns := netnstest.New(t)
	conn, err := nftconn.Open(int(ns))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.CloseLasting()

	ports := manyPorts(700)
	for i := 0; i < 600; i++ {
		ports[0].Endpoints = append(ports[0].Endpoints, Endpoint{Addr: netip.AddrFrom4([4]byte{10, 250, byte(i >> 8), byte(i)}), Port: 80})
	}
	table := &nftables.Table{Name: TableName, Family: nftables.TableFamilyIPv4}
	for _, tc := range []struct {
		ports              []ServicePort
		services, firstEPs int
	}{
		{ports, 700, 602},
		{ports[:300], 300, 602},
	} {
		if err := Apply(conn, tc.ports, nil); err != nil {
			t.Fatalf("Apply of %d service ports: %v", len(tc.ports), err)
		}
		for set, want := range map[string]int{"services": tc.services, "endpoints-0": tc.firstEPs} {
			s, err := conn.GetSetByName(table, set)
			if err != nil {
				t.Fatalf("set %s: %v", set, err)
			}
			elems, err := conn.GetSetElements(s)
			if err != nil {
				t.Fatalf("elements of %s: %v", set, err)
			}
			if len(elems) != want {
				t.Errorf("after Apply of %d service ports: set %s has %d elements, want %d", len(tc.ports), set, len(elems), want)
			}
		}
	}
}
