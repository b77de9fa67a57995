package kubernetes

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"k8s.io/utils/clock"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	apb "metropolis.dev/metropolis/api/v1"
	kpki "metropolis.dev/metropolis/node/kubernetes/pki"
	"metropolis.dev/metropolis/node/ports"
	"metropolis.dev/metropolis/node/renewal"
	"metropolis.dev/metropolis/osbase/event"
	"metropolis.dev/metropolis/osbase/logtree"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// Cluster-wide settings of the control plane.
const (
	// ServiceCIDR is the range of service IPs (pki.ServiceIP is its first address).
	ServiceCIDR = "10.96.0.0/12"
	// PodCIDR is the range of pod IPs; the controller-manager gives each node a
	// /PodCIDRMaskSize of it (the node's spec.podCIDR), which its pods' addresses come from.
	PodCIDR         = "10.112.0.0/12"
	PodCIDRMaskSize = 24
	// EtcdPrefix is where the apiserver keeps its objects in the cluster's etcd.
	EtcdPrefix = "/kubernetes"
	// ServiceAccountIssuer is the issuer of service-account tokens.
	ServiceAccountIssuer = "https://kubernetes.default.svc"
	// KubeBinaryName is the multicall binary's file name, looked for next to the node program.
	KubeBinaryName = "kube"
	// KubeBinaryEnv names the environment variable that overrides where the kube binary is.
	KubeBinaryEnv = "METROPOLIS_KUBE_BINARY"
)

// Config is what the control plane needs from the node.
type Config struct {
	// KubeBinary is the path of the `kube` multicall binary. Empty means $METROPOLIS_KUBE_BINARY
	// if set (how the hosted launcher points its node processes at a binary kept elsewhere),
	// else KubeBinaryName in the node program's directory (the node image puts it there).
	KubeBinary string
	// StateDir holds the components' files; created if missing.
	StateDir string
	// Hostname is the host name the components see (each runs in a UTS namespace of its own):
	// the node ID. The apiserver's identity lease is named after it, so it must differ between
	// controllers even when they share a machine's host name (hosted nodes).
	Hostname string
	// Address is the node's address: advertised by the apiserver and in its certificate. Never
	// loopback (the apiserver's endpoint reconciler refuses it).
	Address net.IP
	// Etcd is a client of the local etcd member, for the shared Kubernetes PKI.
	Etcd clientv3.KV
	// EtcdAddress is host:port of the local member's TLS client listener; EtcdCA is the
	// cluster CA; EtcdClientCertificate is the node's consensus certificate, presented to etcd
	// by the socket forwarder in this process.
	EtcdAddress           string
	EtcdCA                *x509.Certificate
	EtcdClientCertificate tls.Certificate
	// Curator tells which nodes are KubernetesWorkers: the Nodes of others are deleted.
	Curator cpb.CuratorClient
	// ClusterConfiguration, if set, follows the cluster's configuration, whose rules give
	// labels and taints to Nodes. Nil: none.
	ClusterConfiguration func() event.Watcher[*apb.StoredClusterConfiguration]
	// Clock is the time the component certificates' reissue waits by; nil: the real clock.
	Clock clock.WithTicker
}

// Service runs the control plane of one controller node. Run it under the supervisor.
type Service struct {
	cfg  Config
	kube string
}

// New checks cfg and finds the kube binary.
func New(cfg Config) (*Service, error) {
	var errs []error
	if cfg.Hostname == "" {
		errs = append(errs, errors.New("host name is empty"))
	}
	if cfg.StateDir == "" {
		errs = append(errs, errors.New("state directory is empty"))
	} else if abs, err := filepath.Abs(cfg.StateDir); err != nil {
		errs = append(errs, fmt.Errorf("state directory: %w", err))
	} else {
		cfg.StateDir = abs // the apiserver's etcd socket URL needs an absolute path
	}
	if cfg.Address == nil || cfg.Address.IsLoopback() || cfg.Address.IsUnspecified() {
		errs = append(errs, fmt.Errorf("address %v is not a routable node address (the apiserver advertises it)", cfg.Address))
	}
	if cfg.Curator == nil {
		errs = append(errs, errors.New("a curator client is required"))
	}
	if cfg.Etcd == nil || cfg.EtcdAddress == "" || cfg.EtcdCA == nil || cfg.EtcdClientCertificate.Leaf == nil {
		errs = append(errs, errors.New("the local etcd member (client, address, CA, certificate with Leaf set) is required: a KubernetesController must also be a ConsensusMember"))
	}
	kube := cfg.KubeBinary
	if kube == "" {
		kube = os.Getenv(KubeBinaryEnv)
	}
	if kube == "" {
		self, err := os.Executable()
		if err != nil {
			errs = append(errs, fmt.Errorf("find the node program to find %s next to it: %w", KubeBinaryName, err))
		}
		kube = filepath.Join(filepath.Dir(self), KubeBinaryName)
	}
	if st, err := os.Stat(kube); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		errs = append(errs, fmt.Errorf("kubernetes binary %s is missing or not executable (build it: go build -o %s ./cmd/kube)", kube, kube))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("kubernetes controller: %w", err)
	}
	return &Service{cfg: cfg, kube: kube}, nil
}

