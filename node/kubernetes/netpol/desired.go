package netpol

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	cnpv1beta1 "sigs.k8s.io/network-policy-api/apis/v1beta1"
)

// Input is everything the rules depend on.
type Input struct {
	// NodeName is this node's Kubernetes name: its pods are the ones rules
	// are made for; every other running pod is only a peer.
	NodeName   string
	Pods       []*corev1.Pod
	Namespaces []*corev1.Namespace
	Policies   []*networkingv1.NetworkPolicy
	// ClusterPolicies are the cluster-wide tiers around Policies.
	ClusterPolicies []*cnpv1beta1.ClusterNetworkPolicy
	// ExtraPeers are addresses that selectors select as if they were pods,
	// though no Pod object stands for them (ClusterDNSPeer).
	ExtraPeers []Peer
}

// Peer is a pod as the rules see it.
type Peer struct {
	Namespace, Name string
	Labels          map[string]string
	IP              netip.Addr
	// NamedPorts are its containers' ports that have names.
	NamedPorts []NamedPort
}

// NamedPort is a container port with a name, which policies may use.
type NamedPort struct {
	Name     string
	Protocol Protocol
	Port     uint16
}

// ClusterDNSPeer is the cluster DNS, served by every worker on dnsAddress
// rather than by pods, as the peer that egress rules written for kube-dns
// pods select: namespace kube-system, label k8s-app=kube-dns, named ports dns
// (UDP 53) and dns-tcp (TCP 53), as CoreDNS' pods have them.
func ClusterDNSPeer(dnsAddress netip.Addr) Peer {
	return Peer{
		Namespace: "kube-system", Name: "cluster-dns", Labels: map[string]string{"k8s-app": "kube-dns"},
		IP: dnsAddress, NamedPorts: []NamedPort{{"dns", ProtocolUDP, 53}, {"dns-tcp", ProtocolTCP, 53}},
	}
}

// Desired is what the policies ask of each running pod on in.NodeName, sorted
// by address. Pods no policy selects get Rules too (isolated in neither
// direction), so their entry exists before the first policy does. Problems
// are policies or parts of them that cannot be enforced as written (an
// invalid selector or ipBlock, a protocol the kernel path does not know);
// each such part allows nothing, so a broken rule never lets traffic through.
func Desired(in Input) (rules []Rules, problems []string) {
	d := &desire{nsLabels: make(map[string]labels.Set)}
	for _, ns := range in.Namespaces {
		if ns != nil {
			d.nsLabels[ns.Name] = namespaceLabels(ns.Name, ns.Labels)
		}
	}
	var local []Peer
	for _, p := range in.Pods {
		peer, ok := peerOf(p)
		if !ok {
			continue
		}
		d.peers = append(d.peers, peer)
		if p.Spec.NodeName == in.NodeName {
			local = append(local, peer)
		}
	}
	d.peers = append(d.peers, in.ExtraPeers...)

	for _, pol := range in.Policies {
		if pol != nil {
			d.addPolicy(pol)
		}
	}
	for _, pol := range in.ClusterPolicies {
		if pol != nil {
			d.addClusterPolicy(pol)
		}
	}
	sortClusterPolicies(d.clusterPolicies)
	for _, pod := range local {
		r := Rules{Pod: pod.Namespace + "/" + pod.Name, IP: pod.IP}
		for _, pol := range d.policies {
			if pol.namespace != pod.Namespace || !pol.selector.Matches(labels.Set(pod.Labels)) {
				continue
			}
			if pol.ingress {
				r.IngressIsolated = true
				for _, rule := range pol.ingressRules {
					r.Ingress = append(r.Ingress, rule.ingressAllows(pod)...)
				}
			}
			if pol.egress {
				r.EgressIsolated = true
				for _, rule := range pol.egressRules {
					r.Egress = append(r.Egress, rule.egressAllows(d.peers)...)
				}
			}
		}
		r.Ingress, r.Egress = mergeAllows(r.Ingress), mergeAllows(r.Egress)
		if len(d.clusterPolicies) > 0 {
			ns := d.namespaceLabels(pod.Namespace)
			admin, baseline := cnpv1beta1.AdminTier, cnpv1beta1.BaselineTier
			r.IngressIsolated, r.Ingress = resolve(
				tierRules(d.clusterPolicies, admin, pod, ns, false), r.IngressIsolated, r.Ingress,
				tierRules(d.clusterPolicies, baseline, pod, ns, false))
			r.EgressIsolated, r.Egress = resolve(
				tierRules(d.clusterPolicies, admin, pod, ns, true), r.EgressIsolated, r.Egress,
				tierRules(d.clusterPolicies, baseline, pod, ns, true))
		}
		rules = append(rules, r)
	}
	slices.SortFunc(rules, func(a, b Rules) int { return cmp.Or(a.IP.Compare(b.IP), cmp.Compare(a.Pod, b.Pod)) })
	// Two pods cannot hold one address at once; if the API says so for a
	// moment, the first one's rules stand until it catches up.
	rules = slices.CompactFunc(rules, func(a, b Rules) bool { return a.IP == b.IP })
	return rules, d.problems
}

