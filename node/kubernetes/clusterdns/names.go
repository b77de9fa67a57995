package clusterdns

import (
	"strings"

	"github.com/miekg/dns"
)

// nameKind is what a name under the cluster domain refers to.
type nameKind int

const (
	// kindNone: the name is under the domain but cannot exist (NXDOMAIN without a look-up).
	kindNone nameKind = iota
	// kindApex: the domain itself.
	kindApex
	// kindVersion: dns-version.<domain>, the schema version TXT record.
	kindVersion
	// kindSvcRoot: svc.<domain>, an empty non-terminal.
	kindSvcRoot
	// kindNamespace: <ns>.svc.<domain>, an empty non-terminal while the namespace has Services.
	kindNamespace
	// kindService: <svc>.<ns>.svc.<domain>.
	kindService
	// kindEndpoint: <endpoint>.<svc>.<ns>.svc.<domain>, for headless Services.
	kindEndpoint
	// kindProto: _<proto>.<svc>.<ns>.svc.<domain>, an empty non-terminal.
	kindProto
	// kindPort: _<port>._<proto>.<svc>.<ns>.svc.<domain>, the SRV records of a port.
	kindPort
	// kindPodRoot: pod.<domain> or <ns>.pod.<domain>, empty non-terminals.
	kindPodRoot
	// kindPod: <a-b-c-d>.<ns>.pod.<domain>.
	kindPod
)

// clusterName is a name under the cluster domain taken apart. Labels are lower case; the
// leading underscore of port and protocol labels is removed.
type clusterName struct {
	kind      nameKind
	namespace string
	service   string
	endpoint  string // kindEndpoint: the endpoint label; kindPod: the dashed address.
	port      string
	protocol  string // "tcp", "udp" or "sctp"
}

// splitClusterName reports whether qname (any case, fully qualified or not) is the domain
// (lower case, fully qualified) or under it, and if so what it refers to.
func splitClusterName(qname, domain string) (clusterName, bool) {
	name := strings.ToLower(dns.Fqdn(qname))
	if name == domain {
		return clusterName{kind: kindApex}, true
	}
	if !strings.HasSuffix(name, "."+domain) {
		return clusterName{}, false
	}
	rest := strings.TrimSuffix(name, "."+domain)
	labels := dns.SplitDomainName(rest)
	// Labels read from the domain inwards: labels[len-1] is "svc" or "pod".
	if _, ok := dns.IsDomainName(rest); !ok || len(labels) == 0 || hasEmptyLabel(labels) {
		return clusterName{kind: kindNone}, true
	}
	reversed := make([]string, len(labels))
	for i, l := range labels {
		reversed[len(labels)-1-i] = l
	}
	switch reversed[0] {
	case "dns-version":
		if len(reversed) == 1 {
			return clusterName{kind: kindVersion}, true
		}
	case "svc":
		return splitServiceName(reversed[1:]), true
	case "pod":
		return splitPodName(reversed[1:]), true
	}
	return clusterName{kind: kindNone}, true
}

// splitServiceName takes apart the labels below svc.<domain>, outermost first.
func splitServiceName(l []string) clusterName {
	switch len(l) {
	case 0:
		return clusterName{kind: kindSvcRoot}
	case 1:
		return clusterName{kind: kindNamespace, namespace: l[0]}
	case 2:
		return clusterName{kind: kindService, namespace: l[0], service: l[1]}
	case 3:
		n := clusterName{namespace: l[0], service: l[1]}
		if proto, ok := underscored(l[2]); ok {
			if !knownProtocol(proto) {
				return clusterName{kind: kindNone}
			}
			n.kind, n.protocol = kindProto, proto
			return n
		}
		n.kind, n.endpoint = kindEndpoint, l[2]
		return n
	case 4:
		proto, okProto := underscored(l[2])
		port, okPort := underscored(l[3])
		if !okProto || !okPort || !knownProtocol(proto) || port == "" {
			return clusterName{kind: kindNone}
		}
		return clusterName{kind: kindPort, namespace: l[0], service: l[1], protocol: proto, port: port}
	}
	return clusterName{kind: kindNone}
}

// splitPodName takes apart the labels below pod.<domain>, outermost first.
func splitPodName(l []string) clusterName {
	switch len(l) {
	case 0, 1:
		return clusterName{kind: kindPodRoot}
	case 2:
		if _, ok := parseDashedAddr(l[1]); ok {
			return clusterName{kind: kindPod, namespace: l[0], endpoint: l[1]}
		}
	}
	return clusterName{kind: kindNone}
}

// underscored returns label without its leading underscore, if it has one.
func underscored(label string) (string, bool) {
	if !strings.HasPrefix(label, "_") {
		return "", false
	}
	return label[1:], true
}

func knownProtocol(p string) bool { return p == "tcp" || p == "udp" || p == "sctp" }

func hasEmptyLabel(labels []string) bool {
	for _, l := range labels {
		if l == "" {
			return true
		}
	}
	return false
}
