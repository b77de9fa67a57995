package roleserve

import (
	"context"
	"fmt"

	"metropolis.dev/metropolis/osbase/supervisor"
)

// followConsensusRole tells the node (OnConsensusRole) whether it is a consensus member each
// time that changes, so it can keep its storage key's cluster half escrowed while it is one:
// the cluster it would otherwise ask for that half keeps its state on this node's disk.
func (s *Service) followConsensusRole(ctx context.Context) error {
	if s.cfg.OnConsensusRole == nil {
		supervisor.Signal(ctx, supervisor.SignalDone)
		return nil
	}
	w := s.roles.Watch()
	defer w.Close()
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	reported, first := false, true
	for {
		roles, err := w.Get(ctx)
		if err != nil {
			return err
		}
		if roles == nil {
			continue
		}
		member := hasConsensusRole(roles)
		if first || member != reported {
			if err := s.cfg.OnConsensusRole(member); err != nil {
				return fmt.Errorf("consensus role now %v: %w", member, err)
			}
			reported, first = member, false
		}
	}
}
