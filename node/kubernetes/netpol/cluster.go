package netpol

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	cnpv1beta1 "sigs.k8s.io/network-policy-api/apis/v1beta1"
)

// clusterPolicy is a ClusterNetworkPolicy (policy.networking.k8s.io/v1beta1)
// with its selectors parsed and its rules' peers resolved to address
// ranges. Only what the standard channel's CRD holds is enforced: namespace,
// pod and network peers, TCP, UDP and SCTP ports. The experimental channel's
// node and domain name peers and named ports are refused as the API asks of
// a field an implementation does not know: closed (see failClosed).
type clusterPolicy struct {
	name            string
	tier            cnpv1beta1.Tier
	priority        int32
	subjectNS       labels.Selector
	subjectPods     labels.Selector // nil: every pod of the namespaces
	ingress, egress []clusterRule
}

// clusterRule is one rule: its verdict on traffic with peers, on ports; region is every
// peer with every port.
type clusterRule struct {
	verdict verdict
	peers   []AddrRange
	ports   []Ports
	region  []Allow
}

func (d *desire) clusterProblem(pol *cnpv1beta1.ClusterNetworkPolicy, format string, args ...any) {
	d.problems = append(d.problems, fmt.Sprintf("ClusterNetworkPolicy %s: %s", pol.Name, fmt.Sprintf(format, args...)))
}

// addClusterPolicy parses pol into d.clusterPolicies. A policy whose tier or
// subject cannot be read is reported and skipped: there is no telling which
// pods it meant.
func (d *desire) addClusterPolicy(pol *cnpv1beta1.ClusterNetworkPolicy) {
	p := clusterPolicy{name: pol.Name, tier: pol.Spec.Tier, priority: pol.Spec.Priority}
	if p.tier != cnpv1beta1.AdminTier && p.tier != cnpv1beta1.BaselineTier {
		d.clusterProblem(pol, "tier %.16q is not Admin or Baseline; the policy is not enforced", string(p.tier))
		return
	}
	subject := pol.Spec.Subject
	var err error
	switch {
	case subject.Namespaces != nil && subject.Pods == nil:
		p.subjectNS, err = metav1.LabelSelectorAsSelector(subject.Namespaces)
	case subject.Pods != nil && subject.Namespaces == nil:
		if p.subjectNS, err = metav1.LabelSelectorAsSelector(&subject.Pods.NamespaceSelector); err == nil {
			p.subjectPods, err = metav1.LabelSelectorAsSelector(&subject.Pods.PodSelector)
		}
	default:
		err = fmt.Errorf("exactly one of namespaces and pods must be set")
	}
	if err != nil {
		d.clusterProblem(pol, "subject: %v; the policy is not enforced", err)
		return
	}
	for i, r := range pol.Spec.Ingress {
		var peers []AddrRange
		var bad []string
		for j, from := range r.From {
			ranges, err := d.clusterPeerRanges(from.Namespaces, from.Pods, nil, false)
			if err != nil {
				bad = append(bad, fmt.Sprintf("from[%d]: %v", j, err))
			}
			peers = append(peers, ranges...)
		}
		if len(r.From) == 0 {
			bad = append(bad, "from is empty")
		}
		p.ingress = append(p.ingress, d.clusterRule(pol, fmt.Sprintf("ingress[%d]", i), r.Action, peers, r.Protocols, bad))
	}
	for i, r := range pol.Spec.Egress {
		var peers []AddrRange
		var bad []string
		for j, to := range r.To {
			ranges, err := d.clusterPeerRanges(to.Namespaces, to.Pods, to.Networks, to.Nodes != nil || len(to.DomainNames) > 0)
			if err != nil {
				bad = append(bad, fmt.Sprintf("to[%d]: %v", j, err))
			}
			peers = append(peers, ranges...)
		}
		if len(r.To) == 0 {
			bad = append(bad, "to is empty")
		}
		p.egress = append(p.egress, d.clusterRule(pol, fmt.Sprintf("egress[%d]", i), r.Action, peers, r.Protocols, bad))
	}
	d.clusterPolicies = append(d.clusterPolicies, p)
}

// clusterRule builds one rule from its resolved peers and its protocols;
// bad lists the parts that could not be read.
func (d *desire) clusterRule(pol *cnpv1beta1.ClusterNetworkPolicy, where string, action cnpv1beta1.ClusterNetworkPolicyRuleAction, peers []AddrRange, protocols []cnpv1beta1.ClusterNetworkPolicyProtocol, bad []string) clusterRule {
	r := clusterRule{peers: peers}
	switch action {
	case cnpv1beta1.ClusterNetworkPolicyRuleActionAccept:
		r.verdict = verdictAccept
	case cnpv1beta1.ClusterNetworkPolicyRuleActionDeny:
		r.verdict = verdictDeny
	case cnpv1beta1.ClusterNetworkPolicyRuleActionPass:
		r.verdict = verdictPass
	default:
		bad = append(bad, fmt.Sprintf("action %.16q is not Accept, Deny or Pass", string(action)))
	}
	if len(protocols) == 0 {
		r.ports = []Ports{AllPorts}
	}
	for i, proto := range protocols {
		ports, err := clusterPorts(proto)
		if err != nil {
			bad = append(bad, fmt.Sprintf("protocols[%d]: %v", i, err))
			continue
		}
		r.ports = append(r.ports, ports)
	}
	if len(bad) > 0 {
		r = d.failClosed(pol, where, r, bad)
	}
	// Once per rule, not per pod it applies to: the peers and ports do not depend on the pod.
	r.region = cross(r.peers, r.ports)
	return r
}

