package roleserve

import (
	"testing"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
)

func TestCuratorAddressOnlyForNodesRunningOne(t *testing.T) {
	for _, tc := range []struct {
		name string
		node *cpb.Node
		want string
	}{
		{"no status yet", &cpb.Node{Id: "a"}, ""},
		{"address but no curator", &cpb.Node{Status: &apb.NodeStatus{ExternalAddress: "10.0.0.2"}}, ""},
		{"curator running", &cpb.Node{Status: &apb.NodeStatus{
			ExternalAddress: "10.0.0.2", RunningCurator: &apb.NodeStatus_RunningCurator{Port: 7835},
		}}, "10.0.0.2:7835"},
		{"IPv6 address", &cpb.Node{Status: &apb.NodeStatus{
			ExternalAddress: "2001:db8::2", RunningCurator: &apb.NodeStatus_RunningCurator{Port: 7835},
		}}, "[2001:db8::2]:7835"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := curatorAddress(tc.node); got != tc.want {
				t.Errorf("curatorAddress = %q, want %q", got, tc.want)
			}
		})
	}
}

func TestPublicRolesMirrorTheCuratorsRoles(t *testing.T) {
	if publicRoles(nil) != nil {
		t.Error("unknown roles should stay unknown (nil)")
	}
	got := publicRoles(&cpb.NodeRoles{ConsensusMember: &cpb.ConsensusMember{}, KubernetesWorker: &cpb.KubernetesWorker{}})
	if !got.ConsensusMember || got.KubernetesController || !got.KubernetesWorker {
		t.Errorf("publicRoles = %v, want consensus member and worker only", got)
	}
	if hasConsensusRole(&cpb.NodeRoles{}) || !hasConsensusRole(&cpb.NodeRoles{ConsensusMember: &cpb.ConsensusMember{}}) {
		t.Error("hasConsensusRole does not follow the consensus_member field")
	}
}
