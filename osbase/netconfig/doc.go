// Package netconfig brings up a node's network from its configuration (Config: a checked
// static configuration from osbase/ipconfig, or DHCP) and keeps it up: the loopback link, then
// one Ethernet link, or a bond of several (bond.go), configured either statically
// (addresses, default gateways, nameservers) or by DHCPv4, whose lease it renews for as long
// as it runs. It publishes what the link has (Status) as a watchable value, so that the rest
// of the node can wait for "has an address" (HasAddress) and learn which address that is.
//
// It works in the calling process's network namespace: on a machine that is PID 1's, in the
// tests a namespace the test binary is re-executed in. It owns the chosen link's addresses and
// default routes, the bond link bond0 and its cards' membership (a bond0 it is not asked for is
// removed, including the unconfigured one the kernel makes when its bonding module loads), and
// the resolver file named by Config.ResolvConfPath (the image's root is read-only, so the node
// points that at a tmpfs); it owns no other links, no firewall, and no routes besides the
// default ones. Not handled here: DHCPv6 and router advertisements
// (IPv6 is configured statically; link-local addresses, and SLAAC on networks that advertise
// prefixes, are left to the kernel), DHCP's classless static routes (option 121), and a
// link losing carrier (a DHCP lease then runs out and is requested again).
//
// It remembers the node's lasting network (an Intent marked Keep) in Config.MemoryPath, on the
// image the ESP, and starts the next boot with it (memory.go): the network a node's cluster
// gives it must outlive a reboot, which happens before the node can reach the cluster again.
//
// It checks nothing of the configuration it is given: osbase/ipconfig does, and the node's
// parameters are checked with it (api/v1) before they get here. A remembered network is
// checked again with ipconfig when it is read back.
package netconfig
