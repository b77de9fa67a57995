package pki

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestLocalClient reads a loopback component that serves with a certificate from the CA and
// requires one, as the controller-manager's secure port does; a component whose certificate
// another CA issued is refused, and so is a client with the wrong files.
func TestLocalClient(t *testing.T) {
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	caFile := write("ca.pem", ca.CertificatePEM())
	certPEM, keyPEM, err := ca.IssueWithKey(ClientRequest(UserMetricsReader))
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := write("reader.pem", certPEM), write("reader-key.pem", keyPEM)

	// serve starts a component with a serving certificate issued by issuer, which answers
	// with the client's name.
	serve := func(issuer *CA) *httptest.Server {
		sc, sk, err := issuer.IssueWithKey(LoopbackServingRequest("kube-scheduler"))
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair(sc, sk)
		if err != nil {
			t.Fatal(err)
		}
		clients := x509.NewCertPool()
		clients.AddCert(ca.Certificate)
		srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = w.Write([]byte(r.TLS.PeerCertificates[0].Subject.CommonName))
		}))
		srv.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: clients}
		srv.StartTLS()
		t.Cleanup(srv.Close)
		return srv
	}

	client, err := LocalClient(certFile, keyFile, caFile, "")
	if err != nil {
		t.Fatal(err)
	}
	res, err := client.Get(serve(ca).URL)
	if err != nil {
		t.Fatalf("reading a component of this CA: %v", err)
	}
	body := make([]byte, 64)
	n, _ := res.Body.Read(body)
	res.Body.Close()
	if string(body[:n]) != UserMetricsReader {
		t.Errorf("the component saw %q, want %s", body[:n], UserMetricsReader)
	}

	if _, err := client.Get(serve(other).URL); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("reading a component whose certificate another CA issued: %v, want refused", err)
	}
	if _, err := LocalClient(filepath.Join(dir, "missing.pem"), keyFile, caFile, ""); err == nil || !strings.Contains(err.Error(), "client certificate") {
		t.Errorf("a missing certificate file: %v, want an error naming it", err)
	}
	if _, err := LocalClient(certFile, keyFile, keyFile, ""); err == nil || !strings.Contains(err.Error(), "holds no certificate") {
		t.Errorf("a key as the CA: %v, want refused", err)
	}
}
