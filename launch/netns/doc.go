// Package netns builds the private network of a hosted Metropolis cluster: one Linux network
// namespace per node, each joined by a veth pair to a bridge in the host's namespace, on a
// private IPv4 subnet. The host holds the subnet's first address on the bridge, so tests and
// metroctl on the host reach every node directly. Nodes are numbered from 1, as people count
// them; node i holds the address i after the host's and routes everything else through the host.
//
// Names follow the network's name, so that whatever a crashed launcher left behind can be found
// and removed by name alone (DestroyByName, or RemoveLeftovers, which first checks that no
// process runs in the network or holds its tap devices open): the bridge is "mp-NAME", node i's namespace (under
// /run/netns, as `ip netns add` makes it, so `ip netns exec mp-NAME-i ...` works for
// inspection) and the host end of its veth pair are both "mp-NAME-i". Linux allows 15 bytes
// for an interface name, which is why NAME is short: at most 8 lowercase letters and digits (no
// dashes, so that one network's names can never be mistaken for another's).
//
// It owns these namespaces, links and addresses, and nothing else on the host: it neither
// enables forwarding nor touches the firewall. (If the host's bridge netfilter hook is active
// and its iptables FORWARD chain drops traffic, nodes can reach the host but not each other.)
// It does not start nodes: the hosted launcher (launch/hosted) starts each node program inside
// its namespace with Network.Command (a later run finds the network again with Attach), and
// end-to-end tests cut a node off with SetLinkUp.
//
// Everything here needs root (CAP_NET_ADMIN and CAP_SYS_ADMIN).
package netns
