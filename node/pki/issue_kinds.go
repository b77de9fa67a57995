package pki

import (
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"metropolis.dev/metropolis/node/identity"
)

// IssueNodeCertificate issues the certificate of the node owning pub, valid for validity. Its
// common name and DNS name are the node ID derived from pub (so they cannot disagree with the
// key), and ips are added as IP SANs so that clients can dial the node by address. It is good
// for both serving and calling, as every node does both.
func (ca *CA) IssueNodeCertificate(pub ed25519.PublicKey, ips []net.IP, validity time.Duration) (*x509.Certificate, error) {
	if err := identity.CheckPublicKey(pub); err != nil {
		return nil, fmt.Errorf("issue node certificate: %w", err)
	}
	id := identity.NodeID(pub)
	cert, err := ca.issue(leafRequest{
		kind:        KindNode,
		commonName:  id,
		dnsNames:    []string{id},
		ips:         ips,
		extKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		publicKey:   pub,
	}, validity, time.Now())
	if err != nil {
		return nil, fmt.Errorf("issue node certificate for %s: %w", id, err)
	}
	return cert, nil
}

// IssueUserCertificate issues a client-only certificate for the user userName (e.g. "owner")
// holding pub, valid for validity.
func (ca *CA) IssueUserCertificate(userName string, pub ed25519.PublicKey, validity time.Duration) (*x509.Certificate, error) {
	if err := checkUserName(userName); err != nil {
		return nil, fmt.Errorf("issue user certificate: %w", err)
	}
	cert, err := ca.issue(leafRequest{
		kind:        KindUser,
		commonName:  userName,
		extKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		publicKey:   pub,
	}, validity, time.Now())
	if err != nil {
		return nil, fmt.Errorf("issue user certificate for %q: %w", userName, err)
	}
	return cert, nil
}

// IssueMetricsCertificate issues a client-only certificate for the metrics scraper name (e.g.
// "prometheus") holding pub, valid for validity: it reads the nodes' metrics endpoints
// (node/metrics) and holds no permission on the API.
func (ca *CA) IssueMetricsCertificate(name string, pub ed25519.PublicKey, validity time.Duration) (*x509.Certificate, error) {
	if err := checkUserName(name); err != nil {
		return nil, fmt.Errorf("issue metrics certificate: %w", err)
	}
	if identity.ValidateNodeID(name) == nil {
		return nil, fmt.Errorf("issue metrics certificate: name %q is a node ID; only node certificates may carry one", name)
	}
	cert, err := ca.issue(leafRequest{
		kind:        KindMetrics,
		commonName:  name,
		extKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
		publicKey:   pub,
	}, validity, time.Now())
	if err != nil {
		return nil, fmt.Errorf("issue metrics certificate for %q: %w", name, err)
	}
	return cert, nil
}

// ServiceUsage says what a service certificate is for.
type ServiceUsage int

const (
	// ServiceServer is for a TLS server only (e.g. the Kubernetes API server's serving cert).
	ServiceServer ServiceUsage = iota + 1
	// ServiceClient is for a TLS client only (e.g. a controller calling the API server).
	ServiceClient
	// ServicePeer is for both sides (e.g. etcd peer traffic, where members dial each other).
	ServicePeer
)

func (u ServiceUsage) extKeyUsage() ([]x509.ExtKeyUsage, error) {
	switch u {
	case ServiceServer:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, nil
	case ServiceClient:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, nil
	case ServicePeer:
		return []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}, nil
	default:
		return nil, fmt.Errorf("unknown service usage %d", int(u))
	}
}

// ServiceRequest describes a service certificate.
type ServiceRequest struct {
	CommonName string
	// Organization becomes the subject's O, which Kubernetes reads as group membership.
	Organization []string
	DNSNames     []string
	IPAddresses  []net.IP
	Usage        ServiceUsage
	PublicKey    ed25519.PublicKey
}

// IssueServiceCertificate issues a certificate for a cluster component, valid for validity.
// A server certificate needs at least one DNS or IP SAN, since TLS clients check those and not
// the common name. No name may be a node ID, so that a service can never pass for a node.
func (ca *CA) IssueServiceCertificate(req ServiceRequest, validity time.Duration) (*x509.Certificate, error) {
	if err := checkServiceRequest(req); err != nil {
		return nil, fmt.Errorf("issue service certificate %q: %w", req.CommonName, err)
	}
	eku, _ := req.Usage.extKeyUsage() // checked above
	cert, err := ca.issue(leafRequest{
		kind:         KindService,
		commonName:   req.CommonName,
		organization: req.Organization,
		dnsNames:     req.DNSNames,
		ips:          req.IPAddresses,
		extKeyUsage:  eku,
		publicKey:    req.PublicKey,
	}, validity, time.Now())
	if err != nil {
		return nil, fmt.Errorf("issue service certificate %q: %w", req.CommonName, err)
	}
	return cert, nil
}

func checkServiceRequest(req ServiceRequest) error {
	if err := checkCommonName(req.CommonName); err != nil {
		return err
	}
	if identity.ValidateNodeID(req.CommonName) == nil {
		return fmt.Errorf("common name %q is a node ID; only node certificates may carry one", req.CommonName)
	}
	if _, err := req.Usage.extKeyUsage(); err != nil {
		return err
	}
	for i, name := range req.DNSNames {
		if name == "" || strings.ContainsAny(name, " \t\r\n") {
			return fmt.Errorf("DNS name %d (%q) is empty or contains whitespace", i, name)
		}
		if identity.ValidateNodeID(name) == nil {
			return fmt.Errorf("DNS name %q is a node ID; only node certificates may carry one", name)
		}
	}
	if req.Usage != ServiceClient && len(req.DNSNames)+len(req.IPAddresses) == 0 {
		return errors.New("a server certificate needs at least one DNS name or IP address")
	}
	return nil
}

// checkUserName keeps user names to a conservative set so that they read the same in logs,
// audit records and certificate dumps.
func checkUserName(name string) error {
	if name == "" {
		return errors.New("user name must not be empty")
	}
	if len(name) > maxCommonNameLength {
		return fmt.Errorf("user name %.16q…: %d bytes, more than %d", name, len(name), maxCommonNameLength)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("._@-", c) >= 0) {
			return fmt.Errorf("user name %q: character %q at position %d is not a letter, digit, or one of ._@-", name, c, i)
		}
	}
	return nil
}
