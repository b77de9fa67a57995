package rpc

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"strings"
	"testing"
	"time"

	"metropolis.dev/metropolis/api/authz"
	"metropolis.dev/metropolis/node/pki"
)

// TestIdentifyClassifiesCertificates is the caller classification as a table, without gRPC.
func TestIdentifyClassifiesCertificates(t *testing.T) {
	ca := newCA(t)
	otherCA := newCA(t)
	node, nodeID := nodeCert(t, ca, testValidity)
	servicePub, _ := newKey(t)
	service, err := ca.IssueServiceCertificate(pki.ServiceRequest{
		CommonName: "etcd", IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, Usage: pki.ServicePeer, PublicKey: servicePub,
	}, testValidity)
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := ca.IssueMetricsCertificate("prometheus", servicePub, testValidity)
	if err != nil {
		t.Fatal(err)
	}
	_, selfPriv := newKey(t)
	selfSigned, err := SelfSignedCertificate(selfPriv)
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name     string
		cert     *x509.Certificate
		kind     authz.Kind
		peerName string
		rejected string // fragment of the rejection reason; empty: not rejected
	}{
		{"no certificate is anonymous", nil, authz.KindAnonymous, "", ""},
		{"owner certificate is the owner", ownerCert(t, ca, testValidity).Leaf, authz.KindOwner, "owner", ""},
		{"node certificate is its node", node.Leaf, authz.KindNode, nodeID, ""},
		{"self-signed certificate is anonymous", selfSigned.Leaf, authz.KindAnonymous, "", "not signed by cluster CA"},
		{"certificate from another CA is anonymous", ownerCert(t, otherCA, testValidity).Leaf, authz.KindAnonymous, "", "not signed by cluster CA"},
		{"expired certificate is anonymous", expiredOwnerCert(t, ca).Leaf, authz.KindAnonymous, "", "expired"},
		{"service certificate is anonymous", service, authz.KindAnonymous, "", "service and metrics certificates carry no"},
		{"metrics certificate is anonymous", metrics, authz.KindAnonymous, "", "service and metrics certificates carry no"},
	} {
		t.Run(c.name, func(t *testing.T) {
			var state tls.ConnectionState
			if c.cert != nil {
				state.PeerCertificates = []*x509.Certificate{c.cert}
			}
			p := identify(state, ca.Certificate(), time.Now())
			if p.Kind != c.kind || p.Name != c.peerName {
				t.Errorf("identified as %v %q, want %v %q", p.Kind, p.Name, c.kind, c.peerName)
			}
			switch {
			case c.rejected == "" && p.Rejected != nil:
				t.Errorf("rejected with %v, want accepted", p.Rejected)
			case c.rejected != "" && (p.Rejected == nil || !strings.Contains(p.Rejected.Error(), c.rejected)):
				t.Errorf("rejection = %v, want one mentioning %q", p.Rejected, c.rejected)
			}
			if c.cert != nil && len(p.PublicKey) == 0 {
				t.Error("the presented certificate's key is missing")
			}
		})
	}
}
