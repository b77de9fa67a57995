package worker

import (
	"context"
	"fmt"
	"time"

	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// renewer keeps the worker's Kubernetes certificates valid while it runs: a node may run for
// longer than they last. The files it replaces are read again by their users as they run: the
// kubelet (client certificate by client-go, serving certificate by the kubelet itself) and the
// worker's own clients (clientset).
type renewer struct {
	s       *Service
	current *credentials // the last written, kept across restarts of run
}

// run waits until the current certificates are due, then has the curator issue new ones and
// writes them. A failure returns: the supervisor restarts run, which retries at once (the
// certificates are still due) after its backoff.
func (r *renewer) run(ctx context.Context) error {
	logger := supervisor.Logger(ctx)
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	for {
		at := pki.RenewAt(r.current.validFrom, r.current.validUntil)
		logger.Infof("Kubernetes certificates valid until %s; renewing them at %s",
			r.current.validUntil.UTC().Format(time.RFC3339), at.UTC().Format(time.RFC3339))
		if err := supervisor.SleepUntil(ctx, at); err != nil {
			return err
		}
		next, err := fetchCredentials(ctx, r.s.cfg.Curator)
		if err != nil {
			return fmt.Errorf("renew Kubernetes certificates: %w", err)
		}
		if err := next.write(r.s.pkiDir(), "https://"+proxyAddress()); err != nil {
			return fmt.Errorf("renew Kubernetes certificates: %w", err)
		}
		r.current = next
		logger.Infof("Kubernetes certificates renewed")
	}
}
