package rpc

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"

	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
)

// ServerTLSConfig is the TLS configuration of a Metropolis gRPC server presenting serverCert.
// It requests a client certificate without verifying it in the handshake (the Authorizer
// classifies it per call): a self-signed certificate must get through to the open methods that
// authenticate by its key. For the same reason it names no acceptable client CAs: TLS clients
// that honour that list (Go's does) would otherwise withhold a self-signed certificate.
// The certificate is read at every handshake: a renewed one is presented from then on.
func ServerTLSConfig(serverCert *pki.Renewable) *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS13,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return serverCert.Current(), nil
		},
		ClientAuth: tls.RequestClientCert,
	}
}

// clientTLSConfig is the TLS configuration of a client of a cluster: the server must present a
// node certificate from ca, and if the connection was made for a particular node (its node ID
// as TLS server name, which DialNode and DialCurator set) it must be that node's. clientCert
// may be nil for anonymous calls; it is read at every handshake.
func clientTLSConfig(ca *x509.Certificate, clientCert *pki.Renewable) *tls.Config {
	cfg := pki.ClientConfigForAnyNode(ca, nil)
	if clientCert != nil {
		// Present the certificate whatever issuers the server names as acceptable: a
		// self-signed certificate is never among them, yet it is what open methods need.
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			return clientCert.Current(), nil
		}
	}
	anyNode := cfg.VerifyConnection
	cfg.VerifyConnection = func(state tls.ConnectionState) error {
		if err := anyNode(state); err != nil {
			return err
		}
		want := state.ServerName
		if identity.ValidateNodeID(want) != nil {
			return nil // dialled by address: any node of the cluster will do
		}
		if got := state.PeerCertificates[0].Subject.CommonName; got != want {
			return fmt.Errorf("server presents the certificate of node %s, but %s was dialled", got, want)
		}
		return nil
	}
	return cfg
}