// Run issues this controller's certificates, starts the components and, once the apiserver is
// ready, makes sure the owner is a cluster-admin. It signals healthy then and runs until ctx
// ends; a component that fails restarts on its own.
func (s *Service) Run(ctx context.Context) error {
	logger := supervisor.Logger(ctx)
	start := time.Now()
	ca, err := s.writeFiles(ctx, s.cfg.Etcd)
	if err != nil {
		return err
	}
	proxy, err := newEtcdProxy(s.path(etcdSocketFile), s.cfg.EtcdAddress, s.cfg.EtcdCA, s.cfg.EtcdClientCertificate)
	if err != nil {
		return err
	}
	timings := s.electionTimings(ctx)
	runnables := []struct {
		name string
		run  supervisor.Runnable
	}{
		{"etcd-socket", proxy.Run},
		{"apiserver", s.component("apiserver", s.apiserverArgs())},
		{"controller-manager", s.component("controller-manager", s.controllerManagerArgs(timings))},
		{"scheduler", s.component("scheduler", s.schedulerArgs(timings))},
		{"metrics-server", s.component("metrics-server", s.metricsServerArgs())},
	}
	for _, r := range runnables {
		if err := supervisor.Run(ctx, r.name, r.run); err != nil {
			return err
		}
	}
	admin, err := s.adminClient()
	if err != nil {
		return err
	}
	if err := admin.waitReady(ctx, logger); err != nil {
		return err
	}
	logger.Infof("apiserver ready %.1fs after this controller started", time.Since(start).Seconds())
	if err := admin.bind(ctx, logger.Warningf); err != nil {
		return err
	}
	if err := admin.installCRDs(ctx, logger.Warningf); err != nil {
		return err
	}
	if err := admin.installMetricsAPI(ctx, ca.CertificatePEM()); err != nil {
		return err
	}
	if err := supervisor.Run(ctx, "node-sync", func(ctx context.Context) error { return s.syncNodes(ctx, admin) }); err != nil {
		return err
	}
	supervisor.Signal(ctx, supervisor.SignalHealthy)
	// The components' certificates are issued above, at every start, and last
	// kpki.ComponentValidity: restart before they run out, as the node's other certificates
	// are renewed (node/pki.RenewAt). The controllers of a cluster restart one by one, each
	// when its own certificates are due; the apiserver proxy of the workers fails over.
	reissue := renewal.Loop{
		What: "control-plane component certificates", Clock: s.cfg.Clock,
		Current: func() (renewal.Validity, error) {
			return renewal.Validity{NotBefore: start, NotAfter: start.Add(kpki.ComponentValidity)}, nil
		},
		Renew: func(context.Context) error {
			return renewal.Restart(errors.New("component certificates due for renewal: restarting the control plane to reissue them"))
		},
	}
	return reissue.Run(ctx)
}

// component runs `kube NAME args...` as the runnable's process. Pdeathsig ends it with the node
// process even when that is killed outright, so no apiserver outlives its node.
func (s *Service) component(name string, args []string) supervisor.Runnable {
	return func(ctx context.Context) error {
		cmd := exec.Command(s.kube, append([]string{name}, args...)...)
		cmd.Env = []string{"PATH=/usr/bin:/bin", "METROPOLIS_KUBE_HOSTNAME=" + s.cfg.Hostname}
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Cloneflags: syscall.CLONE_NEWUTS}
		return supervisor.RunCommand(ctx, cmd, supervisor.WithLineParser(logtree.ParseKlog))
	}
}

func (s *Service) path(name string) string { return filepath.Join(s.cfg.StateDir, name) }

// localServer is how the components on this node reach the apiserver.
func (s *Service) localServer() string {
	return "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(int(ports.KubernetesAPI)))
}

func (s *Service) apiserverArgs() []string {
	return append([]string{
		"--advertise-address=" + s.cfg.Address.String(),
		"--secure-port=" + strconv.Itoa(int(ports.KubernetesAPI)),
		"--etcd-servers=unix://" + s.path(etcdSocketFile),
		"--etcd-prefix=" + EtcdPrefix,
		"--tls-cert-file=" + s.path(servingCertFile),
		"--tls-private-key-file=" + s.path(servingKeyFile),
		"--client-ca-file=" + s.path(caFile),
		"--anonymous-auth=false",
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--service-account-issuer=" + ServiceAccountIssuer,
		"--service-account-key-file=" + s.path(saPubFile),
		"--service-account-signing-key-file=" + s.path(saKeyFile),
		"--service-cluster-ip-range=" + ServiceCIDR,
		"--kubelet-client-certificate=" + s.path(kubeletClientCert),
		"--kubelet-client-key=" + s.path(kubeletClientKey),
		// Kubelets serve with certificates from the Kubernetes CA for their node address.
		"--kubelet-certificate-authority=" + s.path(caFile),
		"--kubelet-preferred-address-types=InternalIP",
		"--cert-dir=" + s.path("apiserver-generated"),
		"--profiling=false",
		// API aggregation (the resource metrics API): the apiserver passes requests on with the
		// front proxy certificate, naming the caller in these headers, and believes them only
		// from that certificate. It dials the aggregated servers' endpoints (the controllers'
		// addresses) rather than their ClusterIPs, which controllers that are not workers
		// cannot reach.
		"--proxy-client-cert-file=" + s.path(frontProxyCertFile),
		"--proxy-client-key-file=" + s.path(frontProxyKeyFile),
		"--enable-aggregator-routing=true",
	}, s.requestHeaderArgs()...)
}

