package clusternet

import (
	"errors"
	"fmt"
	"net/netip"
	"path/filepath"

	"golang.zx2c4.com/wireguard/wgctrl/wgtypes"
	"k8s.io/client-go/kubernetes"

	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/event/memory"
)

const (
	// ConfListName is the file written in Config.CNIConfDir.
	ConfListName = "10-metropolis.conflist"
	// NetworkName is the CNI network's name.
	NetworkName = "metropolis"
	// InterfaceName is the WireGuard interface.
	InterfaceName = "metropolis-wg"
	// AnnotationWireGuardKey holds a node's WireGuard public key (base64).
	AnnotationWireGuardKey = "node.metropolis.dev/wireguard-key"
	// RouteProtocol marks the routes this package makes (rtnetlink's
	// rtm_protocol; 77 is unassigned in the kernel's and iproute2's lists).
	RouteProtocol = 77
	// TableName is our nf_tables table (family ip).
	TableName = "metropolis-podnet"

	defaultMTU        = 1420
	defaultListenPort = 51820
)

// Config is what the pod network needs from the node.
type Config struct {
	// Client watches Nodes (system:kube-proxy may get/list/watch them).
	Client kubernetes.Interface
	// NodeClient patches this node's Node to publish the WireGuard key: the
	// kubelet's identity (system:node:NAME), which NodeRestriction lets
	// change its own Node's annotations. Required with WireGuard.
	NodeClient kubernetes.Interface
	// NodeName is this node's Kubernetes name.
	NodeName string
	// CNIConfDir is where containerd's CRI plugin looks for CNI
	// configuration.
	CNIConfDir string
	// CNIDataDir is host-local's dataDir (its address leases).
	CNIDataDir string
	// PodCIDR is the cluster's pod range, e.g. "10.112.0.0/12" (IPv4).
	PodCIDR string
	// MTU is the pods' MTU (and the WireGuard interface's). Default 1420,
	// which leaves WireGuard's 80 bytes of a 1500-byte link.
	MTU int
	// WireGuard asks for encrypted node-to-node pod traffic. If the kernel
	// lacks WireGuard, the service says so once and routes plainly.
	WireGuard bool
	// ListenPort is WireGuard's UDP port, the same on every node. Default
	// 51820.
	ListenPort int
	// NetNS is a file descriptor of the network namespace to program; 0
	// means the node program's own. Tests use it.
	NetNS int
}

// Service keeps this node's pod network in line with the cluster's Nodes.
type Service struct {
	cfg      Config
	podRange netip.Prefix
	key      wgtypes.Key
	status   memory.Value[Status]

	// fallback is why WireGuard is not used although asked for: the
	// kernel's refusal, kept so that it is reported (and tried) once per
	// Service, not once per restart of Run.
	fallback string
}

// Status is what the service has done so far, for the node's status and
// tests.
type Status struct {
	// PodCIDR is this node's pod subnet once the CNI configuration for it
	// is written.
	PodCIDR netip.Prefix
	// WireGuard is true while pod traffic to other nodes goes over
	// InterfaceName.
	WireGuard bool
	// WireGuardFallback says why WireGuard was asked for but is not used.
	WireGuardFallback string
	// Peers is the number of other nodes routed to.
	Peers int
}

// New checks cfg and returns a Service. It generates this node's WireGuard
// key (if asked for WireGuard) but touches neither the API nor the kernel.
func New(cfg Config) (*Service, error) {
	if cfg.Client == nil {
		return nil, errors.New("clusternet: Config.Client is nil")
	}
	if cfg.NodeName == "" {
		return nil, errors.New("clusternet: Config.NodeName is empty")
	}
	if !filepath.IsAbs(cfg.CNIConfDir) || !filepath.IsAbs(cfg.CNIDataDir) {
		return nil, fmt.Errorf("clusternet: CNIConfDir %q and CNIDataDir %q must be absolute paths", cfg.CNIConfDir, cfg.CNIDataDir)
	}
	podRange, err := netip.ParsePrefix(cfg.PodCIDR)
	if err != nil || !podRange.Addr().Is4() {
		return nil, fmt.Errorf("clusternet: Config.PodCIDR %q is not an IPv4 prefix", cfg.PodCIDR)
	}
	if podRange != podRange.Masked() {
		return nil, fmt.Errorf("clusternet: Config.PodCIDR %q has host bits set", cfg.PodCIDR)
	}
	if cfg.MTU == 0 {
		cfg.MTU = defaultMTU
	}
	if cfg.MTU < 576 || cfg.MTU > 65535 {
		return nil, fmt.Errorf("clusternet: Config.MTU %d is outside 576..65535", cfg.MTU)
	}
	if cfg.ListenPort == 0 {
		cfg.ListenPort = defaultListenPort
	}
	if cfg.ListenPort < 1 || cfg.ListenPort > 65535 {
		return nil, fmt.Errorf("clusternet: Config.ListenPort %d is not a UDP port", cfg.ListenPort)
	}
	s := &Service{cfg: cfg, podRange: podRange}
	if cfg.WireGuard {
		if cfg.NodeClient == nil {
			return nil, errors.New("clusternet: Config.NodeClient is nil but WireGuard needs it to publish the key")
		}
		if s.key, err = wgtypes.GeneratePrivateKey(); err != nil {
			return nil, fmt.Errorf("clusternet: generating WireGuard key: %w", err)
		}
	}
	return s, nil
}

// Status returns the service's status as a watchable value; only the
// service sets it.
func (s *Service) Status() event.Value[Status] { return &s.status }
