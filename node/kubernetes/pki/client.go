package pki

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
)

// LocalClient is an HTTPS client for a Kubernetes component on this node: it presents the
// certificate and key in certFile and keyFile (one file may hold both) and trusts only the
// Kubernetes CA in caFile, for serverName (empty: the address dialled). The files are read
// now, so a client made after a renewal presents the renewed certificate; make one per use.
func LocalClient(certFile, keyFile, caFile, serverName string) (*http.Client, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("the Kubernetes CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("the Kubernetes CA in %s holds no certificate", caFile)
	}
	return &http.Client{Transport: &http.Transport{
		Proxy: nil, // a component on this node: an environment's proxy settings must not apply
		TLSClientConfig: &tls.Config{
			MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{cert},
			RootCAs: pool, ServerName: serverName,
		},
	}}, nil
}
