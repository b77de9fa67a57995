package pki

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"strings"
	"testing"
	"time"

	"metropolis.dev/metropolis/node/identity"
)

func TestVerify(t *testing.T) {
	ca := newTestCA(t)
	otherCA := newTestCA(t) // same name as ca, different key
	differentlyNamedCA, err := NewCA("another cluster", testValidity*10)
	if err != nil {
		t.Fatal(err)
	}
	node, _ := nodeCert(t, ca)
	nodeID := node.Subject.CommonName
	user, _ := userCert(t, ca)
	serverOnly, _ := serviceCert(t, ca, ServiceServer)
	clientOnly, _ := serviceCert(t, ca, ServiceClient)
	foreignNode, _ := nodeCert(t, otherCA)
	foreignNode2, _ := nodeCert(t, differentlyNamedCA)
	impostor := forgeNodeWithWrongID(t, ca)
	scraperPub, _ := newKey(t)
	scraper, err := ca.IssueMetricsCertificate("prometheus", scraperPub, testValidity)
	if err != nil {
		t.Fatal(err)
	}
	critical := forgeWithCriticalExtension(t, ca)

	shortCA, err := NewCA("short-lived CA", testValidity+time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	shortCANode, _ := nodeCert(t, shortCA)

	now := time.Now()
	type verifyFunc func(cert, ca *x509.Certificate, now time.Time) (string, error)
	asNode := func(p Purpose) verifyFunc {
		return func(c, ca *x509.Certificate, now time.Time) (string, error) { return VerifyNode(c, ca, p, now) }
	}
	asService := func(p Purpose) verifyFunc {
		return func(c, ca *x509.Certificate, now time.Time) (string, error) { return VerifyService(c, ca, p, now) }
	}
	asUser := verifyFunc(VerifyUser)
	asMetrics := verifyFunc(VerifyMetrics)

	cases := []struct {
		name     string
		verify   verifyFunc
		cert     *x509.Certificate
		ca       *x509.Certificate
		now      time.Time
		wantName string // when accepted
		wantErr  string // empty: accepted
	}{
		{"valid node certificate verifies as server", asNode(PurposeServer), node, ca.Certificate(), now, nodeID, ""},
		{"valid node certificate verifies as client", asNode(PurposeClient), node, ca.Certificate(), now, nodeID, ""},
		{"valid user certificate verifies", asUser, user, ca.Certificate(), now, "owner", ""},
		{"server-only service verifies as server", asService(PurposeServer), serverOnly, ca.Certificate(), now, "etcd", ""},
		{"valid metrics certificate verifies", asMetrics, scraper, ca.Certificate(), now, "prometheus", ""},
		{"user certificate presented as a scraper is rejected", asMetrics, user, ca.Certificate(), now, "", "certificate is a user certificate, not a metrics certificate"},
		{"node certificate presented as a scraper is rejected", asMetrics, node, ca.Certificate(), now, "", "certificate is a node certificate, not a metrics certificate"},
		{"metrics certificate presented as a user is rejected", asUser, scraper, ca.Certificate(), now, "", "certificate is a metrics certificate, not a user certificate"},
		{"metrics certificate from another cluster is rejected", asMetrics, foreignScraper(t, otherCA), ca.Certificate(), now, "", "not signed by cluster CA: "},
		{"just before expiry is still valid", asNode(PurposeServer), node, ca.Certificate(), node.NotAfter, nodeID, ""},

		{"node from a CA with the same name is rejected", asNode(PurposeServer), foreignNode, ca.Certificate(), now, "", "not signed by cluster CA: "},
		{"node from a differently named CA is rejected", asNode(PurposeServer), foreignNode2, ca.Certificate(), now, "", `not signed by cluster CA: issuer "CN=another cluster,OU=metropolis:ca" is not the cluster CA`},
		{"expired certificate is rejected", asNode(PurposeServer), node, ca.Certificate(), node.NotAfter.Add(time.Second), "", "certificate expired at " + formatTime(node.NotAfter)},
		{"not yet valid certificate is rejected", asNode(PurposeServer), node, ca.Certificate(), node.NotBefore.Add(-time.Second), "", "certificate is not valid until " + formatTime(node.NotBefore)},
		{"certificate under an expired CA is rejected", asNode(PurposeServer), shortCANode, shortCA.Certificate(), shortCA.Certificate().NotAfter.Add(time.Second), "", "cluster CA certificate expired at"},
		{"user certificate presented as a node is rejected", asNode(PurposeClient), user, ca.Certificate(), now, "", "certificate is a user certificate, not a node certificate"},
		{"user certificate presented as a node server is rejected as wrong kind", asNode(PurposeServer), user, ca.Certificate(), now, "", "certificate is a user certificate, not a node certificate"},
		{"node certificate presented as a user is rejected", asUser, node, ca.Certificate(), now, "", "certificate is a node certificate, not a user certificate"},
		{"service certificate presented as a node is rejected", asNode(PurposeServer), serverOnly, ca.Certificate(), now, "", "certificate is a service certificate, not a node certificate"},
		{"node certificate presented as a service is rejected", asService(PurposeServer), node, ca.Certificate(), now, "", "certificate is a node certificate, not a service certificate"},
		{"server-only service presented as a client is rejected", asService(PurposeClient), serverOnly, ca.Certificate(), now, "", "certificate of service etcd is not valid for client authentication"},
		{"client-only service presented as a server is rejected", asService(PurposeServer), clientOnly, ca.Certificate(), now, "", "not valid for server authentication"},
		{"the CA certificate itself is not a leaf", asNode(PurposeServer), ca.Certificate(), ca.Certificate(), now, "", "certificate is the CA certificate, not a leaf"},
		{"node certificate naming another node's ID is rejected", asNode(PurposeServer), impostor, ca.Certificate(), now, "", "but its key belongs to"},
		{"certificate crypto/x509 rejects is rejected", asNode(PurposeServer), critical, ca.Certificate(), now, "", "unhandled critical extension"},
		{"no certificate is rejected", asNode(PurposeServer), nil, ca.Certificate(), now, "", "no certificate presented"},
		{"no CA is rejected", asNode(PurposeServer), node, nil, now, "", "verifier has no cluster CA certificate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			name, err := c.verify(c.cert, c.ca, c.now)
			switch {
			case c.wantErr == "" && (err != nil || name != c.wantName):
				t.Fatalf("verify = %q, %v; want %q", name, err, c.wantName)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("verify = %q, %v; want error containing %q", name, err, c.wantErr)
			}
		})
	}
}