// failClosed is what the API asks of a rule with parts the implementation
// cannot read: an Accept rule matches only what it could read (those parts
// match nothing), a Deny or Pass rule (or one whose action is unknown)
// denies everything.
func (d *desire) failClosed(pol *cnpv1beta1.ClusterNetworkPolicy, where string, r clusterRule, bad []string) clusterRule {
	if r.verdict == verdictAccept {
		d.clusterProblem(pol, "%s: %s; those parts match nothing", where, bad[0])
		return r
	}
	d.clusterProblem(pol, "%s: %s; the rule denies all traffic", where, bad[0])
	return clusterRule{verdict: verdictDeny, peers: []AddrRange{anyAddr}, ports: []Ports{AllPorts}}
}

// clusterPeerRanges is the addresses one peer stands for. Exactly one kind
// of peer must be set; unsupported says an experimental one (nodes, domain
// names) is.
func (d *desire) clusterPeerRanges(namespaces *metav1.LabelSelector, pods *cnpv1beta1.NamespacedPod, networks []cnpv1beta1.CIDR, unsupported bool) ([]AddrRange, error) {
	set := 0
	for _, isSet := range []bool{namespaces != nil, pods != nil, len(networks) > 0, unsupported} {
		if isSet {
			set++
		}
	}
	switch {
	case unsupported && set == 1:
		return nil, fmt.Errorf("node and domain name peers are not supported")
	case set != 1:
		return nil, fmt.Errorf("exactly one of namespaces, pods and networks must be set")
	case len(networks) > 0:
		var out []AddrRange
		for i, n := range networks {
			cidr, err := netip.ParsePrefix(string(n))
			if err != nil {
				return nil, fmt.Errorf("networks[%d]: %.64q is not a CIDR", i, string(n))
			}
			if r, ok := prefixRange(cidr); ok {
				out = append(out, r)
			}
		}
		return out, nil
	}
	nsSel, podSel := namespaces, (*metav1.LabelSelector)(nil)
	if pods != nil {
		nsSel, podSel = &pods.NamespaceSelector, &pods.PodSelector
	}
	ns, err := metav1.LabelSelectorAsSelector(nsSel)
	if err != nil {
		return nil, fmt.Errorf("namespace selector: %w", err)
	}
	podMatch := labels.Everything()
	if podSel != nil {
		if podMatch, err = metav1.LabelSelectorAsSelector(podSel); err != nil {
			return nil, fmt.Errorf("pod selector: %w", err)
		}
	}
	var out []AddrRange
	for _, p := range d.peers {
		if ns.Matches(d.namespaceLabels(p.Namespace)) && podMatch.Matches(labels.Set(p.Labels)) {
			out = append(out, single(p.IP))
		}
	}
	return out, nil
}

// clusterPorts reads one protocol match: a protocol with no port is all its
// ports.
func clusterPorts(p cnpv1beta1.ClusterNetworkPolicyProtocol) (Ports, error) {
	var proto Protocol
	var port *cnpv1beta1.Port
	set := 0
	if p.TCP != nil {
		proto, port, set = ProtocolTCP, p.TCP.DestinationPort, set+1
	}
	if p.UDP != nil {
		proto, port, set = ProtocolUDP, p.UDP.DestinationPort, set+1
	}
	if p.SCTP != nil {
		proto, port, set = ProtocolSCTP, p.SCTP.DestinationPort, set+1
	}
	switch {
	case p.DestinationNamedPort != "" && set == 0:
		return Ports{}, fmt.Errorf("destinationNamedPort is not supported")
	case set != 1 || p.DestinationNamedPort != "":
		return Ports{}, fmt.Errorf("exactly one of tcp, udp and sctp must be set")
	case port == nil:
		return Ports{Protocol: proto, From: 0, To: 65535}, nil
	case port.Range != nil && port.Number == 0:
		from, to := port.Range.Start, port.Range.End
		if from < 1 || to > 65535 || to < from {
			return Ports{}, fmt.Errorf("port range %d-%d is outside 1-65535", from, to)
		}
		return Ports{Protocol: proto, From: uint16(from), To: uint16(to)}, nil
	case port.Range == nil && port.Number >= 1 && port.Number <= 65535:
		return Ports{Protocol: proto, From: uint16(port.Number), To: uint16(port.Number)}, nil
	}
	return Ports{}, fmt.Errorf("destinationPort needs either a number in 1-65535 or a range")
}

// selects says whether the policy's subject is pod.
func (p *clusterPolicy) selects(pod Peer, nsLabels labels.Set) bool {
	return p.subjectNS.Matches(nsLabels) && (p.subjectPods == nil || p.subjectPods.Matches(labels.Set(pod.Labels)))
}

// sortClusterPolicies puts policies in order of precedence within their
// tier: lower priority first, and by name among equals, so the answer does
// not depend on the order the API lists them in.
func sortClusterPolicies(policies []clusterPolicy) {
	slices.SortFunc(policies, func(a, b clusterPolicy) int {
		return cmp.Or(cmp.Compare(a.priority, b.priority), cmp.Compare(a.name, b.name))
	})
}

// tierRules are the rules of policies of tier that select pod, for one
// direction, in order of precedence.
func tierRules(policies []clusterPolicy, tier cnpv1beta1.Tier, pod Peer, nsLabels labels.Set, egress bool) []tierRule {
	var out []tierRule
	for i := range policies {
		p := &policies[i]
		if p.tier != tier || !p.selects(pod, nsLabels) {
			continue
		}
		rules := p.ingress
		if egress {
			rules = p.egress
		}
		for _, r := range rules {
			out = append(out, tierRule{verdict: r.verdict, region: r.region})
		}
	}
	return out
}
