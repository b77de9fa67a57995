package pki

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"time"
)

// ClientCertPolicy says whether a server accepts callers that present no certificate.
type ClientCertPolicy int

const (
	// RequireClientCert refuses the handshake unless the client presents a certificate issued
	// by the cluster CA for client authentication.
	RequireClientCert ClientCertPolicy = iota + 1
	// AllowAnonymousClients accepts clients without a certificate (a presented one must still
	// verify). Only for the few calls that precede having a certificate: register with a
	// ticket, ownership escrow, CA fetch. The handler must then check PeerIdentity itself.
	AllowAnonymousClients
)

// TLSCertificate pairs a certificate with its private key for use in a tls.Config, checking
// that they belong together (a mismatch would otherwise only show as failed handshakes).
func TLSCertificate(cert *x509.Certificate, key ed25519.PrivateKey) (tls.Certificate, error) {
	pub, ok := cert.PublicKey.(ed25519.PublicKey)
	if !ok {
		return tls.Certificate{}, fmt.Errorf("TLS certificate: key algorithm is %s, want Ed25519", cert.PublicKeyAlgorithm)
	}
	if !pub.Equal(key.Public()) {
		return tls.Certificate{}, errors.New("TLS certificate: private key does not match the certificate")
	}
	return tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}, nil
}

// newCertPool returns a pool trusting only ca.
func newCertPool(ca *x509.Certificate) *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return pool
}

// ServerConfig returns the TLS configuration of a cluster server (curator, node management,
// etcd) presenting serverCert and verifying client certificates against ca only. Which kind of
// client may do what is the handler's decision, made with PeerIdentity.
func ServerConfig(ca *x509.Certificate, serverCert tls.Certificate, policy ClientCertPolicy) *tls.Config {
	clientAuth := tls.RequireAndVerifyClientCert
	if policy == AllowAnonymousClients {
		clientAuth = tls.VerifyClientCertIfGiven
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{serverCert},
		ClientAuth:   clientAuth,
		ClientCAs:    newCertPool(ca),
	}
}

// ClientConfig returns the TLS configuration of a client that trusts only ca (pinning the
// cluster, not the system's roots) and expects the server to be serverName: a node ID or a
// service's DNS name. clientCert may be nil for anonymous calls.
func ClientConfig(ca *x509.Certificate, clientCert *tls.Certificate, serverName string) *tls.Config {
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS13,
		RootCAs:    newCertPool(ca),
		ServerName: serverName,
	}
	if clientCert != nil {
		cfg.Certificates = []tls.Certificate{*clientCert}
	}
	return cfg
}

// ClientConfigForAnyNode is ClientConfig for dialing a cluster address without knowing which
// node answers (a register ticket lists addresses, not node IDs): any valid node certificate
// from ca is accepted as the server. Standard hostname checking has to be switched off for
// that, so the full node verification runs in VerifyConnection instead.
func ClientConfigForAnyNode(ca *x509.Certificate, clientCert *tls.Certificate) *tls.Config {
	cfg := ClientConfig(ca, clientCert, "")
	cfg.RootCAs = nil
	cfg.InsecureSkipVerify = true // replaced by VerifyConnection below, which always runs
	cfg.VerifyConnection = func(state tls.ConnectionState) error {
		if len(state.PeerCertificates) == 0 {
			return errors.New("server presented no certificate")
		}
		if _, err := VerifyNode(state.PeerCertificates[0], ca, PurposeServer, time.Now()); err != nil {
			return fmt.Errorf("server is not a node of this cluster: %w", err)
		}
		return nil
	}
	return cfg
}

// PeerIdentity verifies the certificate the other side of a connection presented and returns
// its identity. purpose is the peer's role: PurposeClient on a server, PurposeServer on a
// client. It verifies again even if the handshake did, so that its answer never depends on how
// the tls.Config was built.
func PeerIdentity(state tls.ConnectionState, ca *x509.Certificate, purpose Purpose, now time.Time) (Identity, error) {
	if len(state.PeerCertificates) == 0 {
		return Identity{}, errors.New("peer presented no certificate")
	}
	return Verify(state.PeerCertificates[0], ca, purpose, now)
}
