package consensus

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"testing"
	"time"

	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
)

// TestPortsAdmitOnlyConsensusCertificates checks that etcd's peer (Raft) port and its client
// port refuse certificates of the cluster CA that are not consensus certificates (a node's, an
// owner's), which would otherwise give their holder etcd itself, behind the curator's back; and
// that a consensus certificate on the revocation list (a node that stopped being a member) is
// refused on both from the moment the list is written, while the member runs.
func TestPortsAdmitOnlyConsensusCertificates(t *testing.T) {
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
	consensusCert := func() *x509.Certificate {
		c, err := ca.IssueServiceCertificate(pki.ServiceRequest{
			CommonName: PeerCommonName, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
			Usage: pki.ServicePeer, PublicKey: pub,
		}, time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	current, removed := consensusCert(), consensusCert()
	ports := map[string]string{"peer": cfg.PeerURL() + "/members", "client": cfg.ClientURL() + "/version"}

	check := func(t *testing.T, cert *x509.Certificate, want bool) {
		t.Helper()
		for port, url := range ports {
			if got, err := admitted(t, ca, cert, priv, url); got != want {
				t.Errorf("%s port: admitted=%v (err %v), want %v", port, got, err, want)
			}
		}
	}
	t.Run("a consensus certificate is admitted", func(t *testing.T) { check(t, current, true) })
	t.Run("a node certificate is refused", func(t *testing.T) { check(t, nodeCert, false) })
	t.Run("an owner certificate is refused", func(t *testing.T) { check(t, ownerCert, false) })
	t.Run("a consensus certificate is admitted until it is revoked", func(t *testing.T) {
		check(t, removed, true)
		now := time.Now()
		crl, err := ca.RevocationList([]pki.Revoked{{Serial: removed.SerialNumber, RevokedAt: now}}, 1, now, now.Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if err := WriteRevocationList(cfg.DataDir, crl); err != nil {
			t.Fatal(err)
		}
		check(t, removed, false)
		check(t, current, true)
	})
	t.Run("a list that does not parse is not written", func(t *testing.T) {
		if err := WriteRevocationList(cfg.DataDir, []byte("not a list")); err == nil {
			t.Fatal("accepted")
		}
		check(t, removed, false)
		check(t, current, true)
	})
}

// admitted says whether a request to url presenting cert succeeds.
func admitted(t *testing.T, ca *pki.CA, cert *x509.Certificate, key ed25519.PrivateKey, url string) (bool, error) {
	tlsCert, err := pki.TLSCertificate(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Certificate())
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{
			RootCAs: pool, Certificates: []tls.Certificate{tlsCert}, MinVersion: tls.VersionTLS12,
		},
	}}
	resp, err := client.Get(url)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("status %s", resp.Status)
	}
	return true, nil
}
