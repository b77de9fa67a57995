package curator

import (
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
)

func TestNextRoles(t *testing.T) {
	yes, no := true, false
	none := roleSet{}
	consensusOnly := roleSet{consensus: true}
	controller := roleSet{consensus: true, controller: true}
	for _, c := range []struct {
		name    string
		cur     roleSet
		req     *apb.UpdateNodeRolesRequest
		want    roleSet
		code    codes.Code
		message string
	}{
		{"granting a worker", none, &apb.UpdateNodeRolesRequest{KubernetesWorker: &yes}, roleSet{worker: true}, codes.OK, ""},
		{"granting controller with consensus", none, &apb.UpdateNodeRolesRequest{ConsensusMember: &yes, KubernetesController: &yes}, controller, codes.OK, ""},
		{"granting controller to a consensus member", consensusOnly, &apb.UpdateNodeRolesRequest{KubernetesController: &yes}, controller, codes.OK, ""},
		{"revoking both", controller, &apb.UpdateNodeRolesRequest{ConsensusMember: &no, KubernetesController: &no}, none, codes.OK, ""},
		{"unset roles stay", controller, &apb.UpdateNodeRolesRequest{KubernetesWorker: &yes}, roleSet{consensus: true, controller: true, worker: true}, codes.OK, ""},
		{"a request granting controller and revoking consensus is invalid", consensusOnly,
			&apb.UpdateNodeRolesRequest{ConsensusMember: &no, KubernetesController: &yes}, consensusOnly, codes.InvalidArgument, "which the request revokes"},
		{"an empty request is invalid", none, &apb.UpdateNodeRolesRequest{}, none, codes.InvalidArgument, "no role"},
		{"granting controller alone to a node without consensus", none,
			&apb.UpdateNodeRolesRequest{KubernetesController: &yes}, none, codes.FailedPrecondition, "grant both"},
		{"revoking consensus alone from a controller", controller,
			&apb.UpdateNodeRolesRequest{ConsensusMember: &no}, controller, codes.FailedPrecondition, "revoke both"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := nextRoles("metropolis-0123456789abcdef", c.cur, c.req)
			if status.Code(err) != c.code || (err != nil && !strings.Contains(err.Error(), c.message)) {
				t.Fatalf("nextRoles = %v, want %v mentioning %q", err, c.code, c.message)
			}
			if got != c.want {
				t.Errorf("roles = %+v, want %+v", got, c.want)
			}
		})
	}
}

func TestCheckRoleChange(t *testing.T) {
	consensus := &cpb.NodeRoles{ConsensusMember: &cpb.ConsensusMember{}}
	withAddress := func(n *cpb.NodeRecord) *cpb.NodeRecord {
		n.Status = &apb.NodeStatus{ExternalAddress: "192.0.2.10"}
		return n
	}
	for _, c := range []struct {
		name    string
		node    *cpb.NodeRecord
		next    roleSet
		members int
		code    codes.Code
		message string
	}{
		{"an UP node with an address may join consensus", withAddress(record(t, stUp, nil)), roleSet{consensus: true}, 1, codes.OK, ""},
		{"a node that has not reported its address may not join consensus", record(t, stUp, nil), roleSet{consensus: true}, 1, codes.FailedPrecondition, "address"},
		{"a NEW node gets no roles", withAddress(record(t, stNew, nil)), roleSet{worker: true}, 1, codes.FailedPrecondition, "node is NEW, not UP"},
		{"one of two consensus members may leave", record(t, stUp, consensus), roleSet{}, 2, codes.OK, ""},
		{"the last consensus member may not leave", record(t, stUp, consensus), roleSet{}, 1, codes.FailedPrecondition, "last consensus member"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := checkRoleChange(c.node, c.next, c.members)
			if status.Code(err) != c.code || (err != nil && !strings.Contains(err.Error(), c.message)) {
				t.Fatalf("checkRoleChange = %v, want %v mentioning %q", err, c.code, c.message)
			}
		})
	}
}

func TestCheckPeerAddressFree(t *testing.T) {
	consensus := &cpb.NodeRoles{ConsensusMember: &cpb.ConsensusMember{}}
	at := func(n *cpb.NodeRecord, addr string) *cpb.NodeRecord {
		n.Status = &apb.NodeStatus{ExternalAddress: addr}
		return n
	}
	joining := at(record(t, stUp, nil), "192.0.2.10")
	member := at(record(t, stUp, consensus), "192.0.2.10")
	for _, c := range []struct {
		name    string
		others  []*cpb.NodeRecord
		code    codes.Code
		message string
	}{
		{"no other node", nil, codes.OK, ""},
		{"a consensus member elsewhere", []*cpb.NodeRecord{at(record(t, stUp, consensus), "192.0.2.11")}, codes.OK, ""},
		{"a node without the role at the same address", []*cpb.NodeRecord{at(record(t, stUp, nil), "192.0.2.10")}, codes.OK, ""},
		{"the node itself, listed among all nodes", []*cpb.NodeRecord{joining}, codes.OK, ""},
		{"a consensus member at the same address is refused", []*cpb.NodeRecord{member}, codes.FailedPrecondition,
			"node " + member.GetId() + ", a consensus member, reports the same address 192.0.2.10"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := checkPeerAddressFree(joining, c.others)
			if status.Code(err) != c.code || (err != nil && !strings.Contains(err.Error(), c.message)) {
				t.Fatalf("checkPeerAddressFree = %v, want %v mentioning %q", err, c.code, c.message)
			}
		})
	}
}
