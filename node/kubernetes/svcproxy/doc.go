// Package svcproxy is the Kubernetes service proxy of a KubernetesWorker node:
// it watches Services and EndpointSlices and programs the kernel (nf_tables)
// so that traffic to a Service's ClusterIP:port, or to a NodePort on the
// node's own addresses, is DNAT'ed to one of the Service's ready endpoints,
// picked at random.
//
// It owns exactly two tables, "ip metropolis-services" and
// "ip6 metropolis-services", in the network namespace it is given, and
// nothing else in the ruleset.
//
// Why our own rather than kube-proxy: kube-proxy's nftables mode drives the
// nft binary, and the node image is shell-less and has none. This package
// talks netlink directly (github.com/google/nftables), needs no
// k8s.io/kubernetes import, and replaces each table as a whole in one netlink
// batch (add, delete, add again, then fill), so the kernel never sees a
// half-applied rule set and a restarted proxy simply replaces what an earlier
// one left.
//
// The layout mirrors kube-proxy's nftables mode, much reduced:
//
//	nat prerouting/output   → dispatch
//	dispatch                 daddr . l4proto . dport vmap @services
//	                         fib daddr type local: l4proto . dport vmap @nodeports
//	nodeport-N               mark for masquerade, goto service-N
//	service-N                (source outside ClusterCIDRs: mark), numgen random mod K vmap → endpoint-N-k
//	endpoint-N-k             (source is the endpoint itself, hairpin: mark), dnat to endpoint
//	nat postrouting          marked: masquerade
//	filter input/forward/output: daddr . l4proto . dport @no-endpoints → reject
//
// After a sync that removed UDP endpoints, their conntrack entries are
// deleted (as kube-proxy does), or clients that keep their source port would
// keep reaching the old endpoint.
//
// The pure part (Services + EndpointSlices → []ServicePort) is Desired; the
// kernel part is Apply; Proxy ties them to client-go informers.
package svcproxy
