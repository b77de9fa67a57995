// Package netpol enforces Kubernetes NetworkPolicies (networking.k8s.io/v1),
// and the ClusterNetworkPolicies (policy.networking.k8s.io/v1beta1) an
// operator sets around them, on a KubernetesWorker node, in nf_tables,
// beside the service proxy.
//
// It owns exactly one table, "ip metropolis-netpol", in the network namespace
// it is given. Pods are IPv4 only (clusternet hands out addresses from the
// IPv4 pod range), so IPv6 ipBlocks are accepted and match nothing.
//
// Why our own rather than an upstream implementation: kube-router and Calico
// bring iptables and ipset, kube-network-policies judges packets in userspace
// through nfqueue and shells out to nft, and the node image has neither a
// shell nor an nft binary. This package talks netlink (github.com/google/nftables),
// as svcproxy does, and replaces its table in one batch.
//
// The decision is pure: Desired turns Pods, Namespaces and NetworkPolicies
// into one Rules value per local pod (is it isolated for ingress, for egress,
// and which peer address ranges × protocol × port ranges are allowed), with
// selectors, named ports and ipBlock exceptions resolved. Where a
// ClusterNetworkPolicy selects the pod, resolve folds its tiers in (Admin,
// then NetworkPolicy, then Baseline, then allow) so the answer keeps the same
// form: the kernel never sees tiers, only each pod's allow set. Apply writes that
// into two concatenated-range sets per direction, so a packet costs one set
// lookup whatever the number of policies:
//
//	forward, input (prio filter-5):
//	  ct direction reply, ct state established,related     accept
//	  ct state established,related, ct mark == generation  accept
//	  daddr ∈ @ingress-isolated, daddr.saddr.l4proto.dport ∉ @ingress-allow  reject
//	  saddr ∈ @egress-isolated,  saddr.daddr.l4proto.dport ∉ @egress-allow   reject
//	  ct mark set generation
//
// Each Apply bumps the generation, so every established connection has its
// next packet in its original direction judged again under the new rules:
// connections a policy no longer allows are cut (TCP with a reset), and allowed
// ones go on. Reply packets are never judged: they belong to a connection
// the rules let in. Rejecting, rather than dropping, makes a refused
// connection fail at once instead of after the client's timeout.
//
// Upstream semantics, which the tests check:
//   - Traffic from the node itself to its pods (the kubelet's probes) is
//     always allowed: the output hook is not filtered.
//   - A pod's egress rules also cover traffic to the node it runs on, such as
//     the cluster DNS, which listens on DNSAddress on every worker. That DNS
//     answers as a peer in namespace kube-system with the label
//     k8s-app=kube-dns (see ClusterDNSPeer), so the usual "allow DNS" egress rule
//     that selects kube-dns pods works.
//   - Host-network pods have the node's addresses: pod and namespace
//     selectors never select them, neither as targets nor as peers. Their
//     traffic matches ipBlocks by the node's address.
//   - Traffic is judged after the service proxy's DNAT: a policy sees the pod
//     behind a Service, as Kubernetes defines it.
//   - Pods that are not running (no IP, Succeeded, Failed) are neither
//     targets nor peers.
package netpol
