package k8s

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"time"
)

// ExecCredential is the JSON that an exec credential plugin prints for client-go
// (client.authentication.k8s.io/v1): a client certificate, its key, and when it expires (the
// plugin is run again after that).
func ExecCredential(cert *x509.Certificate, keyPEM []byte) ([]byte, error) {
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	return json.Marshal(map[string]any{
		"apiVersion": "client.authentication.k8s.io/v1",
		"kind":       "ExecCredential",
		"status": map[string]any{
			"clientCertificateData": string(certPEM),
			"clientKeyData":         string(keyPEM),
			"expirationTimestamp":   cert.NotAfter.UTC().Format(time.RFC3339),
		},
	})
}
