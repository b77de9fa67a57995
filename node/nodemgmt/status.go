package nodemgmt

import (
	"context"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/durationpb"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/osbase/logtree"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// roleStatusTimeout bounds GetStatus's questions to the node's etcd member and apiserver.
const roleStatusTimeout = 3 * time.Second

// GetStatus implements apb.NodeManagementServer.
func (s *Server) GetStatus(ctx context.Context, _ *apb.GetStatusRequest) (*apb.GetStatusResponse, error) {
	self := s.cfg.Self.Self()
	res := &apb.GetStatusResponse{
		NodeId: self.NodeID,
		State:  self.State,
		Uptime: durationpb.New(time.Since(s.cfg.Started)),
	}
	if self.Roles != nil {
		// The reporter may hand out a message it keeps updating; the response must not share it.
		res.Roles = proto.Clone(self.Roles).(*apb.NodeRoles)
	} else {
		res.Roles = &apb.NodeRoles{}
	}
	if s.cfg.Updates != nil {
		if sw := s.cfg.Updates.Current(); sw != nil {
			res.Software = proto.Clone(sw).(*apb.NodeSoftware)
		}
	}
	if s.cfg.RoleStatus != nil {
		// A status is asked for often (cluster status asks every node at once): a member or an
		// apiserver that hangs must cost it this much and no more.
		ctx, cancel := context.WithTimeout(ctx, roleStatusTimeout)
		defer cancel()
		// At once, so that one that hangs leaves the other its whole deadline.
		var wg sync.WaitGroup
		wg.Go(func() { res.Consensus = s.cfg.RoleStatus.ConsensusStatus(ctx) })
		wg.Go(func() { res.KubernetesNode = s.cfg.RoleStatus.KubernetesNodeStatus(ctx) })
		wg.Wait()
	}
	states := s.cfg.Runnables.States()
	slices.SortFunc(states, func(a, b supervisor.NodeState) int { return compareTreeOrder(a.DN, b.DN) })
	for _, st := range states {
		r := &apb.Runnable{Dn: string(st.DN), State: runnableState(st.State)}
		if st.State == supervisor.StateDead && st.LastError != nil {
			r.LastError = st.LastError.Error()
		}
		res.Runnables = append(res.Runnables, r)
	}
	return res, nil
}

// compareTreeOrder orders DNs part by part, so that a parent always comes before its children
// and a subtree is never split by a sibling whose name merely shares a prefix.
func compareTreeOrder(a, b logtree.DN) int {
	return slices.Compare(a.Parts(), b.Parts())
}

// runnableState maps the supervisor's states onto the API's. StateCanceling is the API's
// CANCELED: the runnable is being stopped with its parent, not failing on its own.
func runnableState(st supervisor.State) apb.RunnableState {
	switch st {
	case supervisor.StateNew:
		return apb.RunnableState_RUNNABLE_STATE_NEW
	case supervisor.StateHealthy:
		return apb.RunnableState_RUNNABLE_STATE_HEALTHY
	case supervisor.StateDone:
		return apb.RunnableState_RUNNABLE_STATE_DONE
	case supervisor.StateDead:
		return apb.RunnableState_RUNNABLE_STATE_DEAD
	case supervisor.StateCanceling:
		return apb.RunnableState_RUNNABLE_STATE_CANCELED
	default:
		return apb.RunnableState_RUNNABLE_STATE_UNSPECIFIED
	}
}
