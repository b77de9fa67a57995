package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"metropolis.dev/metropolis/osbase/eventually"
)

// testOneClock: with no outside time server, the consensus member with the lowest address is
// the cluster's time reference and serves its clock over NTP; the other nodes ask it and
// report how far off they are. Hosted nodes share this machine's clock, so they only measure
// ("measured") and must find themselves within 100 ms of it.
func testOneClock(t *testing.T, c *testCluster) {
	var lowest net.IP
	for _, a := range c.Addresses {
		ip := net.ParseIP(a).To4()
		if lowest == nil || string(ip) < string(lowest) {
			lowest = ip
		}
	}
	reference := net.JoinHostPort(lowest.String(), "123")
	eventually.Pass(t, 2*time.Minute, "every node's clock reported: one reference, the others synced with it", func(ctx context.Context) error {
		nodes, err := listNodes(ctx, c.mgmt)
		if err != nil {
			return err
		}
		var errs []error
		for _, n := range nodes {
			ts, addr := n.GetStatus().GetTimeSync(), n.GetStatus().GetExternalAddress()
			switch {
			case ts == nil:
				errs = append(errs, fmt.Errorf("%s reports no clock yet", addr))
			case net.ParseIP(addr).Equal(lowest):
				if !ts.GetReference() {
					errs = append(errs, fmt.Errorf("%s, the lowest member, is not the reference: %v", addr, ts))
				}
			case !ts.GetSynced() || ts.GetServer() != reference || ts.GetAdjustment() != "measured":
				errs = append(errs, fmt.Errorf("%s: %v, want synced with %s, measured", addr, ts, reference))
			case ts.GetOffset().AsDuration().Abs() > 100*time.Millisecond || ts.GetStratum() != 10:
				errs = append(errs, fmt.Errorf("%s: %v off at stratum %d, want within 100ms at stratum 10 (one machine's clock)", addr, ts.GetOffset().AsDuration(), ts.GetStratum()))
			}
		}
		return errors.Join(errs...)
	})
	nodes, err := listNodes(callContext(t), c.mgmt)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		ts := n.GetStatus().GetTimeSync()
		t.Logf("%s: reference %v, synced %v with %s, %v off (within %v)", n.GetStatus().GetExternalAddress(), ts.GetReference(), ts.GetSynced(), ts.GetServer(), ts.GetOffset().AsDuration(), ts.GetRootDistance().AsDuration())
	}
}
