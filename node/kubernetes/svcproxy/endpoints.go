package svcproxy

import (
	"cmp"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// endpointsFor collects, from all slices of one Service, the endpoints of
// the service port named portName (resolved through each slice's own ports:
// a named targetPort may map to different numbers in different slices) in
// the wanted address family.
//
// Like kube-proxy, it takes the ready endpoints, and only when there are
// none falls back to endpoints that are serving while terminating, so that
// connections still find a backend during a rolling update's last step.
func endpointsFor(endpointSlices []*discoveryv1.EndpointSlice, ipv4 bool, portName string, proto corev1.Protocol) []Endpoint {
	wantType := discoveryv1.AddressTypeIPv6
	if ipv4 {
		wantType = discoveryv1.AddressTypeIPv4
	}
	var ready, serving []Endpoint
	for _, s := range endpointSlices {
		if s.AddressType != wantType {
			continue
		}
		port, ok := slicePort(s.Ports, portName, proto)
		if !ok {
			continue
		}
		for _, ep := range s.Endpoints {
			isReady, isServing := conditions(ep.Conditions)
			if !isReady && !isServing {
				continue
			}
			for _, raw := range ep.Addresses {
				a, err := netip.ParseAddr(raw)
				if err != nil || a.Unmap().Is4() != ipv4 {
					continue
				}
				e := Endpoint{Addr: a.Unmap(), Port: port}
				if isReady {
					ready = append(ready, e)
				} else {
					serving = append(serving, e)
				}
				// An endpoint's further addresses are the same pod
				// (the API allows only one to be used).
				break
			}
		}
	}
	if len(ready) == 0 {
		ready = serving
	}
	slices.SortFunc(ready, func(a, b Endpoint) int {
		return cmp.Or(a.Addr.Compare(b.Addr), cmp.Compare(a.Port, b.Port))
	})
	// The same endpoint may be in two slices while the controller moves it.
	return slices.Compact(ready)
}

// slicePort finds the port number of the named service port in a slice.
// A slice port with a nil name matches the unnamed service port; one with
// a nil number, or a number out of range, matches nothing.
func slicePort(ports []discoveryv1.EndpointPort, name string, proto corev1.Protocol) (uint16, bool) {
	if proto == "" {
		proto = corev1.ProtocolTCP
	}
	for _, p := range ports {
		pName := ""
		if p.Name != nil {
			pName = *p.Name
		}
		pProto := corev1.ProtocolTCP
		if p.Protocol != nil {
			pProto = *p.Protocol
		}
		if pName != name || pProto != proto || p.Port == nil {
			continue
		}
		if *p.Port <= 0 || *p.Port > 65535 {
			return 0, false
		}
		return uint16(*p.Port), true
	}
	return 0, false
}

// conditions reads an endpoint's conditions the way the API documents
// them: a nil ready means ready, a nil serving means the same as ready, a
// nil terminating means not terminating. isReady wins over isServing.
func conditions(c discoveryv1.EndpointConditions) (isReady, isServing bool) {
	terminating := c.Terminating != nil && *c.Terminating
	isReady = (c.Ready == nil || *c.Ready) && !terminating
	isServing = c.Serving == nil && isReady || c.Serving != nil && *c.Serving
	return isReady, !isReady && isServing
}
