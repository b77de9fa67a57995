package roleserve

import (
	"strings"
	"testing"
	"time"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
)

func TestEffectiveConfiguration(t *testing.T) {
	node := &cpb.Node{
		Labels: map[string]string{"pool": "gpu"},
		Roles:  &cpb.NodeRoles{ConsensusMember: &cpb.ConsensusMember{}},
		Configuration: &apb.StoredNodeConfiguration{Version: 3, Configuration: &apb.NodeConfiguration{
			Kubelet: &apb.KubeletConfiguration{SystemReserved: map[string]string{"memory": "1Gi"}},
		}},
	}
	yes := true
	cluster := &apb.StoredClusterConfiguration{Version: 2, Configuration: &apb.ClusterConfiguration{NodeDefaults: &apb.NodeDefaults{
		NtpServers:  []string{"ntp.example.com"},
		Nameservers: []string{"192.0.2.53"},
		KubernetesRules: []*apb.KubernetesNodeRule{
			{ConsensusMember: &yes, NodeSelector: map[string]string{"pool": "gpu"}, Kubernetes: &apb.KubernetesNodeConfiguration{Labels: map[string]string{"gpu": "yes"}}},
		},
	}}}
	in := inputFromRecord(node)
	merge := func() *Configuration {
		return effectiveConfiguration(decideTrial(in.stored, nil, nil, time.Now()), in.facts, cluster)
	}
	c := merge()
	if c.NodeVersion != 3 || c.ClusterVersion != 2 {
		t.Errorf("versions %d/%d, want 3/2", c.NodeVersion, c.ClusterVersion)
	}
	if c.Effective.GetNtpServers()[0] != "ntp.example.com" || c.Effective.GetKubernetes().GetLabels()["gpu"] != "yes" || c.Effective.GetKubelet().GetSystemReserved()["memory"] != "1Gi" {
		t.Errorf("effective configuration %v", c.Effective)
	}
	if !c.equal(merge()) {
		t.Error("the same inputs give a different configuration")
	}
	errs := networkErrors(c.Effective, false, nil, nil)
	st := configurationStatus(&applied{configuration: c, errors: errs}, time.Unix(1, 0))
	if st.GetNodeVersion() != 3 || st.GetClusterVersion() != 2 || len(st.GetErrors()) != 1 || !strings.HasPrefix(st.GetErrors()[0], "network, nameservers: not applied") {
		t.Errorf("status %v: want versions 3/2 and the nameservers named as not applied on a node without its own network", st)
	}
	if configurationStatus(nil, time.Now()) != nil {
		t.Error("a node without a configuration yet reports one")
	}
}
