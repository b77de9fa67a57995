package pki

import (
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

// handshakeTimeout bounds a handshake that a bug would leave hanging; real ones take milliseconds.
const handshakeTimeout = 10 * time.Second

// handshake runs a TLS handshake between the two configurations over loopback TCP, then a
// one-byte exchange so that a client certificate rejected by the server (which TLS 1.3 reports
// only after the client's handshake is done) surfaces on the client too.
func handshake(t *testing.T, serverCfg, clientCfg *tls.Config) (serverState tls.ConnectionState, serverErr, clientErr error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()

	type result struct {
		state tls.ConnectionState
		err   error
	}
	serverDone := make(chan result, 1)
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			serverDone <- result{err: err}
			return
		}
		defer conn.Close()
		_ = conn.SetDeadline(time.Now().Add(handshakeTimeout))
		tc := tls.Server(conn, serverCfg)
		if err := tc.Handshake(); err != nil {
			serverDone <- result{err: err}
			return
		}
		var b [1]byte
		_, err = tc.Read(b[:])
		if err == nil {
			_, err = tc.Write(b[:])
		}
		serverDone <- result{state: tc.ConnectionState(), err: err}
	}()

	conn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.SetDeadline(time.Now().Add(handshakeTimeout))
	tc := tls.Client(conn, clientCfg)
	clientErr = tc.Handshake()
	if clientErr == nil {
		var b [1]byte
		if _, clientErr = tc.Write([]byte{'p'}); clientErr == nil {
			_, clientErr = tc.Read(b[:])
		}
	}
	conn.Close()
	r := <-serverDone
	return r.state, r.err, clientErr
}

// tlsCertMaker returns a function turning an issued certificate and its key into a
// tls.Certificate, so that it can wrap the multi-value issuing helpers directly.
func tlsCertMaker(t *testing.T) func(*x509.Certificate, ed25519.PrivateKey) *tls.Certificate {
	return func(cert *x509.Certificate, key ed25519.PrivateKey) *tls.Certificate {
		t.Helper()
		c, err := TLSCertificate(cert, key)
		if err != nil {
			t.Fatal(err)
		}
		return &c
	}
}

