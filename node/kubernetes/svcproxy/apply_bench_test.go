package svcproxy

import (
	"fmt"
	"net/netip"
	"strconv"
	"testing"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"

	"metropolis.dev/metropolis/node/kubernetes/internal/netnstest"
	"metropolis.dev/metropolis/node/kubernetes/internal/nftconn"
)

// manyPorts is n service ports with two endpoints each.
func manyPorts(n int) []ServicePort {
	ports := make([]ServicePort, n)
	for i := range ports {
		ports[i] = ServicePort{
			Name:      "bench",
			ClusterIP: netip.AddrFrom4([4]byte{10, 96, byte(i >> 8), byte(i)}),
			Protocol:  ProtocolTCP,
			Port:      80,
			Endpoints: []Endpoint{
				{Addr: netip.AddrFrom4([4]byte{10, 244, byte(i >> 8), byte(i)}), Port: 8080},
				{Addr: netip.AddrFrom4([4]byte{10, 245, byte(i >> 8), byte(i)}), Port: 8080},
			},
		}
	}
	return ports
}

// BenchmarkApply measures one full sync (the whole table replaced) of N
// services with two endpoints each, in a fresh namespace.
func BenchmarkApply(b *testing.B) {
	netnstest.RequireRoot(b)
	for _, n := range []int{100, 1000, 5000} {
		b.Run(strconv.Itoa(n)+"x2", func(b *testing.B) {
			ns := netnstest.New(b)
			conn, err := nftconn.Open(int(ns))
			if err != nil {
				b.Fatal(err)
			}
			defer conn.CloseLasting()
			ports := manyPorts(n)
			cidrs := []netip.Prefix{netip.MustParsePrefix("10.244.0.0/15")}
			for b.Loop() {
				if err := Apply(conn, ports, cidrs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDesired measures the pure conversion of 1000 Services with one
// slice of two endpoints each.
func BenchmarkDesired(b *testing.B) {
	var services []*corev1.Service
	var eps []*discoveryv1.EndpointSlice
	ports := []discoveryv1.EndpointPort{slicePortOf("http", corev1.ProtocolTCP, 8080)}
	for i := 0; i < 1000; i++ {
		name := "svc" + strconv.Itoa(i)
		services = append(services, service(name, fmt.Sprintf("10.96.%d.%d", i>>8, i&255), svcPort("http", corev1.ProtocolTCP, 80, "http")))
		eps = append(eps, endpointSlice(name, name, discoveryv1.AddressTypeIPv4, ports,
			ready(fmt.Sprintf("10.244.%d.%d", i>>8, i&255)), ready(fmt.Sprintf("10.245.%d.%d", i>>8, i&255))))
	}
	for b.Loop() {
		if got := Desired(services, eps); len(got) != 1000 {
			b.Fatalf("got %d service ports, want 1000", len(got))
		}
	}
}
