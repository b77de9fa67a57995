package rpc

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"metropolis.dev/metropolis/node/pki"
)

// TestRenewedCertificatesPresented replaces a server's and a client's certificates between
// two handshakes: the second connection presents the renewed ones on both sides, as a node's
// servers and curator connection do after renewal.
func TestRenewedCertificatesPresented(t *testing.T) {
	ca := newCA(t)
	serverFirst, _ := nodeCert(t, ca, time.Hour)
	clientFirst, _ := nodeCert(t, ca, time.Hour)
	server, client := pki.NewRenewable(*serverFirst), pki.NewRenewable(*clientFirst)
	serverCfg, clientCfg := ServerTLSConfig(server), clientTLSConfig(ca.Certificate(), client)

	handshake := func() (seenByClient, seenByServer string) {
		t.Helper()
		c, s := net.Pipe()
		defer c.Close()
		defer s.Close()
		srv := tls.Server(s, serverCfg)
		done := make(chan error, 1)
		go func() { done <- srv.Handshake() }()
		cl := tls.Client(c, clientCfg)
		if err := cl.Handshake(); err != nil {
			t.Fatalf("client handshake: %v", err)
		}
		if err := <-done; err != nil {
			t.Fatalf("server handshake: %v", err)
		}
		return cl.ConnectionState().PeerCertificates[0].SerialNumber.String(),
			srv.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}

	gotServer, gotClient := handshake()
	if gotServer != serverFirst.Leaf.SerialNumber.String() || gotClient != clientFirst.Leaf.SerialNumber.String() {
		t.Fatalf("first handshake: server %s, client %s; want the first certificates", gotServer, gotClient)
	}
	serverRenewed, _ := nodeCert(t, ca, 2*time.Hour)
	clientRenewed, _ := nodeCert(t, ca, 2*time.Hour)
	server.Replace(*serverRenewed)
	client.Replace(*clientRenewed)
	gotServer, gotClient = handshake()
	if gotServer != serverRenewed.Leaf.SerialNumber.String() {
		t.Errorf("after renewal the server presents %s, want the renewed %s", gotServer, serverRenewed.Leaf.SerialNumber)
	}
	if gotClient != clientRenewed.Leaf.SerialNumber.String() {
		t.Errorf("after renewal the client presents %s, want the renewed %s", gotClient, clientRenewed.Leaf.SerialNumber)
	}
}