// desire holds the parsed policies while Desired runs.
type desire struct {
	nsLabels map[string]labels.Set
	peers    []Peer
	policies []policy
	// clusterPolicies are sorted by precedence (sortClusterPolicies).
	clusterPolicies []clusterPolicy
	problems        []string
}

// policy is a NetworkPolicy with its selectors parsed and its rules' peers
// resolved to address ranges.
type policy struct {
	namespace       string
	selector        labels.Selector
	ingress, egress bool
	ingressRules    []rule
	egressRules     []rule
}

// rule is one ingress or egress rule: traffic with any of peers, on any of
// ports (numbered ones, and named ones resolved against the pod they name a
// port of).
type rule struct {
	peers      []AddrRange
	ports      []Ports
	namedPorts []namedPortRef
}

type namedPortRef struct {
	name     string
	protocol Protocol
}

func (d *desire) problem(pol *networkingv1.NetworkPolicy, format string, args ...any) {
	d.problems = append(d.problems, fmt.Sprintf("NetworkPolicy %s/%s: %s", pol.Namespace, pol.Name, fmt.Sprintf(format, args...)))
}

func (d *desire) addPolicy(pol *networkingv1.NetworkPolicy) {
	p := policy{namespace: pol.Namespace}
	sel, err := metav1.LabelSelectorAsSelector(&pol.Spec.PodSelector)
	if err != nil {
		// Selecting no pod would leave the pods it meant open; there is no
		// safe reading of it, so it is reported and skipped.
		d.problem(pol, "podSelector: %v; the policy is not enforced", err)
		return
	}
	p.selector = sel
	for _, t := range pol.Spec.PolicyTypes {
		switch t {
		case networkingv1.PolicyTypeIngress:
			p.ingress = true
		case networkingv1.PolicyTypeEgress:
			p.egress = true
		}
	}
	if len(pol.Spec.PolicyTypes) == 0 {
		p.ingress, p.egress = true, len(pol.Spec.Egress) > 0
	}
	if p.ingress {
		for i, r := range pol.Spec.Ingress {
			p.ingressRules = append(p.ingressRules, d.rule(pol, fmt.Sprintf("ingress[%d]", i), r.From, r.Ports))
		}
	}
	if p.egress {
		for i, r := range pol.Spec.Egress {
			p.egressRules = append(p.egressRules, d.rule(pol, fmt.Sprintf("egress[%d]", i), r.To, r.Ports))
		}
	}
	d.policies = append(d.policies, p)
}

