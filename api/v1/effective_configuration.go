package apb

import (
	"fmt"
	"maps"
	"slices"

	"google.golang.org/protobuf/proto"
)

// NodeFacts is what selects cluster rules for a node: its Metropolis labels and roles.
type NodeFacts struct {
	Labels          map[string]string
	ConsensusMember bool
}

// EffectiveNodeConfiguration is what a node follows: its own configuration, with what it
// leaves empty filled in from the cluster's node defaults. Kubernetes labels and taints
// merge: the cluster's rules that select the node in their order, then the node's own, a
// later one winning on the same label key or taint key and effect. The result is new; neither
// argument is changed.
func EffectiveNodeConfiguration(node *NodeConfiguration, cluster *ClusterConfiguration, facts NodeFacts) *NodeConfiguration {
	eff := &NodeConfiguration{}
	if node != nil {
		eff = proto.Clone(node).(*NodeConfiguration)
	}
	d := cluster.GetNodeDefaults()
	if len(eff.NtpServers) == 0 {
		eff.NtpServers = slices.Clone(d.GetNtpServers())
	}
	if len(eff.Nameservers) == 0 {
		eff.Nameservers = slices.Clone(d.GetNameservers())
	}
	var k kubernetesMerge
	for _, r := range d.GetKubernetesRules() {
		if r.selects(facts) {
			k.add(r.GetKubernetes())
		}
	}
	k.add(node.GetKubernetes())
	eff.Kubernetes = k.result()
	return eff
}

func (r *KubernetesNodeRule) selects(f NodeFacts) bool {
	if r.ConsensusMember != nil && r.GetConsensusMember() != f.ConsensusMember {
		return false
	}
	for k, v := range r.GetNodeSelector() {
		if have, ok := f.Labels[k]; !ok || have != v {
			return false
		}
	}
	return true
}

// kubernetesMerge merges Kubernetes Node configurations, later ones winning.
type kubernetesMerge struct {
	labels map[string]string
	taints []*Taint
}

func (m *kubernetesMerge) add(k *KubernetesNodeConfiguration) {
	if k == nil {
		return
	}
	if len(k.GetLabels()) > 0 {
		if m.labels == nil {
			m.labels = make(map[string]string)
		}
		maps.Copy(m.labels, k.GetLabels())
	}
	for _, t := range k.GetTaints() {
		m.taints = slices.DeleteFunc(m.taints, func(have *Taint) bool {
			return have.GetKey() == t.GetKey() && have.GetEffect() == t.GetEffect()
		})
		m.taints = append(m.taints, proto.Clone(t).(*Taint))
	}
}

func (m *kubernetesMerge) result() *KubernetesNodeConfiguration {
	if m.labels == nil && m.taints == nil {
		return nil
	}
	return &KubernetesNodeConfiguration{Labels: m.labels, Taints: m.taints}
}

// ClusterConfigurationPaths are the field mask paths ConfigureCluster takes.
var ClusterConfigurationPaths = []string{
	"node_defaults",
	"node_defaults.ntp_servers",
	"node_defaults.nameservers",
	"node_defaults.kubernetes_rules",
	"attestation",
	"attestation.required",
}

// ApplyClusterConfigurationMask returns cur with the fields paths name replaced by next's.
// An unknown path is an error naming it, and so is an empty mask: a caller that names no
// field would change nothing by accident.
func ApplyClusterConfigurationMask(cur, next *ClusterConfiguration, paths []string) (*ClusterConfiguration, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("update_mask: names no field; name those to replace, of %v", ClusterConfigurationPaths)
	}
	out := &ClusterConfiguration{}
	if cur != nil {
		out = proto.Clone(cur).(*ClusterConfiguration)
	}
	defaults := func() *NodeDefaults {
		if out.NodeDefaults == nil {
			out.NodeDefaults = &NodeDefaults{}
		}
		return out.NodeDefaults
	}
	nd := next.GetNodeDefaults()
	for i, p := range paths {
		switch p {
		case "node_defaults":
			out.NodeDefaults = cloneOrNil(nd)
		case "node_defaults.ntp_servers":
			defaults().NtpServers = slices.Clone(nd.GetNtpServers())
		case "node_defaults.nameservers":
			defaults().Nameservers = slices.Clone(nd.GetNameservers())
		case "node_defaults.kubernetes_rules":
			var rules []*KubernetesNodeRule
			for _, r := range nd.GetKubernetesRules() {
				rules = append(rules, proto.Clone(r).(*KubernetesNodeRule))
			}
			defaults().KubernetesRules = rules
		case "attestation", "attestation.required":
			out.Attestation = cloneOrNil(next.GetAttestation())
		default:
			return nil, fmt.Errorf("update_mask.paths[%d]: %.80q is no field ConfigureCluster changes; want one of %v", i, p, ClusterConfigurationPaths)
		}
	}
	return out, nil
}

func cloneOrNil[M proto.Message](m M) M {
	var zero M
	if !m.ProtoReflect().IsValid() {
		return zero
	}
	return proto.Clone(m).(M)
}
