package testenv

import (
	"errors"
	"fmt"
	"net"
	"time"

	apb "metropolis.dev/metropolis/api/v1"
)

// OneClock checks that nodes follow one clock (docs/time.md): the node at the lowest address
// among consensus members (curators) is the time reference, and every other node reports being
// synced with it, with an adjustment adjusted accepts, within the given offset. It returns
// what is not so yet, and a line per node for the log.
func OneClock(nodes []*apb.Node, adjusted func(string) bool, within time.Duration) (report []string, err error) {
	var lowest net.IP
	for _, n := range nodes {
		ip := net.ParseIP(n.GetStatus().GetExternalAddress()).To4()
		if n.GetStatus().GetRunningCurator() == nil || ip == nil {
			continue
		}
		if lowest == nil || string(ip) < string(lowest) {
			lowest = ip
		}
	}
	if lowest == nil {
		return nil, errors.New("no consensus member reports an IPv4 address yet")
	}
	reference := net.JoinHostPort(lowest.String(), "123")
	var errs []error
	for _, n := range nodes {
		ts, addr := n.GetStatus().GetTimeSync(), n.GetStatus().GetExternalAddress()
		report = append(report, fmt.Sprintf("%s: reference %v, synced %v with %s by %s, %v off (within %v)", addr,
			ts.GetReference(), ts.GetSynced(), ts.GetServer(), ts.GetAdjustment(), ts.GetOffset().AsDuration(), ts.GetRootDistance().AsDuration()))
		switch {
		case ts == nil:
			errs = append(errs, fmt.Errorf("%s reports no clock yet", addr))
		case net.ParseIP(addr).Equal(lowest):
			if !ts.GetReference() {
				errs = append(errs, fmt.Errorf("%s, the lowest member, is not the reference: %v", addr, ts))
			}
		case !ts.GetSynced() || ts.GetServer() != reference || !adjusted(ts.GetAdjustment()):
			errs = append(errs, fmt.Errorf("%s: %v, want synced with %s", addr, ts, reference))
		case ts.GetOffset().AsDuration().Abs() > within || ts.GetStratum() != 10:
			errs = append(errs, fmt.Errorf("%s: %v off at stratum %d, want within %v at stratum 10", addr, ts.GetOffset().AsDuration(), ts.GetStratum(), within))
		}
	}
	return report, errors.Join(errs...)
}
