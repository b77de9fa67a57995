package svcproxy

import (
	"net/netip"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/client-go/kubernetes/fake"
)

func ep(addr string, port uint16) Endpoint {
	return Endpoint{Addr: netip.MustParseAddr(addr), Port: port}
}

func TestDesired(t *testing.T) {
	v4, v6 := discoveryv1.AddressTypeIPv4, discoveryv1.AddressTypeIPv6
	tcp, udp := corev1.ProtocolTCP, corev1.ProtocolUDP
	httpPort := []discoveryv1.EndpointPort{slicePortOf("http", tcp, 8080)}
	web := func() *corev1.Service { return service("web", "10.96.0.10", svcPort("http", tcp, 80, "http")) }
	want := func(eps ...Endpoint) []ServicePort {
		return []ServicePort{{Name: "default/web:http", ClusterIP: netip.MustParseAddr("10.96.0.10"), Protocol: ProtocolTCP, Port: 80, Endpoints: eps}}
	}

	for _, tc := range []struct {
		name     string
		services []*corev1.Service
		slices   []*discoveryv1.EndpointSlice
		want     []ServicePort
	}{
		{
			name:     "ready endpoints, sorted",
			services: []*corev1.Service{web()},
			slices:   []*discoveryv1.EndpointSlice{endpointSlice("a", "web", v4, httpPort, ready("10.0.0.2"), ready("10.0.0.1"))},
			want:     want(ep("10.0.0.1", 8080), ep("10.0.0.2", 8080)),
		},
		{
			name:     "not ready endpoints are left out",
			services: []*corev1.Service{web()},
			slices:   []*discoveryv1.EndpointSlice{endpointSlice("a", "web", v4, httpPort, ready("10.0.0.1"), notReady("10.0.0.2"), terminatingServing("10.0.0.3"))},
			want:     want(ep("10.0.0.1", 8080)),
		},
		{
			name:     "serving terminating endpoints when none is ready",
			services: []*corev1.Service{web()},
			slices:   []*discoveryv1.EndpointSlice{endpointSlice("a", "web", v4, httpPort, notReady("10.0.0.2"), terminatingServing("10.0.0.3"))},
			want:     want(ep("10.0.0.3", 8080)),
		},
		{
			name:     "nil conditions mean ready",
			services: []*corev1.Service{web()},
			slices:   []*discoveryv1.EndpointSlice{endpointSlice("a", "web", v4, httpPort, discoveryv1.Endpoint{Addresses: []string{"10.0.0.1"}})},
			want:     want(ep("10.0.0.1", 8080)),
		},
		{
			name:     "no endpoints: a port to reject",
			services: []*corev1.Service{web()},
			slices:   []*discoveryv1.EndpointSlice{endpointSlice("a", "web", v4, httpPort, notReady("10.0.0.1"))},
			want:     want(),
		},
		{
			name:     "no slices at all",
			services: []*corev1.Service{web()},
			want:     want(),
		},
		{
			name:     "several slices, named target port resolved per slice, duplicates merged",
			services: []*corev1.Service{web()},
			slices: []*discoveryv1.EndpointSlice{
				endpointSlice("a", "web", v4, httpPort, ready("10.0.0.1")),
				endpointSlice("b", "web", v4, []discoveryv1.EndpointPort{slicePortOf("http", tcp, 9090)}, ready("10.0.0.2")),
				endpointSlice("c", "web", v4, httpPort, ready("10.0.0.1")),
			},
			want: want(ep("10.0.0.1", 8080), ep("10.0.0.2", 9090)),
		},
		{
			name:     "slices of other services, families and port names are ignored",
			services: []*corev1.Service{web()},
			slices: []*discoveryv1.EndpointSlice{
				endpointSlice("a", "other", v4, httpPort, ready("10.0.0.1")),
				endpointSlice("b", "web", v6, httpPort, ready("fd00::1")),
				endpointSlice("c", "web", v4, []discoveryv1.EndpointPort{slicePortOf("metrics", tcp, 9100)}, ready("10.0.0.3")),
				endpointSlice("d", "web", v4, []discoveryv1.EndpointPort{slicePortOf("http", udp, 8080)}, ready("10.0.0.4")),
			},
			want: want(),
		},
		{
			name: "headless, ExternalName, other proxy's and address-less services are ignored",
			services: []*corev1.Service{
				service("headless", "None", svcPort("http", tcp, 80, "http")),
				func() *corev1.Service {
					s := service("ext", "", svcPort("http", tcp, 80, "http"))
					s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "example.com"
					return s
				}(),
				func() *corev1.Service {
					s := web()
					s.Labels = map[string]string{serviceProxyNameLabel: "other"}
					return s
				}(),
				service("pending", "", svcPort("http", tcp, 80, "http")),
				service("portless", "10.96.0.11"),
			},
			slices: []*discoveryv1.EndpointSlice{endpointSlice("a", "headless", v4, httpPort, ready("10.0.0.1"))},
		},
		{
			name: "multiple ports and protocols, NodePort, sorted",
			services: []*corev1.Service{func() *corev1.Service {
				s := service("dns", "10.96.0.2", svcPort("dns-udp", udp, 53, "dns"), svcPort("dns-tcp", tcp, 53, "dns"))
				s.Spec.Type = corev1.ServiceTypeNodePort
				s.Spec.Ports[0].NodePort = 30053
				return s
			}()},
			slices: []*discoveryv1.EndpointSlice{endpointSlice("a", "dns", v4,
				[]discoveryv1.EndpointPort{slicePortOf("dns-udp", udp, 5353), slicePortOf("dns-tcp", tcp, 5354)}, ready("10.0.0.1"))},
			want: []ServicePort{
				{Name: "default/dns:dns-tcp", ClusterIP: netip.MustParseAddr("10.96.0.2"), Protocol: ProtocolTCP, Port: 53, Endpoints: []Endpoint{ep("10.0.0.1", 5354)}},
				{Name: "default/dns:dns-udp", ClusterIP: netip.MustParseAddr("10.96.0.2"), Protocol: ProtocolUDP, Port: 53, NodePort: 30053, Endpoints: []Endpoint{ep("10.0.0.1", 5353)}},
			},
		},
		{
			name: "dual stack: one port per ClusterIP, endpoints of its family",
			services: []*corev1.Service{func() *corev1.Service {
				s := web()
				s.Spec.ClusterIPs = []string{"10.96.0.10", "fd00:96::10"}
				return s
			}()},
			slices: []*discoveryv1.EndpointSlice{
				endpointSlice("a", "web", v4, httpPort, ready("10.0.0.1")),
				endpointSlice("b", "web", v6, httpPort, ready("fd00::1")),
			},
			want: []ServicePort{
				want(ep("10.0.0.1", 8080))[0],
				{Name: "default/web:http", ClusterIP: netip.MustParseAddr("fd00:96::10"), Protocol: ProtocolTCP, Port: 80, Endpoints: []Endpoint{ep("fd00::1", 8080)}},
			},
		},
		{
			name: "odd objects: nil entries, nil ports, bad addresses and numbers",
			services: []*corev1.Service{nil, func() *corev1.Service {
				s := web()
				s.Spec.Ports = append(s.Spec.Ports, svcPort("bad", tcp, 70000, "x"), svcPort("sctp", "ICMP", 1, "x"))
				return s
			}()},
			slices: []*discoveryv1.EndpointSlice{
				nil,
				endpointSlice("a", "web", v4, []discoveryv1.EndpointPort{{Name: ptr("http")}}, ready("10.0.0.9")),
				endpointSlice("b", "web", v4, []discoveryv1.EndpointPort{slicePortOf("http", tcp, -1)}, ready("10.0.0.8")),
				endpointSlice("c", "web", v4, nil, ready("10.0.0.7")),
				endpointSlice("d", "web", v4, httpPort, ready("not-an-ip"), discoveryv1.Endpoint{}, ready("fd00::1"), ready("10.0.0.1")),
				{AddressType: v4, Ports: httpPort},
			},
			want: want(ep("10.0.0.1", 8080)),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := Desired(tc.services, tc.slices)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Desired:\n got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestNewChecksConfig(t *testing.T) {
	if _, err := New(Config{}); err == nil {
		t.Error("New without a client: no error")
	}
	if _, err := New(Config{Client: fake.NewClientset(), ClusterCIDRs: []netip.Prefix{{}}}); err == nil {
		t.Error("New with an invalid cluster CIDR: no error")
	}
	p, err := New(Config{Client: fake.NewClientset()})
	if err != nil {
		t.Fatalf("New with a client: %v", err)
	}
	if p.cfg.MinSyncInterval != 200*time.Millisecond {
		t.Errorf("default MinSyncInterval is %v, want 200ms", p.cfg.MinSyncInterval)
	}
}
