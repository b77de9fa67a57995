package pki

import (
	"bytes"
	"crypto/x509"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"metropolis.dev/metropolis/node/identity"
)

func TestIssuedCertificatesCarryTheirKindNamesAndUsages(t *testing.T) {
	ca := newTestCA(t)
	nodePub, _ := newKey(t)
	nodeID := identity.NodeID(nodePub)
	ips := []net.IP{net.ParseIP("10.0.0.1"), net.ParseIP("fd00::1")}
	node, err := ca.IssueNodeCertificate(nodePub, ips, testValidity)
	if err != nil {
		t.Fatal(err)
	}
	user, _ := userCert(t, ca)
	server, _ := serviceCert(t, ca, ServiceServer)
	client, _ := serviceCert(t, ca, ServiceClient)
	peer, _ := serviceCert(t, ca, ServicePeer)
	metrics, err := ca.IssueMetricsCertificate("prometheus", nodePub, testValidity)
	if err != nil {
		t.Fatal(err)
	}
	serverAuth, clientAuth := x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth

	cases := []struct {
		name     string
		cert     *x509.Certificate
		wantKind Kind
		wantCN   string
		wantEKU  []x509.ExtKeyUsage
		wantDNS  []string
		wantIPs  int
	}{
		{"node: named by node ID, serves and calls, dialable by IP", node, KindNode, nodeID, []x509.ExtKeyUsage{serverAuth, clientAuth}, []string{nodeID}, 2},
		{"user: named by user name, client only", user, KindUser, "owner", []x509.ExtKeyUsage{clientAuth}, nil, 0},
		{"service server: server only", server, KindService, "etcd", []x509.ExtKeyUsage{serverAuth}, []string{"etcd.local"}, 0},
		{"service client: client only", client, KindService, "etcd", []x509.ExtKeyUsage{clientAuth}, []string{"etcd.local"}, 0},
		{"service peer: both", peer, KindService, "etcd", []x509.ExtKeyUsage{serverAuth, clientAuth}, []string{"etcd.local"}, 0},
		{"metrics: named by the scraper, client only", metrics, KindMetrics, "prometheus", []x509.ExtKeyUsage{clientAuth}, nil, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			kind, err := KindOf(c.cert)
			if err != nil || kind != c.wantKind {
				t.Errorf("KindOf = %v, %v; want %v", kind, err, c.wantKind)
			}
			if c.cert.Subject.CommonName != c.wantCN {
				t.Errorf("CN = %q, want %q", c.cert.Subject.CommonName, c.wantCN)
			}
			if !slices.Equal(c.cert.ExtKeyUsage, c.wantEKU) {
				t.Errorf("ExtKeyUsage = %v, want %v", c.cert.ExtKeyUsage, c.wantEKU)
			}
			if !slices.Equal(c.cert.DNSNames, c.wantDNS) {
				t.Errorf("DNSNames = %v, want %v", c.cert.DNSNames, c.wantDNS)
			}
			if len(c.cert.IPAddresses) != c.wantIPs {
				t.Errorf("%d IP SANs, want %d", len(c.cert.IPAddresses), c.wantIPs)
			}
			if c.cert.KeyUsage != x509.KeyUsageDigitalSignature || c.cert.IsCA {
				t.Errorf("KeyUsage = %v, IsCA = %v; want digital signature only, not a CA", c.cert.KeyUsage, c.cert.IsCA)
			}
			if len(c.cert.SubjectKeyId) == 0 || !bytes.Equal(c.cert.AuthorityKeyId, ca.Certificate().SubjectKeyId) {
				t.Errorf("key IDs: SKID %x, AKID %x; want SKID set and AKID = CA's SKID %x", c.cert.SubjectKeyId, c.cert.AuthorityKeyId, ca.Certificate().SubjectKeyId)
			}
			if !c.cert.NotBefore.Before(time.Now().Add(-clockSkew / 2)) {
				t.Errorf("NotBefore %v is not in the past by the clock skew allowance", c.cert.NotBefore)
			}
		})
	}
}

