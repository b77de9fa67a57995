package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	"metropolis.dev/metropolis/node/curator/upnodes"
)

// leaseTimings are the leader election timings of the controller-manager and scheduler.
//
// Upstream's defaults (lease 15 s, renew deadline 10 s, retry 2 s) assume an apiserver and
// etcd that answer a lease renewal within a few seconds. Under TCG on two cores they do not
// always, and a component that misses its renew deadline exits: a 2-VM cluster saw 21
// controller-manager restarts and a new election every ~70 s. So the deadline follows what the
// node measures of its etcd, and a lone controller, which has no one to fail over to, gets a
// deadline that rides out long stalls: losing its lease only restarts it.
type leaseTimings struct {
	lease, renew, retry time.Duration
}

// Bounds of the renew deadline.
const (
	// loneRenewDeadline is a single controller's: a minute of stall before it gives up.
	loneRenewDeadline = 60 * time.Second
	// minRenewDeadline and maxRenewDeadline bound it with several controllers, where a shorter
	// one fails over sooner from a controller that died.
	minRenewDeadline = 15 * time.Second
	maxRenewDeadline = 60 * time.Second
	// renewsPerLatency is how many etcd round trips of the measured latency a renewal may
	// take: an apiserver write is a few of them, queued behind everything else the apiserver
	// and etcd do on a busy node.
	renewsPerLatency = 200
)

// electionTimings picks the timings for a cluster of controllers Kubernetes controllers
// (counting this one) whose etcd answers this node in etcdLatency. The lease is 1.5 times the
// renew deadline and the retry period a fifth of it, upstream's ratios.
func electionTimings(controllers int, etcdLatency time.Duration) leaseTimings {
	renew := min(max(minRenewDeadline, renewsPerLatency*etcdLatency), maxRenewDeadline)
	if controllers <= 1 {
		renew = loneRenewDeadline
	}
	renew = renew.Round(time.Second)
	return leaseTimings{lease: renew * 3 / 2, renew: renew, retry: renew / 5}
}

// args are the components' command line flags for t.
func (t leaseTimings) args() []string {
	return []string{
		"--leader-elect=true",
		"--leader-elect-lease-duration=" + t.lease.String(),
		"--leader-elect-renew-deadline=" + t.renew.String(),
		"--leader-elect-retry-period=" + t.retry.String(),
	}
}

// etcdLatency is the slowest of a few reads of one key from the local etcd member, which is
// what a lease renewal's etcd work waits on at least.
func etcdLatency(ctx context.Context, kv clientv3.KV) (time.Duration, error) {
	var slowest time.Duration
	for range 5 {
		start := time.Now()
		if _, err := kv.Get(ctx, EtcdPrefix+"/metropolis-latency-probe"); err != nil {
			return 0, fmt.Errorf("read from etcd: %w", err)
		}
		slowest = max(slowest, time.Since(start))
	}
	return slowest, nil
}

// errCounted ends countControllers' watch once the first complete set is in.
var errCounted = errors.New("counted")

// countControllers is the number of UP nodes with the KubernetesController role.
func countControllers(ctx context.Context, cur cpb.CuratorClient) (int, error) {
	n := 0
	err := upnodes.Follow(ctx, cur, 0, func(set upnodes.Set) error {
		for _, node := range set {
			if node.GetRoles().GetKubernetesController() != nil {
				n++
			}
		}
		return errCounted
	})
	if !errors.Is(err, errCounted) {
		return 0, err
	}
	return n, nil
}
