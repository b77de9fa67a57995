package worker

import (
	"context"
	"fmt"

	"metropolis.dev/metropolis/node/renewal"
)

// renewer keeps the worker's Kubernetes certificates valid while it runs: a node may run for
// longer than they last. The files it replaces are read again by their users as they run: the
// kubelet (client certificate by client-go, serving certificate by the kubelet itself) and the
// worker's own clients (clientset).
type renewer struct {
	s       *Service
	current *credentials // the last written, kept across restarts of run
}

// run renews the certificates whenever they are due (renewal.Loop: a failed renewal is logged
// and retried, the files in place stay).
func (r *renewer) run(ctx context.Context) error {
	loop := renewal.Loop{
		What: "Kubernetes worker certificates", Clock: r.s.cfg.Clock,
		Current: func() (renewal.Validity, error) {
			return renewal.Validity{NotBefore: r.current.validFrom, NotAfter: r.current.validUntil}, nil
		},
		Renew: func(ctx context.Context) error {
			next, err := fetchCredentials(ctx, r.s.cfg.Curator, r.s.cfg.Address)
			if err != nil {
				return err
			}
			if err := next.write(r.s.pkiDir(), "https://"+proxyAddress()); err != nil {
				return fmt.Errorf("write: %w", err)
			}
			r.current = next
			return nil
		},
	}
	return loop.Run(ctx)
}
