// Package clusterdns is the Kubernetes cluster DNS of a KubernetesWorker node: a small DNS
// server, run inside the node program on every worker, that answers the names of the cluster
// domain (by default cluster.local) from Services and EndpointSlices watched through client-go
// shared informers, and forwards every other name to the node's upstream resolvers.
//
// Like NodeLocal DNSCache, each worker runs its own instance: the node binds it on a link-local
// address (169.254.20.10:53) and the kubelet's --cluster-dns points pods at it, so a pod's
// queries never leave its node to reach a DNS pod, and cluster DNS needs no Deployment, no
// Service and no ClusterIP of its own.
//
// What it owns: the UDP and TCP listeners on Config.Listen, the two informers (Services and
// EndpointSlices, managed fields stripped to keep the cache small) and the answers, which follow
// the Kubernetes DNS specification (github.com/kubernetes/dns, docs/specification.md, 1.1.0):
//
//   - <svc>.<ns>.svc.<domain> A/AAAA: the ClusterIPs of the family asked for; a headless
//     Service: its ready endpoint addresses. An ExternalName Service: a CNAME, followed when
//     its target is in the cluster domain or an upstream can resolve it.
//   - <hostname>.<svc>.<ns>.svc.<domain>: a headless Service's endpoint with that hostname, or
//     without one, the endpoint whose address written with dashes (10-0-0-1) is the label.
//   - _<port>._<proto>.<svc>.<ns>.svc.<domain> SRV: the Service's named ports, with the
//     addresses of the targets in the additional section.
//   - PTR of ClusterIPs and headless endpoint addresses; dns-version.<domain> TXT.
//   - <a-b-c-d>.<ns>.pod.<domain>: the address written in the name (kubeadm's default
//     "pods insecure" behaviour, which pods relying on it expect).
//   - A name under the domain that does not exist: NXDOMAIN with the SOA in the authority
//     section; a name that exists without records of the asked type: NOERROR, no answer, SOA.
//
// Names outside the domain go to Config.Upstreams in order, the first that answers within its
// timeout winning; with no upstream they are REFUSED at once. Cluster names never wait on an
// upstream, because pods try every search-path suffix (x.ns.svc.<domain>, x.svc.<domain>, ...)
// before the name they meant. Names are matched case-insensitively; UDP answers that do not fit
// are truncated (TC) so that clients retry over TCP.
//
// Why our own rather than CoreDNS (as a library or a process): a worker must idle under 200 MB,
// and CoreDNS brings its plugin chain, Caddy's configuration machinery, metrics and a copy of
// the client-go it uses, most of it unused here; what a cluster needs is a few hundred lines
// over github.com/miekg/dns (which CoreDNS itself is built on) and two informers.
package clusterdns
