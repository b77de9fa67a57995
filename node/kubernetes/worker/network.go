package worker

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"syscall"

	"github.com/vishvananda/netlink"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	cnpclient "sigs.k8s.io/network-policy-api/pkg/client/clientset/versioned"

	"metropolis.dev/metropolis/node/kubernetes/clusterdns"
	"metropolis.dev/metropolis/node/kubernetes/clusternet"
	"metropolis.dev/metropolis/node/kubernetes/netpol"
	kpki "metropolis.dev/metropolis/node/kubernetes/pki"
	"metropolis.dev/metropolis/node/kubernetes/svcproxy"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// PodCIDR is the cluster's pod range (node/kubernetes.PodCIDR, repeated here so the worker
// does not import the control plane).
const PodCIDR = "10.112.0.0/12"

// dnsInterface carries DNSAddress on every worker.
const dnsInterface = "metropolis-dns"

// clientset is a Kubernetes client through the local apiserver proxy, trusting ca (PEM), with
// the certificate and key in certKeyFile. client-go reads that file again when it changes:
// renewed certificates (renewCredentials) take effect without a restart.
func clientset(ca []byte, certKeyFile string) (*kubernetes.Clientset, error) {
	return kubernetes.NewForConfig(restConfig(ca, certKeyFile))
}

func restConfig(ca []byte, certKeyFile string) *rest.Config {
	return &rest.Config{
		Host: "https://" + proxyAddress(),
		TLSClientConfig: rest.TLSClientConfig{
			ServerName: "kubernetes", CAData: ca, CertFile: certKeyFile, KeyFile: certKeyFile,
		},
		UserAgent: "metropolis-worker",
	}
}

// runNetwork starts the pod network, the service proxy, NetworkPolicy enforcement and the
// cluster DNS, each a runnable of its own.
func (s *Service) runNetwork(ctx context.Context, creds *credentials) error {
	proxyClient, err := clientset(creds.ca, filepath.Join(s.pkiDir(), proxyClientFile))
	if err != nil {
		return err
	}
	nodeClient, err := clientset(creds.ca, filepath.Join(s.pkiDir(), kubeletClientFile))
	if err != nil {
		return err
	}
	podnet, err := clusternet.New(clusternet.Config{
		Client: proxyClient, NodeClient: nodeClient, NodeName: s.cfg.NodeID,
		CNIConfDir: s.cniConfDir(), CNIDataDir: filepath.Join(s.cfg.RunDir, "cni", "networks"),
		PodCIDR: PodCIDR, WireGuard: true,
	})
	if err != nil {
		return err
	}
	services, err := svcproxy.New(svcproxy.Config{
		Client: proxyClient, NodeName: s.cfg.NodeID, ClusterCIDRs: []netip.Prefix{netip.MustParsePrefix(PodCIDR)},
	})
	if err != nil {
		return err
	}
	clusterPolicyClient, err := cnpclient.NewForConfig(restConfig(creds.ca, filepath.Join(s.pkiDir(), proxyClientFile)))
	if err != nil {
		return err
	}
	policies, err := netpol.New(netpol.Config{
		Client: proxyClient, ClusterPolicyClient: clusterPolicyClient, NodeName: s.cfg.NodeID,
		ExtraPeers: []netpol.Peer{
			netpol.ClusterDNSPeer(netip.MustParseAddr(DNSAddress)),
			netpol.ClusterDNSPeer(netip.MustParseAddr(kpki.DNSServiceIP.String())),
		},
	})
	if err != nil {
		return err
	}
	if err := ensureDNSAddress(); err != nil {
		return err
	}
	upstreams, err := upstreamResolvers(s.cfg.ResolvConf)
	if err != nil {
		return err
	}
	dns, err := clusterdns.New(clusterdns.Config{
		Client: proxyClient, Listen: net.JoinHostPort(DNSAddress, "53"), Domain: ClusterDomain,
		AlsoListen: []string{net.JoinHostPort(kpki.DNSServiceIP.String(), "53")},
		Upstreams:  upstreams,
	})
	if err != nil {
		return err
	}
	resolvers := &resolverFollower{path: s.cfg.ResolvConf, dns: dns, interval: resolversInterval, clock: s.cfg.Clock}
	for _, r := range []struct {
		name string
		run  supervisor.Runnable
	}{{"podnet", podnet.Run}, {"services", services.Run}, {"netpol", policies.Run}, {"resolvers", resolvers.run}, {"dns", dns.Run}} {
		if err := supervisor.Run(ctx, r.name, r.run); err != nil {
			return err
		}
	}
	return nil
}

// ensureDNSAddress puts DNSAddress and the kube-dns Service's ClusterIP on a dummy interface of
// its own, so the cluster DNS can bind them and pods reach them through their default route to
// the node.
func ensureDNSAddress() error {
	link, err := netlink.LinkByName(dnsInterface)
	if err != nil {
		var notFound netlink.LinkNotFoundError
		if !errors.As(err, &notFound) {
			return fmt.Errorf("cluster DNS interface %s: %w", dnsInterface, err)
		}
		if err := netlink.LinkAdd(&netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Name: dnsInterface}}); err != nil {
			return fmt.Errorf("create cluster DNS interface %s: %w", dnsInterface, err)
		}
		if link, err = netlink.LinkByName(dnsInterface); err != nil {
			return err
		}
	}
	for _, ip := range []net.IP{net.ParseIP(DNSAddress), kpki.DNSServiceIP} {
		addr := &netlink.Addr{IPNet: &net.IPNet{IP: ip, Mask: net.CIDRMask(32, 32)}}
		if err := netlink.AddrAdd(link, addr); err != nil && !errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("address %s on %s: %w", ip, dnsInterface, err)
		}
	}
	return netlink.LinkSetUp(link)
}
