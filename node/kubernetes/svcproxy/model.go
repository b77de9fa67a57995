package svcproxy

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// Protocol is a transport protocol by its IANA number, as the kernel's
// meta l4proto sees it.
type Protocol uint8

const (
	ProtocolTCP  Protocol = 6
	ProtocolUDP  Protocol = 17
	ProtocolSCTP Protocol = 132
)

// protocolFromAPI maps a Kubernetes protocol; ok is false for anything else
// (an empty protocol is TCP, as the API's defaulting makes it).
func protocolFromAPI(p corev1.Protocol) (Protocol, bool) {
	switch p {
	case corev1.ProtocolTCP, "":
		return ProtocolTCP, true
	case corev1.ProtocolUDP:
		return ProtocolUDP, true
	case corev1.ProtocolSCTP:
		return ProtocolSCTP, true
	}
	return 0, false
}

// Endpoint is one backend address and port of a service port.
type Endpoint struct {
	Addr netip.Addr
	Port uint16
}

// ServicePort is one (ClusterIP, protocol, port) of one Service, with the
// endpoints its traffic goes to. A dual-stack Service gives one ServicePort
// per ClusterIP.
type ServicePort struct {
	// Name is "namespace/name:port", for logs and rule comments.
	Name      string
	ClusterIP netip.Addr
	Protocol  Protocol
	Port      uint16
	// NodePort is 0 unless the Service is of type NodePort or LoadBalancer.
	NodePort uint16
	// Endpoints are of ClusterIP's family, sorted, without duplicates.
	// Empty means connections are rejected.
	Endpoints []Endpoint
}

// serviceProxyNameLabel marks a Service as handled by another proxy
// (kube-proxy skips these too).
const serviceProxyNameLabel = "service.kubernetes.io/service-proxy-name"

// Desired is what the kernel should do for these Services and
// EndpointSlices: one ServicePort per ClusterIP and port of every Service
// that has a ClusterIP (headless and ExternalName Services have none to
// proxy), sorted by ClusterIP, protocol and port. Odd objects (nil entries,
// unparsable addresses, missing ports) are skipped, never fatal.
func Desired(services []*corev1.Service, endpointSlices []*discoveryv1.EndpointSlice) []ServicePort {
	slicesByService := make(map[string][]*discoveryv1.EndpointSlice)
	for _, s := range endpointSlices {
		if s == nil {
			continue
		}
		name := s.Labels[discoveryv1.LabelServiceName]
		if name == "" {
			continue
		}
		key := s.Namespace + "/" + name
		slicesByService[key] = append(slicesByService[key], s)
	}

	var out []ServicePort
	for _, svc := range services {
		if svc == nil || svc.Spec.Type == corev1.ServiceTypeExternalName || svc.Labels[serviceProxyNameLabel] != "" {
			continue
		}
		key := svc.Namespace + "/" + svc.Name
		for _, clusterIP := range clusterIPs(svc) {
			for _, sp := range svc.Spec.Ports {
				proto, ok := protocolFromAPI(sp.Protocol)
				if !ok || sp.Port <= 0 || sp.Port > 65535 {
					continue
				}
				p := ServicePort{
					Name:      key + ":" + portLabel(sp),
					ClusterIP: clusterIP,
					Protocol:  proto,
					Port:      uint16(sp.Port),
					Endpoints: endpointsFor(slicesByService[key], clusterIP.Is4(), sp.Name, sp.Protocol),
				}
				if svc.Spec.Type == corev1.ServiceTypeNodePort || svc.Spec.Type == corev1.ServiceTypeLoadBalancer {
					if sp.NodePort > 0 && sp.NodePort <= 65535 {
						p.NodePort = uint16(sp.NodePort)
					}
				}
				out = append(out, p)
			}
		}
	}
	slices.SortFunc(out, func(a, b ServicePort) int {
		return cmp.Or(a.ClusterIP.Compare(b.ClusterIP), cmp.Compare(a.Protocol, b.Protocol), cmp.Compare(a.Port, b.Port))
	})
	// Two Services cannot share a ClusterIP, but a Service may list the
	// same port twice with different names; the first one wins, as a
	// kernel map can hold only one.
	return slices.CompactFunc(out, func(a, b ServicePort) bool {
		return a.ClusterIP == b.ClusterIP && a.Protocol == b.Protocol && a.Port == b.Port
	})
}

// clusterIPs are the Service's parseable, distinct ClusterIPs ("None", the
// headless marker, and empty ones are not).
func clusterIPs(svc *corev1.Service) []netip.Addr {
	raw := svc.Spec.ClusterIPs
	if len(raw) == 0 {
		raw = []string{svc.Spec.ClusterIP}
	}
	var out []netip.Addr
	for _, s := range raw {
		a, err := netip.ParseAddr(s)
		if err != nil || slices.Contains(out, a.Unmap()) {
			continue
		}
		out = append(out, a.Unmap())
	}
	return out
}

func portLabel(sp corev1.ServicePort) string {
	if sp.Name != "" {
		return sp.Name
	}
	return "port-" + strconv.Itoa(int(sp.Port))
}