// rule resolves one rule's peers to address ranges and sorts its ports into
// numbered and named ones. Parts that cannot be read are reported and allow
// nothing.
func (d *desire) rule(pol *networkingv1.NetworkPolicy, where string, peers []networkingv1.NetworkPolicyPeer, ports []networkingv1.NetworkPolicyPort) rule {
	var r rule
	if len(peers) == 0 {
		r.peers = []AddrRange{anyAddr}
	}
	for i, peer := range peers {
		ranges, err := d.peerRanges(pol.Namespace, peer)
		if err != nil {
			d.problem(pol, "%s.peers[%d]: %v", where, i, err)
			continue
		}
		r.peers = append(r.peers, ranges...)
	}
	if len(ports) == 0 {
		r.ports = []Ports{AllPorts}
	}
	for i, port := range ports {
		proto, ok := protocolFromAPI(port.Protocol)
		if !ok {
			d.problem(pol, "%s.ports[%d]: protocol %.16q is not one of TCP, UDP, SCTP", where, i, string(*port.Protocol))
			continue
		}
		switch {
		case port.Port == nil:
			r.ports = append(r.ports, Ports{Protocol: proto, From: 0, To: 65535})
		case port.Port.Type == intstr.String:
			r.namedPorts = append(r.namedPorts, namedPortRef{name: port.Port.StrVal, protocol: proto})
		default:
			from, to := port.Port.IntVal, port.Port.IntVal
			if port.EndPort != nil {
				to = *port.EndPort
			}
			if from < 1 || to > 65535 || to < from {
				d.problem(pol, "%s.ports[%d]: port range %d-%d is outside 1-65535", where, i, from, to)
				continue
			}
			r.ports = append(r.ports, Ports{Protocol: proto, From: uint16(from), To: uint16(to)})
		}
	}
	return r
}

// peerRanges is the addresses one peer stands for.
func (d *desire) peerRanges(namespace string, peer networkingv1.NetworkPolicyPeer) ([]AddrRange, error) {
	if peer.IPBlock != nil {
		return ipBlockRanges(peer.IPBlock)
	}
	if peer.PodSelector == nil && peer.NamespaceSelector == nil {
		return nil, fmt.Errorf("peer has neither podSelector, namespaceSelector nor ipBlock")
	}
	podSel, nsSel := labels.Everything(), labels.Selector(nil)
	var err error
	if peer.PodSelector != nil {
		if podSel, err = metav1.LabelSelectorAsSelector(peer.PodSelector); err != nil {
			return nil, fmt.Errorf("podSelector: %w", err)
		}
	}
	if peer.NamespaceSelector != nil {
		if nsSel, err = metav1.LabelSelectorAsSelector(peer.NamespaceSelector); err != nil {
			return nil, fmt.Errorf("namespaceSelector: %w", err)
		}
	}
	var out []AddrRange
	for _, p := range d.peers {
		inNamespace := p.Namespace == namespace
		if nsSel != nil {
			inNamespace = nsSel.Matches(d.namespaceLabels(p.Namespace))
		}
		if inNamespace && podSel.Matches(labels.Set(p.Labels)) {
			out = append(out, single(p.IP))
		}
	}
	return out, nil
}

func (d *desire) namespaceLabels(name string) labels.Set {
	if l, ok := d.nsLabels[name]; ok {
		return l
	}
	return namespaceLabels(name, nil)
}

// namespaceLabels are a namespace's labels with kubernetes.io/metadata.name,
// which the API server sets on every namespace, also for one not yet in the
// cache.
func namespaceLabels(name string, l map[string]string) labels.Set {
	out := labels.Set{corev1.LabelMetadataName: name}
	for k, v := range l {
		out[k] = v
	}
	return out
}

// ipBlockRanges is an ipBlock's CIDR without its exceptions. An IPv6 block
// matches nothing here: pods have IPv4 addresses only.
func ipBlockRanges(b *networkingv1.IPBlock) ([]AddrRange, error) {
	cidr, err := netip.ParsePrefix(b.CIDR)
	if err != nil {
		return nil, fmt.Errorf("ipBlock.cidr: %w", err)
	}
	whole, ok := prefixRange(cidr)
	if !ok {
		return nil, nil
	}
	out := []AddrRange{whole}
	for i, e := range b.Except {
		ex, err := netip.ParsePrefix(e)
		if err != nil {
			return nil, fmt.Errorf("ipBlock.except[%d]: %w", i, err)
		}
		cut, ok := prefixRange(ex)
		if !ok {
			continue
		}
		var rest []AddrRange
		for _, r := range out {
			rest = append(rest, r.subtract(cut)...)
		}
		out = rest
	}
	return out, nil
}