// requestHeaderArgs make a server believe the caller the front proxy names in its headers,
// from the front proxy's certificate only: the apiserver's and every aggregated server's.
func (s *Service) requestHeaderArgs() []string {
	return []string{
		"--requestheader-client-ca-file=" + s.path(frontProxyCAFile),
		"--requestheader-allowed-names=" + kpki.UserFrontProxy,
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
	}
}

// metricsServerArgs run the resource metrics API (metricsapi.go) on the node's address. It
// reads every kubelet's /metrics/resource at the address the kubelet's serving certificate
// (from the Kubernetes CA) names, and believes the apiserver's front proxy, whose CA it is
// given here rather than reading it from the extension-apiserver-authentication ConfigMap.
func (s *Service) metricsServerArgs() []string {
	kc := s.path(metricsServerConfig)
	return append([]string{
		"--kubeconfig=" + kc,
		"--authentication-kubeconfig=" + kc,
		"--authorization-kubeconfig=" + kc,
		"--bind-address=" + s.cfg.Address.String(),
		"--secure-port=" + strconv.Itoa(int(ports.MetricsServer)),
		"--tls-cert-file=" + s.path(msServingCertFile),
		"--tls-private-key-file=" + s.path(msServingKeyFile),
		"--kubelet-certificate-authority=" + s.path(caFile),
		"--kubelet-preferred-address-types=InternalIP",
		"--kubelet-use-node-status-port",
		"--metric-resolution=15s",
		"--profiling=false",
	}, s.requestHeaderArgs()...)
}

func (s *Service) controllerManagerArgs(timings leaseTimings) []string {
	kc := s.path(controllerMgrConfig)
	return append(timings.args(),
		"--kubeconfig="+kc,
		"--authentication-kubeconfig="+kc,
		"--authorization-kubeconfig="+kc,
		// A controller-manager that stops (its controller's role revoked, the node shut
		// down) hands its lease on at once instead of leaving it to expire.
		"--feature-gates=ControllerManagerReleaseLeaderElectionLockOnExit=true",
		"--bind-address=127.0.0.1",
		"--service-account-private-key-file="+s.path(saKeyFile),
		"--root-ca-file="+s.path(caFile),
		"--use-service-account-credentials=true",
		"--allocate-node-cidrs=true",
		"--cluster-cidr="+PodCIDR,
		"--node-cidr-mask-size="+strconv.Itoa(PodCIDRMaskSize),
		"--service-cluster-ip-range="+ServiceCIDR,
		// Served with a certificate from the Kubernetes CA (not a self-signed one in cert-dir),
		// so the node program reading its figures can check it (metrics.go).
		"--tls-cert-file="+s.path(cmServingCertFile),
		"--tls-private-key-file="+s.path(cmServingKeyFile),
		"--cert-dir="+s.path("controller-manager-generated"),
		"--profiling=false",
	)
}

func (s *Service) schedulerArgs(timings leaseTimings) []string {
	kc := s.path(schedulerConfig)
	return append(timings.args(),
		"--kubeconfig="+kc,
		"--authentication-kubeconfig="+kc,
		"--authorization-kubeconfig="+kc,
		"--bind-address=127.0.0.1",
		"--tls-cert-file="+s.path(schedServingCert),
		"--tls-private-key-file="+s.path(schedServingKey),
		"--profiling=false",
	)
}

// electionTimings measures what the components' leader election timings depend on: how many
// controllers the cluster has and how fast the local etcd answers. What cannot be measured
// within 15 s counts as a lone controller, whose timings are the most patient.
func (s *Service) electionTimings(ctx context.Context) leaseTimings {
	logger := supervisor.Logger(ctx)
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	controllers, err := countControllers(ctx, s.cfg.Curator)
	if err != nil {
		logger.Warningf("count the cluster's Kubernetes controllers for the leader election timings: %v (taking this one as the only one)", err)
	}
	latency, err := etcdLatency(ctx, s.cfg.Etcd)
	if err != nil {
		logger.Warningf("measure etcd's latency for the leader election timings: %v", err)
	}
	t := electionTimings(controllers, latency)
	logger.Infof("Leader election of controller-manager and scheduler: lease %v, renew deadline %v, retry %v (%d controllers, etcd read latency %v)",
		t.lease, t.renew, t.retry, controllers, latency.Round(time.Millisecond))
	return t
}

func b64(data []byte) string { return base64.StdEncoding.EncodeToString(data) }