func TestSerialNumbersAreRandomAnd128Bits(t *testing.T) {
	ca := newTestCA(t)
	seen := make(map[string]bool)
	longest := 0
	for range 50 {
		cert, _ := nodeCert(t, ca)
		s := cert.SerialNumber.String()
		if seen[s] {
			t.Fatalf("serial %s issued twice", s)
		}
		seen[s] = true
		longest = max(longest, cert.SerialNumber.BitLen())
		if cert.SerialNumber.BitLen() > 128 || cert.SerialNumber.Sign() <= 0 {
			t.Fatalf("serial %s is not a positive number of at most 128 bits", s)
		}
	}
	if longest < 120 {
		t.Errorf("longest of 50 serials has %d bits; 128 random bits should reach 120", longest)
	}
}

func TestIssuanceRefusesBadRequests(t *testing.T) {
	ca := newTestCA(t)
	pub, _ := newKey(t)
	nodeIDLike := identity.NodeID(pub)
	service := func(mod func(*ServiceRequest)) func() error {
		req := ServiceRequest{CommonName: "svc", DNSNames: []string{"svc.local"}, Usage: ServiceServer, PublicKey: pub}
		mod(&req)
		return func() error { _, err := ca.IssueServiceCertificate(req, time.Hour); return err }
	}
	cases := []struct {
		name    string
		issue   func() error
		wantErr string
	}{
		{"zero validity", func() error { _, err := ca.IssueNodeCertificate(pub, nil, 0); return err }, "validity must be positive, got 0s"},
		{"negative validity", func() error { _, err := ca.IssueUserCertificate("owner", pub, -time.Second); return err }, "validity must be positive, got -1s"},
		{"outliving the CA", func() error { _, err := ca.IssueNodeCertificate(pub, nil, 100*testValidity); return err }, "after the CA does at"},
		{"short node key", func() error { _, err := ca.IssueNodeCertificate(pub[:12], nil, time.Hour); return err }, "want 32 bytes, got 12"},
		{"malformed IP", func() error { _, err := ca.IssueNodeCertificate(pub, []net.IP{{1, 2, 3}}, time.Hour); return err }, "IP address 0: malformed (3 bytes)"},
		{"empty user name", func() error { _, err := ca.IssueUserCertificate("", pub, time.Hour); return err }, "user name must not be empty"},
		{"user name with space", func() error { _, err := ca.IssueUserCertificate("a b", pub, time.Hour); return err }, `character ' ' at position 1`},
		{"metrics name with space", func() error { _, err := ca.IssueMetricsCertificate("a b", pub, time.Hour); return err }, `character ' ' at position 1`},
		{"metrics name that is a node ID", func() error { _, err := ca.IssueMetricsCertificate(identity.NodeID(pub), pub, time.Hour); return err }, "is a node ID"},
		{"short user key", func() error { _, err := ca.IssueUserCertificate("owner", pub[:1], time.Hour); return err }, "want 32 bytes of ed25519, got 1"},
		{"service with a node ID as CN", service(func(r *ServiceRequest) { r.CommonName = nodeIDLike }), "is a node ID"},
		{"service with a node ID as DNS name", service(func(r *ServiceRequest) { r.DNSNames = []string{nodeIDLike} }), "is a node ID"},
		{"server service without SANs", service(func(r *ServiceRequest) { r.DNSNames = nil }), "needs at least one DNS name or IP address"},
		{"service without usage", service(func(r *ServiceRequest) { r.Usage = 0 }), "unknown service usage 0"},
		{"service with empty DNS name", service(func(r *ServiceRequest) { r.DNSNames = []string{""} }), "DNS name 0"},
		{"service with too long CN", service(func(r *ServiceRequest) { r.CommonName = strings.Repeat("a", 65) }), "more than the X.509 limit of 64"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.issue(); err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Fatalf("issue = %v, want error containing %q", err, c.wantErr)
			}
		})
	}
}

func TestClientOnlyServiceNeedsNoSANs(t *testing.T) {
	ca := newTestCA(t)
	pub, _ := newKey(t)
	cert, err := ca.IssueServiceCertificate(ServiceRequest{
		CommonName: "system:kube-scheduler", Organization: []string{"system:masters"}, Usage: ServiceClient, PublicKey: pub,
	}, time.Hour)
	if err != nil {
		t.Fatalf("client-only service without SANs: %v", err)
	}
	if !slices.Equal(cert.Subject.Organization, []string{"system:masters"}) {
		t.Errorf("Organization = %v, want [system:masters]", cert.Subject.Organization)
	}
}