// ingressAllows is what the rule lets into target: its named ports are
// target's own.
func (r rule) ingressAllows(target Peer) []Allow {
	ports := append([]Ports(nil), r.ports...)
	for _, np := range r.namedPorts {
		if port, ok := target.namedPort(np); ok {
			ports = append(ports, Ports{Protocol: np.protocol, From: port, To: port})
		}
	}
	return cross(r.peers, ports)
}

// egressAllows is what the rule lets out: its named ports are those of the
// destination, each peer among peers that lies in the rule's ranges.
func (r rule) egressAllows(peers []Peer) []Allow {
	out := cross(r.peers, r.ports)
	for _, np := range r.namedPorts {
		for _, p := range peers {
			port, ok := p.namedPort(np)
			if !ok || !slices.ContainsFunc(r.peers, func(a AddrRange) bool { return a.contains(p.IP) }) {
				continue
			}
			out = append(out, Allow{Peer: single(p.IP), Ports: Ports{Protocol: np.protocol, From: port, To: port}})
		}
	}
	return out
}

func cross(peers []AddrRange, ports []Ports) []Allow {
	var out []Allow
	for _, peer := range peers {
		for _, port := range ports {
			out = append(out, Allow{Peer: peer, Ports: port})
		}
	}
	return out
}

func (p Peer) namedPort(ref namedPortRef) (uint16, bool) {
	for _, np := range p.NamedPorts {
		if np.Name == ref.name && np.Protocol == ref.protocol {
			return np.Port, true
		}
	}
	return 0, false
}

// peerOf is a running pod as a peer; ok is false for pods that have no pod
// network address (host network, not yet or no longer running).
func peerOf(p *corev1.Pod) (Peer, bool) {
	if p == nil || p.Spec.HostNetwork || p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodFailed {
		return Peer{}, false
	}
	ip, ok := podIPv4(p)
	if !ok {
		return Peer{}, false
	}
	peer := Peer{Namespace: p.Namespace, Name: p.Name, Labels: p.Labels, IP: ip}
	for _, cs := range [][]corev1.Container{p.Spec.InitContainers, p.Spec.Containers} {
		for _, c := range cs {
			for _, cp := range c.Ports {
				proto, ok := protocolFromAPI(&cp.Protocol)
				if cp.Name == "" || !ok || cp.ContainerPort < 1 || cp.ContainerPort > 65535 {
					continue
				}
				peer.NamedPorts = append(peer.NamedPorts, NamedPort{Name: cp.Name, Protocol: proto, Port: uint16(cp.ContainerPort)})
			}
		}
	}
	return peer, true
}

func podIPv4(p *corev1.Pod) (netip.Addr, bool) {
	raw := []string{p.Status.PodIP}
	for _, ip := range p.Status.PodIPs {
		raw = append(raw, ip.IP)
	}
	for _, s := range raw {
		if a, err := netip.ParseAddr(s); err == nil && a.Unmap().Is4() {
			return a.Unmap(), true
		}
	}
	return netip.Addr{}, false
}

// protocolFromAPI maps a Kubernetes protocol (nil or empty is TCP, as the
// API's defaulting makes it); ok is false for anything else.
func protocolFromAPI(p *corev1.Protocol) (Protocol, bool) {
	if p == nil {
		return ProtocolTCP, true
	}
	switch *p {
	case corev1.ProtocolTCP, "":
		return ProtocolTCP, true
	case corev1.ProtocolUDP:
		return ProtocolUDP, true
	case corev1.ProtocolSCTP:
		return ProtocolSCTP, true
	}
	return 0, false
}
