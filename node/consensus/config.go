package consensus

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"go.etcd.io/etcd/server/v3/embed"
)

// Config says how this node's member runs. Everything in it comes from the node's identity and
// the curator; nothing is guessed.
type Config struct {
	// DataDir holds the member's state; created if missing. If it already holds a member, the
	// member restarts from it and InitialCluster is ignored.
	DataDir string
	// Name is the member's name: the node ID.
	Name string
	// Host is the address (IP) other members and clients reach this member at. Etcd listens on
	// it for peers and clients.
	Host string
	// PeerPort and ClientPort are the ports listened on.
	PeerPort, ClientPort int
	// CACertificate, Certificate and Key are PEM: the cluster CA, and this member's certificate
	// (server and client usage) and key. Etcd uses them for peers and clients alike.
	CACertificate, Certificate, Key []byte
	// InitialCluster lists the members (name to peer URL) to start with, this one included,
	// when joining an existing cluster. Empty means: bootstrap a new cluster with only this
	// member.
	InitialCluster map[string]string
	// UnsafeNoFsync turns off fsync. For tests only: a crash can then lose acknowledged writes.
	UnsafeNoFsync bool
}

// PeerURL is the URL other members reach this member's peer port at.
func (c *Config) PeerURL() string {
	return "https://" + net.JoinHostPort(c.Host, strconv.Itoa(c.PeerPort))
}

// ClientURL is the URL local clients reach this member at. Etcd serves clients on loopback only:
// the curator uses an in-process client, and no other node needs etcd's client API.
func (c *Config) ClientURL() string {
	return "https://" + net.JoinHostPort("127.0.0.1", strconv.Itoa(c.ClientPort))
}

// PeerCommonName is the common name of every consensus (etcd peer) certificate: etcd admits
// peers by it, on top of the chain to the cluster CA.
const PeerCommonName = "metropolis-consensus"

func (c *Config) validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data directory is empty"))
	}
	if c.Name == "" || strings.ContainsAny(c.Name, "=,") {
		errs = append(errs, fmt.Errorf("member name %q is empty or contains '=' or ','", c.Name))
	}
	if net.ParseIP(c.Host) == nil {
		errs = append(errs, fmt.Errorf("host %q is not an IP address", c.Host))
	}
	for _, p := range []struct {
		name string
		port int
	}{{"peer port", c.PeerPort}, {"client port", c.ClientPort}} {
		if p.port <= 0 || p.port > 65535 {
			errs = append(errs, fmt.Errorf("%s %d is out of range", p.name, p.port))
		}
	}
	for _, f := range []struct {
		name string
		pem  []byte
	}{{"CA certificate", c.CACertificate}, {"certificate", c.Certificate}, {"key", c.Key}} {
		if len(f.pem) == 0 {
			errs = append(errs, fmt.Errorf("%s is missing", f.name))
		}
	}
	if len(c.InitialCluster) > 0 {
		if _, ok := c.InitialCluster[c.Name]; !ok {
			errs = append(errs, fmt.Errorf("initial cluster does not list this member %q", c.Name))
		}
		for name, u := range c.InitialCluster {
			if _, err := url.Parse(u); err != nil || !strings.HasPrefix(u, "https://") {
				errs = append(errs, fmt.Errorf("initial cluster member %q: peer URL %q is not an https URL", name, u))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("consensus config: %w", err)
	}
	return nil
}

// etcdDir is etcd's own data directory, beside the TLS directory so that etcd finds only its own
// files there.
func (c *Config) etcdDir() string { return filepath.Join(c.DataDir, "etcd") }

// hasMember says whether DataDir already holds an etcd member, which then restarts from it.
func (c *Config) hasMember() bool { return HasMember(c.DataDir) }

// HasMember says whether dataDir (a Config.DataDir) holds a member's write-ahead log: a member
// that once started, which restarts from it rather than bootstrapping or joining.
func HasMember(dataDir string) bool {
	_, err := os.Stat(filepath.Join(dataDir, "etcd", "member", "wal"))
	return err == nil
}

// writeTLS puts the TLS material where etcd reads it. It is rewritten on every start, so a
// certificate renewed by the curator takes effect at the next restart.
func (c *Config) writeTLS() (dir string, err error) {
	dir = filepath.Join(c.DataDir, "tls")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("create TLS directory: %w", err)
	}
	for name, data := range map[string][]byte{"ca.pem": c.CACertificate, "cert.pem": c.Certificate, "key.pem": c.Key} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return "", fmt.Errorf("write %s: %w", name, err)
		}
	}
	if err := ensureRevocationList(dir); err != nil {
		return "", err
	}
	return dir, nil
}

