package curator

import (
	"context"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/rpc"
)

func (m *managementServer) GetNodeConfiguration(ctx context.Context, req *apb.GetNodeConfigurationRequest) (*apb.GetNodeConfigurationResponse, error) {
	const step = "get the configuration of"
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkNodeID(step, req.GetNodeId()); err != nil {
		return nil, err
	}
	n, err := l.node(ctx, step, req.GetNodeId())
	if err != nil {
		return nil, err
	}
	cluster, err := getCluster(ctx, l.etcd())
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "%s node %s: read the cluster record: %v", step, n.GetId(), err)
	}
	stored := n.GetConfiguration()
	if stored == nil {
		stored = &apb.StoredNodeConfiguration{}
	}
	return &apb.GetNodeConfigurationResponse{
		Stored:    stored,
		Effective: apb.EffectiveNodeConfiguration(stored.GetConfiguration(), cluster.GetConfiguration().GetConfiguration(), nodeFacts(n)),
	}, nil
}

// nodeFacts is what selects the cluster's rules for n.
func nodeFacts(n *cpb.NodeRecord) apb.NodeFacts {
	return apb.NodeFacts{Labels: n.GetLabels(), ConsensusMember: rolesOf(n.GetRoles()).consensus}
}

func (m *managementServer) ConfigureNode(ctx context.Context, req *apb.ConfigureNodeRequest) (*apb.ConfigureNodeResponse, error) {
	const step = "configure"
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkNodeID(step, req.GetNodeId()); err != nil {
		return nil, err
	}
	by, err := callerName(ctx)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.node(ctx, step, req.GetNodeId())
	if err != nil {
		return nil, err
	}
	if n.GetState() == apb.NodeState_NODE_STATE_DECOMMISSIONED {
		return nil, nodeError(codes.FailedPrecondition, step, n.GetId(), "the node is deleted (DECOMMISSIONED)")
	}
	addr := nodeAddress{consensus: rolesOf(n.GetRoles()).consensus, address: n.GetStatus().GetExternalAddress()}
	next, changed, err := nextNodeConfiguration(n.GetId(), n.GetConfiguration(), req, addr, change{by: by, now: time.Now()})
	if err != nil {
		return nil, err
	}
	if changed && !req.GetDryRun() {
		rec := clone(n)
		rec.Configuration = next
		if err := l.storeNode(ctx, rec); err != nil {
			return nil, err
		}
	}
	return &apb.ConfigureNodeResponse{Stored: next, Changed: changed}, nil
}

func (m *managementServer) ConfirmNodeConfiguration(ctx context.Context, req *apb.ConfirmNodeConfigurationRequest) (*apb.ConfirmNodeConfigurationResponse, error) {
	const step = "confirm the configuration of"
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, err
	}
	if err := checkNodeID(step, req.GetNodeId()); err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n, err := l.node(ctx, step, req.GetNodeId())
	if err != nil {
		return nil, err
	}
	reported := n.GetStatus().GetConfiguration().GetTrialVersion()
	next, changed, err := nextConfirmation(n.GetId(), n.GetConfiguration(), req.GetVersion(), reported, time.Now())
	if err != nil {
		return nil, err
	}
	if changed {
		rec := clone(n)
		rec.Configuration = next
		if err := l.storeNode(ctx, rec); err != nil {
			return nil, err
		}
	}
	return &apb.ConfirmNodeConfigurationResponse{Stored: next}, nil
}

func (m *managementServer) GetClusterConfiguration(ctx context.Context, _ *apb.GetClusterConfigurationRequest) (*apb.GetClusterConfigurationResponse, error) {
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, err
	}
	cluster, err := getCluster(ctx, l.etcd())
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "get the cluster configuration: read the cluster record: %v", err)
	}
	return &apb.GetClusterConfigurationResponse{Stored: storedClusterConfiguration(cluster)}, nil
}

func (m *managementServer) ConfigureCluster(ctx context.Context, req *apb.ConfigureClusterRequest) (*apb.ConfigureClusterResponse, error) {
	l, err := leaderFromContext(ctx)
	if err != nil {
		return nil, err
	}
	by, err := callerName(ctx)
	if err != nil {
		return nil, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	cluster, err := getCluster(ctx, l.etcd())
	if err != nil {
		return nil, status.Errorf(codes.Unavailable, "configure the cluster: read the cluster record: %v", err)
	}
	cur := storedClusterConfiguration(cluster)
	next, changed, err := nextClusterConfiguration(cur, req, change{by: by, now: time.Now()})
	if err != nil {
		return nil, err
	}
	if !changed {
		return &apb.ConfigureClusterResponse{Stored: cur}, nil
	}
	if next.GetConfiguration().GetAttestation().GetRequired() && !cur.GetConfiguration().GetAttestation().GetRequired() {
		nodes, err := l.nodes(ctx)
		if err != nil {
			return nil, err
		}
		if refused := unattested(nodes); len(refused) > 0 {
			return nil, unattestedError(refused)
		}
	}
	if !req.GetDryRun() {
		op, err := putProtoOp(keyCluster, withClusterConfiguration(cluster, next))
		if err != nil {
			return nil, status.Errorf(codes.Internal, "configure the cluster: %v", err)
		}
		if err := l.commit(ctx, op); err != nil {
			return nil, err
		}
	}
	return &apb.ConfigureClusterResponse{Stored: proto.Clone(next).(*apb.StoredClusterConfiguration), Changed: true}, nil
}

// callerName names the caller of a management call for the record of who changed what.
func callerName(ctx context.Context) (string, error) {
	p, err := rpc.PeerFromContext(ctx)
	if err != nil {
		return "", err
	}
	return p.String(), nil
}
