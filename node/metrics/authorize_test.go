package metrics

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"strings"
	"testing"
	"time"

	"metropolis.dev/metropolis/node/pki"
)

func TestAuthorize(t *testing.T) {
	ca, other := newCA(t), newCA(t)
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	scraper, err := ca.IssueMetricsCertificate("prometheus", pub, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	owner, err := ca.IssueUserCertificate("owner", pub, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	node, err := ca.IssueNodeCertificate(pub, nil, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	foreign, err := other.IssueMetricsCertificate("prometheus", pub, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	peer := func(c *x509.Certificate) *tls.ConnectionState {
		return &tls.ConnectionState{PeerCertificates: []*x509.Certificate{c}}
	}
	now := time.Now()
	for _, tc := range []struct {
		name       string
		state      *tls.ConnectionState
		now        time.Time
		wantStatus int // 0: allowed
		wantText   string
	}{
		{"a metrics credential", peer(scraper), now, 0, ""},
		{"plain HTTP", nil, now, http.StatusBadRequest, "TLS only"},
		{"no certificate", &tls.ConnectionState{}, now, http.StatusUnauthorized, "no client certificate"},
		{"the owner's certificate", peer(owner), now, http.StatusForbidden, "a user certificate, not a metrics certificate"},
		{"a node's certificate", peer(node), now, http.StatusForbidden, "a node certificate, not a metrics certificate"},
		{"another cluster's credential", peer(foreign), now, http.StatusForbidden, "not signed by cluster CA"},
		{"an expired credential", peer(scraper), scraper.NotAfter.Add(time.Second), http.StatusForbidden, "certificate expired at"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name, r := authorize(tc.state, ca.Certificate(), tc.now)
			switch {
			case tc.wantStatus == 0 && (r != nil || name != "prometheus"):
				t.Fatalf("refused (%v) or wrong name %q", r, name)
			case tc.wantStatus != 0 && r == nil:
				t.Fatalf("allowed as %q", name)
			case tc.wantStatus != 0 && (r.status != tc.wantStatus || !strings.Contains(r.message, tc.wantText)):
				t.Errorf("refused %d %q, want %d containing %q", r.status, r.message, tc.wantStatus, tc.wantText)
			}
		})
	}
}

func newCA(t *testing.T) *pki.CA {
	t.Helper()
	ca, err := pki.NewCA("test cluster", 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}