func TestVerifyReturnsKindAndName(t *testing.T) {
	ca := newTestCA(t)
	user, _ := userCert(t, ca)
	id, err := Verify(user, ca.Certificate(), PurposeClient, time.Now())
	if err != nil || id != (Identity{Kind: KindUser, Name: "owner"}) {
		t.Fatalf("Verify = %v, %v; want user owner", id, err)
	}
}

// forgeNodeWithWrongID signs, with the real CA key, a node certificate whose name belongs to a
// different key: something only a buggy issuer could produce, which verification must catch.
func forgeNodeWithWrongID(t *testing.T, ca *CA) *x509.Certificate {
	t.Helper()
	pub, _ := newKey(t)
	victim, _ := newKey(t)
	victimID := identity.NodeID(victim)
	cert, err := ca.issue(leafRequest{
		kind: KindNode, commonName: victimID, dnsNames: []string{victimID},
		extKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		publicKey:   pub,
	}, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// forgeWithCriticalExtension signs a node certificate carrying an unknown critical extension,
// which passes this package's own checks but not crypto/x509's.
func forgeWithCriticalExtension(t *testing.T, ca *CA) *x509.Certificate {
	t.Helper()
	good, _ := nodeCert(t, ca)
	tmpl := *good
	tmpl.Subject = pkix.Name{CommonName: good.Subject.CommonName, OrganizationalUnit: []string{ouNode}}
	tmpl.ExtraExtensions = []pkix.Extension{{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 99999, 1}, Critical: true, Value: []byte{5, 0}}}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, ca.cert, good.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func foreignScraper(t *testing.T, ca *CA) *x509.Certificate {
	t.Helper()
	pub, _ := newKey(t)
	cert, err := ca.IssueMetricsCertificate("prometheus", pub, testValidity)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
