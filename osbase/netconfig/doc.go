// Package netconfig brings up a node's network from its parameters (api/v1 NetworkConfig) and
// keeps it up: the loopback link, then one Ethernet link configured either statically
// (addresses, default gateways, nameservers) or by DHCPv4, whose lease it renews for as long
// as it runs. It publishes what the link has (Status) as a watchable value, so that the rest
// of the node can wait for "has an address" (HasAddress) and learn which address that is.
//
// It works in the calling process's network namespace: on a machine that is PID 1's, in the
// tests a namespace the test binary is re-executed in. It owns the chosen link's addresses and
// default routes, and the resolver file named by Config.ResolvConfPath (the image's root is
// read-only, so the node points that at a tmpfs); it owns no other links, no firewall, and
// no routes besides the default ones. Not handled here: DHCPv6 and router advertisements
// (IPv6 is configured statically; link-local addresses, and SLAAC on networks that advertise
// prefixes, are left to the kernel), DHCP's classless static routes (option 121), and a
// link losing carrier (a DHCP lease then runs out and is requested again).
//
// Validation of a static configuration (ParseConfig) names the field that is wrong by its
// proto path, as apb.ValidateNodeParameters does, and goes further than syntax: a gateway must
// lie in a subnet of the link, an address must not be its subnet's network or broadcast
// address.
package netconfig
