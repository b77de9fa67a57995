package netpol

import (
	"reflect"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
)

func TestDesired(t *testing.T) {
	web := map[string]string{"app": "web"}
	client := map[string]string{"role": "client"}
	hostNet := pod("default", "host", node, "192.168.1.10", web)
	hostNet.Spec.HostNetwork = true
	done := pod("default", "done", node, "10.112.0.9", client)
	done.Status.Phase = corev1.PodSucceeded
	pods := []*corev1.Pod{
		pod("default", "web", node, "10.112.0.2", web, containerPort("http", corev1.ProtocolTCP, 8080)),
		pod("default", "client-1", "node-b", "10.112.1.5", client),
		pod("default", "client-2", "node-b", "10.112.1.6", client),
		pod("other", "client-3", "node-b", "10.112.1.7", client),
		pod("team", "client-4", "node-b", "10.112.1.9", client, containerPort("http", corev1.ProtocolTCP, 9090)),
		hostNet, done,
	}
	namespaces := []*corev1.Namespace{namespace("default", nil), namespace("other", nil), namespace("team", map[string]string{"team": "a"})}
	webOpen := Rules{Pod: "default/web", IP: ip("10.112.0.2")}
	webIsolated := func(in, out bool, ingress, egress []Allow) []Rules {
		r := webOpen
		r.IngressIsolated, r.EgressIsolated, r.Ingress, r.Egress = in, out, ingress, egress
		return []Rules{r}
	}
	ingress, egress := networkingv1.PolicyTypeIngress, networkingv1.PolicyTypeEgress

	for _, tc := range []struct {
		name     string
		policies []*networkingv1.NetworkPolicy
		extra    []Peer
		want     []Rules
		problem  string
	}{
		{name: "no policy: local pods open, remote, host-network and finished pods absent", want: []Rules{webOpen}},
		{
			name:     "deny all ingress",
			policies: []*networkingv1.NetworkPolicy{netPolicy("default", "deny", nil, ingress)},
			want:     webIsolated(true, false, nil, nil),
		},
		{
			name:     "a policy of another namespace does not apply",
			policies: []*networkingv1.NetworkPolicy{netPolicy("other", "deny", nil, ingress, egress)},
			want:     []Rules{webOpen},
		},
		{
			name:     "a policy whose selector does not match does not apply",
			policies: []*networkingv1.NetworkPolicy{netPolicy("default", "deny", client, ingress)},
			want:     []Rules{webOpen},
		},
		{
			name: "pods of the same namespace on one port; neighbouring addresses merge",
			policies: []*networkingv1.NetworkPolicy{
				withIngress(netPolicy("default", "p", web), peers(podPeer(client)), port(corev1.ProtocolTCP, 80)),
			},
			want: webIsolated(true, false, []Allow{{peerRange("10.112.1.5", "10.112.1.6"), tcp(80, 80)}}, nil),
		},
		{
			name: "namespace selector: all pods of the labelled namespace",
			policies: []*networkingv1.NetworkPolicy{
				withIngress(netPolicy("default", "p", web), peers(nsPeer(map[string]string{"team": "a"}))),
			},
			want: webIsolated(true, false, []Allow{{peerIP("10.112.1.9"), AllPorts}}, nil),
		},
		{
			name: "namespace by its metadata name label, with a pod selector",
			policies: []*networkingv1.NetworkPolicy{
				withIngress(netPolicy("default", "p", web), peers(networkingv1.NetworkPolicyPeer{
					NamespaceSelector: nsPeer(map[string]string{"kubernetes.io/metadata.name": "other"}).NamespaceSelector,
					PodSelector:       podPeer(client).PodSelector,
				})),
			},
			want: webIsolated(true, false, []Allow{{peerIP("10.112.1.7"), AllPorts}}, nil),
		},
		{
			name: "ipBlock with exceptions, a port range",
			policies: []*networkingv1.NetworkPolicy{
				withIngress(netPolicy("default", "p", web), peers(blockPeer("10.0.0.0/8", "10.112.0.0/12", "2001:db8::/32")), portRange(corev1.ProtocolUDP, 5000, 5100)),
			},
			want: webIsolated(true, false, []Allow{
				{peerRange("10.0.0.0", "10.111.255.255"), udp(5000, 5100)},
				{peerRange("10.128.0.0", "10.255.255.255"), udp(5000, 5100)},
			}, nil),
		},
		{
			name: "an IPv6 ipBlock matches nothing",
			policies: []*networkingv1.NetworkPolicy{
				withIngress(netPolicy("default", "p", web), peers(blockPeer("2001:db8::/32"))),
			},
			want: webIsolated(true, false, nil, nil),
		},
		{
			name: "ingress named port: the target's own",
			policies: []*networkingv1.NetworkPolicy{
				withIngress(netPolicy("default", "p", web), nil, namedPort(corev1.ProtocolTCP, "http"), namedPort(corev1.ProtocolUDP, "http")),
			},
			want: webIsolated(true, false, []Allow{{anyAddr, tcp(8080, 8080)}}, nil),
		},
		{
			name: "egress named port: each destination's own; egress rules imply the type",
			policies: []*networkingv1.NetworkPolicy{
				withEgress(netPolicy("default", "p", web), peers(podPeer(client), nsPeer(map[string]string{"team": "a"})), namedPort(corev1.ProtocolTCP, "http")),
			},
			want: webIsolated(true, true, nil, []Allow{{peerIP("10.112.1.9"), tcp(9090, 9090)}}),
		},
		{
			name: "egress: DNS by kube-dns selector reaches the cluster DNS",
			policies: []*networkingv1.NetworkPolicy{
				withEgress(netPolicy("default", "p", nil, egress), peers(networkingv1.NetworkPolicyPeer{
					NamespaceSelector: nsPeer(map[string]string{"kubernetes.io/metadata.name": "kube-system"}).NamespaceSelector,
					PodSelector:       podPeer(map[string]string{"k8s-app": "kube-dns"}).PodSelector,
				}), namedPort(corev1.ProtocolUDP, "dns"), port(corev1.ProtocolTCP, 53)),
			},
			extra: []Peer{ClusterDNSPeer(ip("10.111.0.10"))},
			want: webIsolated(false, true, nil, []Allow{
				{peerIP("10.111.0.10"), tcp(53, 53)},
				{peerIP("10.111.0.10"), udp(53, 53)},
			}),
		},
		{
			name: "two policies add up; an empty peer list is every address",
			policies: []*networkingv1.NetworkPolicy{
				withIngress(netPolicy("default", "a", web), peers(podPeer(client)), port(corev1.ProtocolTCP, 80)),
				withIngress(netPolicy("default", "b", nil), nil, port(corev1.ProtocolTCP, 443)),
			},
			want: webIsolated(true, false, []Allow{
				{peerRange("10.112.1.5", "10.112.1.6"), tcp(80, 80)},
				{anyAddr, tcp(443, 443)},
			}, nil),
		},
		{
			name: "a port without a number is every port of its protocol",
			policies: []*networkingv1.NetworkPolicy{
				withIngress(netPolicy("default", "p", web), nil, networkingv1.NetworkPolicyPort{}),
			},
			want: webIsolated(true, false, []Allow{{anyAddr, tcp(0, 65535)}}, nil),
		},
		{
			name: "an unknown protocol allows nothing and is reported",
			policies: []*networkingv1.NetworkPolicy{
				withIngress(netPolicy("default", "p", web), nil, port("ICMP", 1)),
			},
			want:    webIsolated(true, false, nil, nil),
			problem: `NetworkPolicy default/p: ingress[0].ports[0]: protocol "ICMP" is not one of TCP, UDP, SCTP`,
		},
		{
			name: "a bad ipBlock allows nothing and is reported",
			policies: []*networkingv1.NetworkPolicy{
				withIngress(netPolicy("default", "p", web), peers(blockPeer("10.0.0.0/33"))),
			},
			want:    webIsolated(true, false, nil, nil),
			problem: "NetworkPolicy default/p: ingress[0].peers[0]: ipBlock.cidr",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, problems := Desired(Input{NodeName: node, Pods: pods, Namespaces: namespaces, Policies: tc.policies, ExtraPeers: tc.extra})
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Desired:\n got %+v\nwant %+v", got, tc.want)
			}
			if tc.problem == "" && len(problems) > 0 || tc.problem != "" && (len(problems) != 1 || !strings.HasPrefix(problems[0], tc.problem)) {
				t.Errorf("problems %q, want one starting with %q", problems, tc.problem)
			}
		})
	}
}

func TestSubtract(t *testing.T) {
	r := peerRange("10.0.0.0", "10.0.0.255")
	for _, tc := range []struct {
		cut  AddrRange
		want []AddrRange
	}{
		{peerRange("10.0.1.0", "10.0.1.255"), []AddrRange{r}},
		{peerRange("9.0.0.0", "11.0.0.0"), nil},
		{peerRange("10.0.0.0", "10.0.0.127"), []AddrRange{peerRange("10.0.0.128", "10.0.0.255")}},
		{peerRange("10.0.0.16", "10.0.0.31"), []AddrRange{peerRange("10.0.0.0", "10.0.0.15"), peerRange("10.0.0.32", "10.0.0.255")}},
	} {
		if got := r.subtract(tc.cut); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%v - %v = %v, want %v", r, tc.cut, got, tc.want)
		}
	}
}
