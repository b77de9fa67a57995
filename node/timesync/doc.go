// Package timesync keeps a node's clock: it asks NTP servers what time it is, steps the clock
// once when it is far off (at boot, before certificates and leases are judged by it) and slews
// it from then on with the kernel's phase-locked loop, and reports how far off the node is. On
// consensus members it also answers NTP requests, so that a cluster without an outside server
// at least agrees with itself.
//
// The NTP client is github.com/beevik/ntp; the answers are encoded with the packet type of
// github.com/facebook/time/ntp/protocol; the clock is adjusted through adjtimex(2). What to do
// with a set of answers (Best, Decide) is pure and table-tested; the service around it
// (Service) only queries, applies and publishes.
//
// The node (node/core) runs the service with the cluster's time reference as its server
// (ClusterServers: the consensus member with the lowest address, which serves its own clock),
// and consensus members answer NTP requests (node/roleserve); the status goes out with the
// node's (api/v1 TimeSyncStatus) and shows in `metroctl node describe`. Outside servers (from
// the node's configuration or DHCP's NTP option) are not asked yet. docs/time.md.
package timesync
