package roleserve

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// followCurators keeps the node's set of curator addresses up to date from the cluster's UP
// nodes that run a curator, so that the node finds the leader after the curators it first knew
// are gone, and tells the node (OnCurators) so it can start from them next time.
func (s *Service) followCurators(ctx context.Context, cur cpb.CuratorClient) error {
	stream, err := cur.Watch(ctx, &cpb.WatchRequest{Kind: &cpb.WatchRequest_UpNodes{UpNodes: &cpb.WatchRequest_NodesInCluster{}}})
	if err != nil {
		return fmt.Errorf("watch curators: %w", err)
	}
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	curators := map[string]string{} // node ID to host:port
	var reported []string
	for {
		ev, err := stream.Recv()
		if err != nil {
			return fmt.Errorf("watch curators: %w", err)
		}
		for _, n := range ev.Nodes {
			if addr := curatorAddress(n); addr != "" {
				curators[n.Id] = addr
			} else {
				delete(curators, n.Id)
			}
		}
		for _, t := range ev.NodeTombstones {
			delete(curators, t.NodeId)
		}
		list := make([]string, 0, len(curators))
		for _, addr := range curators {
			list = append(list, addr)
		}
		slices.Sort(list)
		s.curators.Add(list...)
		if len(list) > 0 && !slices.Equal(list, reported) && s.cfg.OnCurators != nil {
			reported = list
			if err := s.cfg.OnCurators(list); err != nil {
				supervisor.Logger(ctx).Warningf("keep curator addresses: %v", err)
			}
		}
	}
}

func curatorAddress(n *cpb.Node) string {
	rc := n.GetStatus().GetRunningCurator()
	host := n.GetStatus().GetExternalAddress()
	if rc == nil || host == "" {
		return ""
	}
	return net.JoinHostPort(host, strconv.Itoa(int(rc.Port)))
}
