package curator

import (
	"context"
	"fmt"
	"sort"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"
	"google.golang.org/protobuf/proto"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
)

// getNode reads a node record; nil without error if there is none.
func getNode(ctx context.Context, kv clientv3.KV, nodeID string) (*cpb.NodeRecord, error) {
	var n cpb.NodeRecord
	found, err := getProto(ctx, kv, nodeKey(nodeID), &n)
	if err != nil || !found {
		return nil, err
	}
	return &n, nil
}

// listNodes reads every node record, sorted by node ID.
func listNodes(ctx context.Context, kv clientv3.KV) ([]*cpb.NodeRecord, error) {
	resp, err := kv.Get(ctx, keyNodesPrefix, clientv3.WithPrefix())
	if err != nil {
		return nil, fmt.Errorf("list nodes in etcd: %w", err)
	}
	nodes := make([]*cpb.NodeRecord, 0, len(resp.Kvs))
	for _, kv := range resp.Kvs {
		n, err := decodeNode(kv)
		if err != nil {
			return nil, err
		}
		nodes = append(nodes, n)
	}
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].GetId() < nodes[j].GetId() })
	return nodes, nil
}

func decodeNode(kv *mvccpb.KeyValue) (*cpb.NodeRecord, error) {
	var n cpb.NodeRecord
	if err := proto.Unmarshal(kv.Value, &n); err != nil {
		return nil, fmt.Errorf("decode node record %s: %w", kv.Key, err)
	}
	return &n, nil
}

func putNodeOp(n *cpb.NodeRecord) (clientv3.Op, error) {
	return putProtoOp(nodeKey(n.GetId()), n)
}

// publicNode is what other nodes may see of a node: no secrets.
func publicNode(n *cpb.NodeRecord) *cpb.Node {
	return &cpb.Node{
		Id:        n.GetId(),
		PublicKey: n.GetPublicKey(),
		State:     n.GetState(),
		Roles:     n.GetRoles(),
		Status:    n.GetStatus(),
		Labels:    n.GetLabels(),

		UpdateTarget:  n.GetUpdateTarget(),
		Configuration: n.GetConfiguration(),
	}
}

// managementNode is what a manager sees of a node; health is filled in by the caller.
func managementNode(n *cpb.NodeRecord) *apb.Node {
	r := rolesOf(n.GetRoles())
	return &apb.Node{
		Id:        n.GetId(),
		PublicKey: n.GetPublicKey(),
		State:     n.GetState(),
		Roles: &apb.NodeRoles{
			ConsensusMember:      r.consensus,
			KubernetesController: r.controller,
			KubernetesWorker:     r.worker,
		},
		Labels:               n.GetLabels(),
		Status:               n.GetStatus(),
		Attestation:          n.GetAttestation().GetStatus(),
		ConfigurationVersion: n.GetConfiguration().GetVersion(),
	}
}
