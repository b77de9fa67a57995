package core

import (
	"errors"

	apb "metropolis.dev/metropolis/api/v1"
)

// The node's start-up decisions, as pure functions of what it found (the state diagram of a
// start, top to bottom):
//
//	storage open ──► enrolment: member already │ bootstrap │ register │ refuse
//	             ──► order:     roles, then join │ join, then roles │ roles only
//
// Node.Run gathers the facts and carries the plan out.

// enrolment is how the node is part of its cluster at this start.
type enrolment int

const (
	// enrolMember: the node is a member already (its sealed record names its cluster).
	enrolMember enrolment = iota
	// enrolBootstrap: the node creates a new cluster from its bootstrap parameters.
	enrolBootstrap
	// enrolRegister: the node registers with a cluster from its register parameters.
	enrolRegister
)

// enrolFacts are what decideEnrolment looks at.
type enrolFacts struct {
	// member: the node's sealed record names its cluster.
	member bool
	// params are the node parameters, nil if it was given none.
	params *apb.NodeParameters
	// clusterHalf: the sealed record still holds the storage key's cluster half, which a node
	// hands over when it becomes a member (it does only on its first start).
	clusterHalf bool
}

var errNoClusterHalf = errors.New("sealed record: no cluster half to become a member with (the record is from another start?)")

// decideEnrolment says how the node is part of its cluster, or why it cannot be.
func decideEnrolment(f enrolFacts) (enrolment, error) {
	switch {
	case f.member:
		return enrolMember, nil
	case f.params == nil:
		return 0, errNoClusterNoParameters
	case !f.clusterHalf:
		return 0, errNoClusterHalf
	case f.params.GetClusterBootstrap() != nil:
		return enrolBootstrap, nil
	case f.params.GetClusterRegister() != nil:
		return enrolRegister, nil
	default:
		return 0, errors.New("node parameters: neither cluster_bootstrap nor cluster_register is set")
	}
}

// startFacts are what decideStart looks at.
type startFacts struct {
	// bootstrapping: the membership holds a bootstrap not finished yet (the first node).
	bootstrapping bool
	// consensusData: the node holds an etcd member's data.
	consensusData bool
	// joined: the cluster already accepted this start (a join to unlock the storage).
	joined bool
}

// startPlan is the order in which a member node starts its roles and joins.
type startPlan struct {
	// rolesFirst: start the role workers before joining, since this node's own etcd member and
	// curator may be what the join needs (the first node; any node holding a member's data:
	// on a small cluster its curator is the one it would join through).
	rolesFirst bool
	// join: ask the cluster to accept this start (Curator.JoinNode) before the node counts as
	// accepted; a refused node keeps only its management API.
	join bool
}

// decideStart orders a member node's start.
func decideStart(f startFacts) startPlan {
	return startPlan{
		rolesFirst: f.bootstrapping || f.consensusData,
		join:       !f.bootstrapping && !f.joined,
	}
}