// Raft timing of every member, in milliseconds (see embedConfig).
const (
	HeartbeatInterval = 250
	ElectionTimeout   = 2500
)

// embedConfig builds etcd's configuration: mutual TLS on both listeners, no insecure listener.
func (c *Config) embedConfig(tlsDir string) (*embed.Config, error) {
	cfg := embed.NewConfig()
	cfg.Name = c.Name
	cfg.Dir = c.etcdDir()
	cfg.UnsafeNoFsync = c.UnsafeNoFsync
	peer, err := url.Parse(c.PeerURL())
	if err != nil {
		return nil, fmt.Errorf("peer URL: %w", err)
	}
	client, err := url.Parse(c.ClientURL())
	if err != nil {
		return nil, fmt.Errorf("client URL: %w", err)
	}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*peer}, []url.URL{*peer}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*client}, []url.URL{*client}
	tls := embed.NewConfig().ClientTLSInfo
	tls.CertFile = filepath.Join(tlsDir, "cert.pem")
	tls.KeyFile = filepath.Join(tlsDir, "key.pem")
	tls.TrustedCAFile = filepath.Join(tlsDir, "ca.pem")
	tls.ClientCertAuth = true
	// Read on every new connection: a list the curator writes while the member runs
	// (WriteRevocationList) refuses the certificates it names from then on.
	tls.CRLFile = filepath.Join(tlsDir, revocationListFile)
	cfg.ClientTLSInfo, cfg.PeerTLSInfo = tls, tls
	// Every certificate of the cluster chains to the same CA, so chaining is not enough: only
	// consensus certificates may speak Raft, or a node or owner certificate (or a deleted
	// node's, which stays valid until it expires) could read and write etcd behind the
	// curator's back.
	cfg.PeerTLSInfo.AllowedCNs = []string{PeerCommonName}
	// The client port's one legitimate client is this node itself (its Kubernetes apiserver,
	// through its etcd proxy), presenting the same consensus certificate; the port listens on
	// loopback only, and even there an owner's or a node's certificate must not open etcd.
	cfg.ClientTLSInfo.AllowedCNs = []string{PeerCommonName}
	// Metrics and pprof stay off: the node management API is the one way in.
	cfg.ListenMetricsUrls = nil
	// The token makes the cluster's ID unique even when another cluster's first member had the
	// same name and address (a relaunched local cluster), so members of the two never mix.
	cfg.InitialClusterToken = "metropolis-" + c.Name
	if len(c.InitialCluster) == 0 {
		cfg.ClusterState = embed.ClusterStateFlagNew
		cfg.InitialCluster = c.Name + "=" + c.PeerURL()
	} else {
		cfg.ClusterState = embed.ClusterStateFlagExisting
		cfg.InitialCluster = initialClusterString(c.InitialCluster)
	}
	// Raft timing with room for busy machines: a member that misses heartbeats for the election
	// timeout starts an election, and etcd's defaults (100 ms, 1 s) are met by a quiet host but
	// not by a busy 2-core one, where a heartbeat or an fdatasync can be late by seconds (a 3-VM
	// launch under load saw 36 terms in 35 minutes). 2.5 s keeps a real failure's failover well
	// below the curator's 5 s leadership lease; the ratio is etcd's recommended 10 ticks.
	cfg.TickMs = HeartbeatInterval
	cfg.ElectionMs = ElectionTimeout
	// A cluster of nodes that keep running for months: compact history hourly so the backend
	// does not grow without bound.
	cfg.AutoCompactionMode = embed.CompactorModePeriodic
	cfg.AutoCompactionRetention = "1h"
	return cfg, nil
}

func initialClusterString(members map[string]string) string {
	parts := make([]string, 0, len(members))
	for name, u := range members {
		parts = append(parts, name+"="+u)
	}
	sort.Strings(parts)
	return strings.Join(parts, ",")
}
