package curator

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	apb "metropolis.dev/metropolis/api/v1"
	"metropolis.dev/metropolis/node/pki"
)

func TestCheckMetricsCredentialRequest(t *testing.T) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	edDER, _ := x509.MarshalPKIXPublicKey(pub)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	maxSeconds := int64(MaxMetricsCredentialValidity / time.Second)
	for _, tc := range []struct {
		name         string
		req          *apb.IssueMetricsCredentialRequest
		wantValidity time.Duration
		wantErr      string
	}{
		{"the default validity", &apb.IssueMetricsCredentialRequest{PublicKey: edDER, Name: "prometheus"}, DefaultMetricsCredentialValidity, ""},
		{"a chosen validity", &apb.IssueMetricsCredentialRequest{PublicKey: edDER, Name: "prometheus", ValiditySeconds: 3600}, time.Hour, ""},
		{"the longest validity", &apb.IssueMetricsCredentialRequest{PublicKey: edDER, Name: "p", ValiditySeconds: maxSeconds}, MaxMetricsCredentialValidity, ""},
		{"one second too long", &apb.IssueMetricsCredentialRequest{PublicKey: edDER, Name: "p", ValiditySeconds: maxSeconds + 1}, 0, "validity_seconds: 31622401 is outside"},
		{"negative validity", &apb.IssueMetricsCredentialRequest{PublicKey: edDER, Name: "p", ValiditySeconds: -1}, 0, "validity_seconds: -1 is outside"},
		{"no key", &apb.IssueMetricsCredentialRequest{Name: "p"}, 0, "public_key: not a PKIX DER public key"},
		{"an ECDSA key", &apb.IssueMetricsCredentialRequest{PublicKey: ecDER, Name: "p"}, 0, "public_key: a *ecdsa.PublicKey, want Ed25519"},
		{"no name", &apb.IssueMetricsCredentialRequest{PublicKey: edDER}, 0, "name: empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := checkMetricsCredentialRequest(tc.req)
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.wantErr == "" && got.validity != tc.wantValidity:
				t.Errorf("validity %v, want %v", got.validity, tc.wantValidity)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Errorf("got %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestIssueMetricsCredential: the owner gets a metrics certificate for its key from the
// cluster CA, which verifies as a scraper's and as nothing else; a bad name is refused.
func TestIssueMetricsCredential(t *testing.T) {
	c := newTestCluster(t, 0)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(pub)
	_, err = c.mgmt().IssueMetricsCredential(callCtx(t), &apb.IssueMetricsCredentialRequest{PublicKey: der, Name: "a b"})
	if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), "not a letter, digit") {
		t.Errorf("a name with a space: got %v, want InvalidArgument naming the character", err)
	}
	res, err := c.mgmt().IssueMetricsCredential(callCtx(t), &apb.IssueMetricsCredentialRequest{PublicKey: der, Name: "prometheus", ValiditySeconds: 7200})
	if err != nil {
		t.Fatal(err)
	}
	cert := mustParse(t, res.Certificate)
	if !mustParse(t, res.CaCertificate).Equal(c.ca) {
		t.Error("the answer's CA is not the cluster CA")
	}
	if name, err := pki.VerifyMetrics(cert, c.ca, time.Now()); err != nil || name != "prometheus" {
		t.Errorf("VerifyMetrics = %q, %v; want prometheus", name, err)
	}
	if _, err := pki.VerifyUser(cert, c.ca, time.Now()); err == nil {
		t.Error("the metrics certificate verifies as a user's")
	}
	if life := time.Until(cert.NotAfter); life > 2*time.Hour || life < 2*time.Hour-time.Minute {
		t.Errorf("certificate lives %v more, want about 2h", life)
	}
}