func TestMutualTLSWithTheHelpersConfigs(t *testing.T) {
	ca, otherCA := newTestCA(t), newTestCA(t)
	tlsCert := tlsCertMaker(t)
	server := tlsCert(nodeCert(t, ca))
	serverID := server.Leaf.Subject.CommonName
	user := tlsCert(userCert(t, ca))
	node := tlsCert(nodeCert(t, ca))
	foreignUser := tlsCert(userCert(t, otherCA))
	foreignServer := tlsCert(nodeCert(t, otherCA))
	serviceServer := tlsCert(serviceCert(t, ca, ServiceServer))
	otherNodeID := node.Leaf.Subject.CommonName

	requiring := ServerConfig(ca.Certificate(), *server, RequireClientCert)
	anonymousOK := ServerConfig(ca.Certificate(), *server, AllowAnonymousClients)

	cases := []struct {
		name         string
		serverCfg    *tls.Config
		clientCfg    *tls.Config
		wantClient   *Identity // the identity the server sees; nil: anonymous
		wantRefuser  string    // "", "server" or "client": which side must refuse
		wantErrMatch string    // substring of the refusing side's error
	}{
		{"user with the right CA and server name connects", requiring, ClientConfig(ca.Certificate(), user, serverID), &Identity{KindUser, "owner"}, "", ""},
		{"node dialing any node of the cluster connects", requiring, ClientConfigForAnyNode(ca.Certificate(), node), &Identity{KindNode, otherNodeID}, "", ""},
		{"client certificate from the wrong CA is refused", requiring, ClientConfig(ca.Certificate(), foreignUser, serverID), nil, "server", "certificate signed by unknown authority"},
		{"no client certificate is refused when required", requiring, ClientConfig(ca.Certificate(), nil, serverID), nil, "server", "client didn't provide a certificate"},
		{"no client certificate is accepted where anonymous calls are allowed", anonymousOK, ClientConfig(ca.Certificate(), nil, serverID), nil, "", ""},
		{"wrong-CA certificate is refused even where anonymous calls are allowed", anonymousOK, ClientConfig(ca.Certificate(), foreignUser, serverID), nil, "server", "unknown authority"},
		{"server from the wrong CA is refused", ServerConfig(otherCA.Certificate(), *foreignServer, RequireClientCert), ClientConfig(ca.Certificate(), user, foreignServer.Leaf.Subject.CommonName), nil, "client", "unknown authority"},
		{"server with another node's name is refused", requiring, ClientConfig(ca.Certificate(), user, otherNodeID), nil, "client", "certificate is valid for " + serverID},
		{"wrong-CA server is refused by the any-node client", ServerConfig(otherCA.Certificate(), *foreignServer, RequireClientCert), ClientConfigForAnyNode(ca.Certificate(), node), nil, "client", "server is not a node of this cluster: not signed by cluster CA"},
		{"service server is refused by the any-node client", ServerConfig(ca.Certificate(), *serviceServer, RequireClientCert), ClientConfigForAnyNode(ca.Certificate(), node), nil, "client", "certificate is a service certificate, not a node certificate"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			state, serverErr, clientErr := handshake(t, c.serverCfg, c.clientCfg)
			switch c.wantRefuser {
			case "":
				if serverErr != nil || clientErr != nil {
					t.Fatalf("handshake failed: server: %v; client: %v", serverErr, clientErr)
				}
				id, err := PeerIdentity(state, ca.Certificate(), PurposeClient, time.Now())
				if c.wantClient == nil {
					if err == nil || !strings.Contains(err.Error(), "peer presented no certificate") {
						t.Fatalf("PeerIdentity of anonymous client = %v, %v; want 'peer presented no certificate'", id, err)
					}
					return
				}
				if err != nil || id != *c.wantClient {
					t.Fatalf("PeerIdentity = %v, %v; want %v", id, err, *c.wantClient)
				}
			case "server":
				if serverErr == nil || !strings.Contains(serverErr.Error(), c.wantErrMatch) {
					t.Fatalf("server error = %v, want one containing %q", serverErr, c.wantErrMatch)
				}
				if clientErr == nil {
					t.Fatalf("client did not notice the server's refusal")
				}
			case "client":
				if clientErr == nil || !strings.Contains(clientErr.Error(), c.wantErrMatch) {
					t.Fatalf("client error = %v, want one containing %q", clientErr, c.wantErrMatch)
				}
				if serverErr == nil {
					t.Fatalf("server completed a connection the client refused")
				}
			}
		})
	}
}

func TestTLSCertificateRefusesAForeignKey(t *testing.T) {
	ca := newTestCA(t)
	cert, _ := nodeCert(t, ca)
	_, otherKey := newKey(t)
	if _, err := TLSCertificate(cert, otherKey); err == nil || !strings.Contains(err.Error(), "private key does not match the certificate") {
		t.Fatalf("TLSCertificate with a foreign key = %v, want a mismatch error", err)
	}
}

func TestServerSeesNodeIdentityOfClient(t *testing.T) {
	// The identity a handler gets is the verified one: a node client is reported as its node ID.
	ca := newTestCA(t)
	tlsCert := tlsCertMaker(t)
	server := tlsCert(nodeCert(t, ca))
	client := tlsCert(nodeCert(t, ca))
	state, serverErr, clientErr := handshake(t, ServerConfig(ca.Certificate(), *server, RequireClientCert), ClientConfig(ca.Certificate(), client, server.Leaf.Subject.CommonName))
	if err := errors.Join(serverErr, clientErr); err != nil {
		t.Fatal(err)
	}
	id, err := PeerIdentity(state, ca.Certificate(), PurposeClient, time.Now())
	if err != nil || id.Kind != KindNode || id.Name != client.Leaf.Subject.CommonName {
		t.Fatalf("PeerIdentity = %v, %v; want node %s", id, err, client.Leaf.Subject.CommonName)
	}
}
