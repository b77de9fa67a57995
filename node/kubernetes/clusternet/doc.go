// Package clusternet is the pod network of a KubernetesWorker node. It owns
// three things, and only these:
//
//   - the CNI configuration (CNIConfDir/10-metropolis.conflist) that
//     containerd's CRI plugin hands to the upstream ptp and host-local
//     plugins: pods get a veth pair and an address from this node's
//     spec.podCIDR, which the controller-manager allocates (a /24 of the
//     cluster's pod range);
//   - the way to other nodes' pods: a route per other node's podCIDR, either
//     plainly via that node's InternalIP, or over one WireGuard interface
//     (metropolis-wg) with a peer per node, so that pod traffic between nodes
//     is encrypted; the routes carry our own protocol number (RouteProtocol)
//     so stale ones are found and removed;
//   - pod egress: one nf_tables table ("ip metropolis-podnet") masquerading
//     traffic from the pod range to anything outside it, and
//     net.ipv4.ip_forward=1.
//
// Why no overlay (VXLAN, Geneve): nodes either share an L2 segment, where a
// route via the other node's address is all it takes, or they use
// WireGuard, which is both the tunnel and the encryption. Neither needs
// encapsulation state, a control plane of its own or an MTU split beyond
// WireGuard's 80 bytes (pods' MTU defaults to 1420).
//
// WireGuard keys: each node generates a private key when its Service is
// made and keeps it only in memory (a reboot makes a new one); it publishes
// the public key in its Node's annotation AnnotationWireGuardKey, through
// the kubelet's identity, which NodeRestriction lets patch its own Node.
// Peers come from the other Nodes' annotations. A node whose kernel lacks
// WireGuard logs that once and routes plainly. A cluster that mixes the
// two is not supported: WireGuard nodes only route to nodes that published
// a key.
//
// The tunnel interface carries this node's pod gateway address (the first
// address of its podCIDR, which host-local keeps for the gateway and ptp
// puts on every host-side veth), and routes over it use that address as
// their source: a WireGuard peer accepts only packets whose source lies in
// its AllowedIPs (our podCIDR), so traffic that the node itself sends to a
// remote pod must come from the podCIDR too.
//
// The pure parts (conflist contents, which routes and peers the Nodes ask
// for, the difference from what the kernel has) are separate from the
// kernel parts so that they are tested without root.
package clusternet
