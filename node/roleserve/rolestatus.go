package roleserve

import (
	"context"
	"fmt"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/consensus"
)

// ConsensusStatus is this node's etcd member as it sees itself (nodemgmt.RoleStatusReporter),
// nil if the node runs none now.
func (s *Service) ConsensusStatus(ctx context.Context) *apb.ConsensusMemberStatus {
	st := s.currentConsensus(ctx)
	if st == nil {
		return nil
	}
	res := &apb.ConsensusMemberStatus{MemberId: fmt.Sprintf("%x", st.MemberID)}
	sr, err := st.Client.Status(ctx, st.ClientURL)
	if err != nil {
		res.Error = fmt.Sprintf("the etcd member did not answer: %.200s", err.Error())
		return res
	}
	if sr.Leader != 0 {
		res.LeaderId = fmt.Sprintf("%x", sr.Leader)
	}
	res.RaftTerm, res.DbSizeBytes = sr.RaftTerm, sr.DbSize
	return res
}

// KubernetesNodeStatus is this node's Kubernetes Node's Ready condition
// (nodemgmt.RoleStatusReporter), nil if the node runs no worker now.
func (s *Service) KubernetesNodeStatus(ctx context.Context) *apb.KubernetesNodeStatus {
	w := s.worker.Load()
	if w == nil {
		return nil
	}
	return w.NodeStatus(ctx)
}

// currentConsensus is the member's latest status without waiting for one: a node whose member
// never started has published nothing, which reads as none.
func (s *Service) currentConsensus(ctx context.Context) *consensus.Status {
	w := s.localEtcd.Watch()
	defer w.Close()
	ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	st, err := w.Get(ctx)
	if err != nil {
		return nil
	}
	return st
}
