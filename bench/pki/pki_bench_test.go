package pki_bench

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"net"
	"testing"
	"time"

	"metropolis.dev/metropolis/node/identity"
	"metropolis.dev/metropolis/node/pki"
)

const validity = 24 * time.Hour

func newCA(b *testing.B) *pki.CA {
	b.Helper()
	ca, err := pki.NewCA("bench CA", 10*validity)
	if err != nil {
		b.Fatal(err)
	}
	return ca
}

func newNode(b *testing.B, ca *pki.CA) (*x509.Certificate, ed25519.PrivateKey) {
	b.Helper()
	pub, priv, err := identity.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	cert, err := ca.IssueNodeCertificate(pub, []net.IP{net.IPv4(127, 0, 0, 1)}, validity)
	if err != nil {
		b.Fatal(err)
	}
	return cert, priv
}

func BenchmarkIssueNodeCertificate(b *testing.B) {
	ca := newCA(b)
	pub, _, err := identity.GenerateKey()
	if err != nil {
		b.Fatal(err)
	}
	ips := []net.IP{net.IPv4(10, 0, 0, 1)}
	for b.Loop() {
		if _, err := ca.IssueNodeCertificate(pub, ips, validity); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyNode(b *testing.B) {
	ca := newCA(b)
	cert, _ := newNode(b, ca)
	now := time.Now()
	for b.Loop() {
		if _, err := pki.VerifyNode(cert, ca.Certificate(), pki.PurposeClient, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMutualTLSHandshake measures one new connection: TCP connect on loopback, a full
// TLS 1.3 handshake with client certificate (no session resumption), and the server extracting
// the client's identity as a handler would.
func BenchmarkMutualTLSHandshake(b *testing.B) {
	ca := newCA(b)
	serverCert, serverKey := newNode(b, ca)
	clientCert, clientKey := newNode(b, ca)
	serverTLS, err := pki.TLSCertificate(serverCert, serverKey)
	if err != nil {
		b.Fatal(err)
	}
	clientTLS, err := pki.TLSCertificate(clientCert, clientKey)
	if err != nil {
		b.Fatal(err)
	}
	serverCfg := pki.ServerConfig(ca.Certificate(), serverTLS, pki.RequireClientCert)
	clientCfg := pki.ClientConfig(ca.Certificate(), &clientTLS, serverCert.Subject.CommonName)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	serverErrs := make(chan error, 1)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return // listener closed at the end of the benchmark
			}
			serverErrs <- serveOne(conn, serverCfg, ca.Certificate())
		}
	}()

	for b.Loop() {
		conn, err := tls.Dial("tcp", ln.Addr().String(), clientCfg)
		if err != nil {
			b.Fatal(err)
		}
		// Wait for the server's one byte, so the handshake is complete on both sides
		// (TLS 1.3 lets the client finish before the server has checked its certificate).
		var buf [1]byte
		if _, err := conn.Read(buf[:]); err != nil {
			b.Fatal(err)
		}
		conn.Close()
		if err := <-serverErrs; err != nil {
			b.Fatal(err)
		}
	}
}

func serveOne(conn net.Conn, cfg *tls.Config, ca *x509.Certificate) error {
	defer conn.Close()
	tc := tls.Server(conn, cfg)
	if err := tc.Handshake(); err != nil {
		return err
	}
	if _, err := pki.PeerIdentity(tc.ConnectionState(), ca, pki.PurposeClient, time.Now()); err != nil {
		return err
	}
	_, err := tc.Write([]byte{1})
	return err
}
