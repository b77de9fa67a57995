package clusterdns

import (
	"net/netip"
	"strings"

	"github.com/miekg/dns"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// result is the answer to one question about the cluster domain. An empty answer with rcode
// NOERROR is "the name exists, not with this type"; both negative kinds get the SOA.
type result struct {
	rcode  int
	answer []dns.RR
	extra  []dns.RR
}

var (
	nxdomain = result{rcode: dns.RcodeNameError}
	nodata   = result{rcode: dns.RcodeSuccess}
)

// resolver answers questions about names under domain from a catalog.
type resolver struct {
	domain string // lower case, fully qualified
	cat    *catalog
}

// resolve answers qtype for qname, which n says what it refers to. Records are owned by qname
// as asked (so its case is kept); names the answer points to are in lower case.
func (r *resolver) resolve(qname string, qtype uint16, n clusterName) result {
	switch n.kind {
	case kindApex:
		switch qtype {
		case dns.TypeSOA:
			return result{answer: []dns.RR{soa(r.domain)}}
		case dns.TypeNS:
			return result{answer: []dns.RR{&dns.NS{Hdr: header(qname, dns.TypeNS), Ns: "ns.dns." + r.domain}}}
		}
		return nodata
	case kindVersion:
		if qtype == dns.TypeTXT || qtype == dns.TypeANY {
			return result{answer: []dns.RR{&dns.TXT{Hdr: header(qname, dns.TypeTXT), Txt: []string{schemaVersion}}}}
		}
		return nodata
	case kindSvcRoot, kindPodRoot:
		return nodata
	case kindNamespace:
		if r.cat.namespaceHasServices(n.namespace) {
			return nodata
		}
		return nxdomain
	case kindPod:
		a, _ := parseDashedAddr(n.endpoint)
		if wantsAddr(qtype, a) {
			return result{answer: []dns.RR{addrRR(qname, a)}}
		}
		return nodata
	}
	svc, ok := r.cat.service(n.namespace, n.service)
	if !ok {
		return nxdomain
	}
	switch n.kind {
	case kindService:
		return r.resolveService(qname, qtype, svc)
	case kindEndpoint:
		return r.resolveEndpoint(qname, qtype, svc, n.endpoint)
	case kindProto:
		if hasProtocol(svc, n.protocol) {
			return nodata
		}
		return nxdomain
	case kindPort:
		return r.resolvePort(qname, qtype, svc, n)
	}
	return nxdomain
}

// resolveService answers for <svc>.<ns>.svc.<domain>.
func (r *resolver) resolveService(qname string, qtype uint16, svc *corev1.Service) result {
	if svc.Spec.Type == corev1.ServiceTypeExternalName {
		target := strings.ToLower(dns.Fqdn(svc.Spec.ExternalName))
		if _, ok := dns.IsDomainName(target); !ok || svc.Spec.ExternalName == "" {
			return nodata
		}
		return result{answer: []dns.RR{&dns.CNAME{Hdr: header(qname, dns.TypeCNAME), Target: target}}}
	}
	var res result
	if isHeadless(svc) {
		for _, ep := range serviceEndpoints(svc, r.cat.endpointSlices(svc.Namespace, svc.Name)) {
			if wantsAddr(qtype, ep.addr) {
				res.answer = append(res.answer, addrRR(qname, ep.addr))
			}
		}
		return res
	}
	for _, a := range clusterIPs(svc) {
		if wantsAddr(qtype, a) {
			res.answer = append(res.answer, addrRR(qname, a))
		}
	}
	return res
}

// resolveEndpoint answers for <endpoint>.<svc>.<ns>.svc.<domain> of a headless Service.
func (r *resolver) resolveEndpoint(qname string, qtype uint16, svc *corev1.Service, label string) result {
	if !isHeadless(svc) {
		return nxdomain
	}
	found := false
	var res result
	for _, ep := range serviceEndpoints(svc, r.cat.endpointSlices(svc.Namespace, svc.Name)) {
		if ep.label != label {
			continue
		}
		found = true
		if wantsAddr(qtype, ep.addr) {
			res.answer = append(res.answer, addrRR(qname, ep.addr))
		}
	}
	if !found {
		return nxdomain
	}
	return res
}

// resolvePort answers for _<port>._<proto>.<svc>.<ns>.svc.<domain>: SRV records pointing at
// the Service's name (ClusterIP) or at each ready endpoint's name (headless), with the
// targets' addresses as additional records.
func (r *resolver) resolvePort(qname string, qtype uint16, svc *corev1.Service, n clusterName) result {
	svcName := svc.Name + "." + svc.Namespace + ".svc." + r.domain
	var res result
	if !isHeadless(svc) {
		port, ok := servicePortNumber(svc, n.port, n.protocol)
		if !ok {
			return nxdomain
		}
		if qtype != dns.TypeSRV && qtype != dns.TypeANY {
			return nodata
		}
		res.answer = append(res.answer, srvRR(qname, port, svcName))
		for _, a := range clusterIPs(svc) {
			res.extra = append(res.extra, addrRR(svcName, a))
		}
		return res
	}
	found := false
	for _, ep := range serviceEndpoints(svc, r.cat.endpointSlices(svc.Namespace, svc.Name)) {
		port, ok := portNumber(ep.ports, n.port, n.protocol)
		if !ok {
			continue
		}
		found = true
		if qtype != dns.TypeSRV && qtype != dns.TypeANY {
			continue
		}
		target := ep.label + "." + svcName
		res.answer = append(res.answer, srvRR(qname, port, target))
		res.extra = append(res.extra, addrRR(target, ep.addr))
	}
	if !found {
		return nxdomain
	}
	return res
}

func srvRR(name string, port uint16, target string) dns.RR {
	return &dns.SRV{Hdr: header(name, dns.TypeSRV), Priority: 0, Weight: 100, Port: port, Target: target}
}

// resolvePtr answers a reverse look-up of a ClusterIP or a headless Service's endpoint
// address; ok is false when the address is neither, so that the question goes upstream.
func (r *resolver) resolvePtr(qname string, a netip.Addr) (res result, ok bool) {
	seen := map[string]bool{}
	add := func(target string) {
		if !seen[target] {
			seen[target] = true
			res.answer = append(res.answer, &dns.PTR{Hdr: header(qname, dns.TypePTR), Ptr: target})
		}
	}
	for _, svc := range r.cat.servicesByAddr(a) {
		add(svc.Name + "." + svc.Namespace + ".svc." + r.domain)
	}
	for _, s := range r.cat.slicesByAddr(a) {
		svc, found := r.cat.service(s.Namespace, s.Labels[discoveryv1.LabelServiceName])
		if !found || !isHeadless(svc) {
			continue
		}
		for _, ep := range serviceEndpoints(svc, []*discoveryv1.EndpointSlice{s}) {
			if ep.addr == a {
				add(ep.label + "." + svc.Name + "." + svc.Namespace + ".svc." + r.domain)
			}
		}
	}
	return res, len(res.answer) > 0
}
