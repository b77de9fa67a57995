package consensus

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"testing"
	"time"

	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
)

// TestPeerPortAdmitsOnlyConsensusCertificates checks that etcd's Raft port refuses certificates
// of the cluster CA that are not consensus certificates (a node's, an owner's), which would
// otherwise give their holder etcd itself, behind the curator's back.
func TestPeerPortAdmitsOnlyConsensusCertificates(t *testing.T) {
	ca := newCA(t)
	cfg := testConfig(t, ca, "node-a")
	startMember(t, cfg).client(t)

	pub, priv, err := identity.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	nodeCert, err := ca.IssueNodeCertificate(pub, []net.IP{net.IPv4(127, 0, 0, 1)}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	ownerCert, err := ca.IssueUserCertificate("owner", pub, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	peerCert, err := ca.IssueServiceCertificate(pki.ServiceRequest{
		CommonName: PeerCommonName, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		Usage: pki.ServicePeer, PublicKey: pub,
	}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		cert  *x509.Certificate
		admit bool
	}{
		{"consensus certificate is admitted", peerCert, true},
		{"node certificate is refused", nodeCert, false},
		{"owner certificate is refused", ownerCert, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tlsCert, err := pki.TLSCertificate(tc.cert, priv)
			if err != nil {
				t.Fatal(err)
			}
			pool := x509.NewCertPool()
			pool.AddCert(ca.Certificate())
			client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
				RootCAs: pool, Certificates: []tls.Certificate{tlsCert}, MinVersion: tls.VersionTLS12,
			}}}
			resp, err := client.Get(cfg.PeerURL() + "/members")
			admitted := err == nil && resp.StatusCode == http.StatusOK
			if resp != nil {
				resp.Body.Close()
			}
			if admitted != tc.admit {
				t.Errorf("GET /members on the peer port: admitted=%v (err %v), want %v", admitted, err, tc.admit)
			}
		})
	}
}
