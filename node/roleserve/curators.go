package roleserve

import (
	"context"
	"net"
	"slices"
	"strconv"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	"metropolis.dev/metropolis/node/curator/upnodes"
	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// Curators follows the addresses (host:port, sorted, never empty) of the cluster's UP nodes
// that run a curator, whenever they change, for the node to start from next time.
func (s *Service) Curators() event.Watcher[[]string] { return s.curatorList.Watch() }

// followCurators keeps the node's set of curator addresses up to date from the cluster's UP
// nodes that run a curator, so that the node finds the leader after the curators it first knew
// are gone, and publishes the list (Curators). It also keeps the set of UP nodes (IsUpNode).
func (s *Service) followCurators(ctx context.Context, cur cpb.CuratorClient) error {
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	var published []string
	defer s.upNodes.Store(nil)
	defer s.upNodeList.Store(nil)
	return upnodes.Follow(ctx, cur, 0, func(nodes upnodes.Set) error {
		ids := make(map[string]bool, len(nodes))
		whole := make([]*cpb.Node, 0, len(nodes))
		for id, n := range nodes {
			ids[id] = true
			whole = append(whole, n)
		}
		s.upNodes.Store(&ids)
		s.upNodeList.Store(&whole)
		list := curatorAddresses(nodes)
		s.curators.Add(list...)
		if len(list) > 0 && !slices.Equal(list, published) {
			published = list
			s.curatorList.Set(list)
		}
		return nil
	})
}

// curatorAddresses lists the curator addresses of nodes, sorted.
func curatorAddresses(nodes upnodes.Set) []string {
	var list []string
	for _, n := range nodes {
		if addr := curatorAddress(n); addr != "" {
			list = append(list, addr)
		}
	}
	slices.Sort(list)
	return list
}

// UpNodes returns the cluster's UP nodes as this node last heard from the curator, and false
// before it has heard (or while it is not following them). The nodes must not be changed.
func (s *Service) UpNodes() ([]*cpb.Node, bool) {
	list := s.upNodeList.Load()
	if list == nil {
		return nil, false
	}
	return *list, true
}

// IsUpNode reports whether nodeID is an UP node of the cluster, as this node last heard from
// the curator; false before it has heard, and for a node deleted since. Other nodes calling
// this node (to fetch a bundle) are checked with it, so a deleted node's certificate, valid
// as it may still be, gets nothing.
func (s *Service) IsUpNode(nodeID string) bool {
	ids := s.upNodes.Load()
	return ids != nil && (*ids)[nodeID]
}

func curatorAddress(n *cpb.Node) string {
	rc := n.GetStatus().GetRunningCurator()
	host := n.GetStatus().GetExternalAddress()
	if rc == nil || host == "" {
		return ""
	}
	return net.JoinHostPort(host, strconv.Itoa(int(rc.Port)))
}
