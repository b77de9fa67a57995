package clusterdns

import (
	"net/netip"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// clusterIPs returns a Service's cluster IPs: none for a headless or ExternalName Service.
func clusterIPs(svc *corev1.Service) []netip.Addr {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		return nil
	}
	ips := svc.Spec.ClusterIPs
	if len(ips) == 0 && svc.Spec.ClusterIP != "" {
		ips = []string{svc.Spec.ClusterIP}
	}
	var out []netip.Addr
	for _, s := range ips {
		if a, err := netip.ParseAddr(s); err == nil {
			out = append(out, a.Unmap())
		}
	}
	return out
}

// isHeadless reports whether a Service is answered with its endpoints' addresses.
func isHeadless(svc *corev1.Service) bool {
	return svc.Spec.Type != corev1.ServiceTypeExternalName &&
		(svc.Spec.ClusterIP == corev1.ClusterIPNone || svc.Spec.ClusterIP == "")
}

// endpoint is one address of a headless Service, named by the label under the Service's name.
type endpoint struct {
	label string
	addr  netip.Addr
	// ports are the slice's ports (name, protocol, number) for SRV records.
	ports []discoveryv1.EndpointPort
}

// serviceEndpoints returns the endpoints of svc that DNS publishes: those ready (or all of
// them when the Service publishes not-ready addresses), each address once, sorted by label
// and address so that answers are stable.
func serviceEndpoints(svc *corev1.Service, slices []*discoveryv1.EndpointSlice) []endpoint {
	seen := map[netip.Addr]bool{}
	var out []endpoint
	for _, s := range slices {
		if s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6 {
			continue
		}
		for _, ep := range s.Endpoints {
			ready := ep.Conditions.Ready == nil || *ep.Conditions.Ready
			if !ready && !svc.Spec.PublishNotReadyAddresses {
				continue
			}
			for _, raw := range ep.Addresses {
				a, err := netip.ParseAddr(raw)
				if err != nil || seen[a.Unmap()] {
					continue
				}
				a = a.Unmap()
				seen[a] = true
				label := dashedAddr(a)
				if ep.Hostname != nil && *ep.Hostname != "" {
					label = strings.ToLower(*ep.Hostname)
				}
				out = append(out, endpoint{label: label, addr: a, ports: s.Ports})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].label != out[j].label {
			return out[i].label < out[j].label
		}
		return out[i].addr.Less(out[j].addr)
	})
	return out
}

// portNumber returns the number of the port named name with protocol proto (lower case)
// among ports, if there is one.
func portNumber(ports []discoveryv1.EndpointPort, name, proto string) (uint16, bool) {
	for _, p := range ports {
		if p.Name == nil || p.Port == nil || strings.ToLower(*p.Name) != name {
			continue
		}
		protocol := corev1.ProtocolTCP
		if p.Protocol != nil {
			protocol = *p.Protocol
		}
		if strings.ToLower(string(protocol)) == proto {
			return uint16(*p.Port), true
		}
	}
	return 0, false
}

// servicePortNumber is portNumber over a Service's own ports (for ClusterIP Services).
func servicePortNumber(svc *corev1.Service, name, proto string) (uint16, bool) {
	for _, p := range svc.Spec.Ports {
		protocol := p.Protocol
		if protocol == "" {
			protocol = corev1.ProtocolTCP
		}
		if p.Name != "" && strings.ToLower(p.Name) == name && strings.ToLower(string(protocol)) == proto {
			return uint16(p.Port), true
		}
	}
	return 0, false
}

// hasProtocol reports whether svc has a named port of protocol proto (lower case).
func hasProtocol(svc *corev1.Service, proto string) bool {
	for _, p := range svc.Spec.Ports {
		protocol := p.Protocol
		if protocol == "" {
			protocol = corev1.ProtocolTCP
		}
		if p.Name != "" && strings.ToLower(string(protocol)) == proto {
			return true
		}
	}
	return false
}
