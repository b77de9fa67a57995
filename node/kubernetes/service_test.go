package kubernetes

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"metropolis.dev/metropolis/node/consensus"
	"metropolis.dev/metropolis/node/pki"
	"metropolis.dev/metropolis/osbase/logtree"
	"metropolis.dev/metropolis/osbase/supervisor"
)

func TestNewChecksConfig(t *testing.T) {
	dir := t.TempDir()
	kube := filepath.Join(dir, "kube")
	if err := os.WriteFile(kube, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	ca, clientCert := testPKI(t, consensus.PeerCommonName)
	good := func() Config {
		return Config{KubeBinary: kube, Hostname: "metropolis-0123456789abcdef", StateDir: dir, Address: net.IPv4(10, 0, 0, 1), Etcd: nil,
			EtcdAddress: "127.0.0.1:7833", EtcdCA: ca.Certificate(), EtcdClientCertificate: clientCert}
	}
	for _, tc := range []struct {
		name, wantErr string
		change        func(*Config)
	}{
		{"loopback address", "not a routable node address", func(c *Config) { c.Address = net.IPv4(127, 0, 0, 1) }},
		{"no state directory", "state directory is empty", func(c *Config) { c.StateDir = "" }},
		{"missing kube binary", "kubernetes binary " + filepath.Join(dir, "nope") + " is missing", func(c *Config) { c.KubeBinary = filepath.Join(dir, "nope") }},
		{"no etcd", "must also be a ConsensusMember", func(c *Config) {}},
		{"no curator", "a curator client is required", func(c *Config) {}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := good()
			tc.change(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("New: %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
}

// TestEtcdProxy forwards a unix socket connection to a TLS server that presents a consensus
// certificate, and refuses one that presents any other certificate of the cluster.
func TestEtcdProxy(t *testing.T) {
	for _, tc := range []struct {
		serverCN string
		wantEcho bool
	}{
		{consensus.PeerCommonName, true},
		{"some-other-service", false},
	} {
		t.Run(tc.serverCN, func(t *testing.T) {
			ca, clientCert := testPKI(t, consensus.PeerCommonName)
			serverCert := issue(t, ca, tc.serverCN)
			l, err := tls.Listen("tcp", "127.0.0.1:0", pki.ServerConfig(ca.Certificate(), serverCert, pki.RequireClientCert))
			if err != nil {
				t.Fatal(err)
			}
			defer l.Close()
			go func() {
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
				}
			}()
			socket := filepath.Join(t.TempDir(), "etcd.sock")
			p, err := newEtcdProxy(socket, l.Addr().String(), ca.Certificate(), clientCert)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			supervisor.New(ctx, p.Run, supervisor.WithExistingLogtree(logtree.New()))
			var conn net.Conn
			for start := time.Now(); ; time.Sleep(20 * time.Millisecond) {
				if conn, err = net.Dial("unix", socket); err == nil || time.Since(start) > 10*time.Second {
					break
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.SetDeadline(time.Now().Add(10 * time.Second))
			// A refused upstream may close the socket before the write: no echo either way.
			buf := make([]byte, 4)
			if _, err = conn.Write([]byte("ping")); err == nil {
				_, err = io.ReadFull(conn, buf)
			}
			if got := err == nil && string(buf) == "ping"; got != tc.wantEcho {
				t.Errorf("echo through the proxy: %q, %v; want echo %v", buf, err, tc.wantEcho)
			}
		})
	}
}

func TestEtcdProxyRefusesLongSocketPath(t *testing.T) {
	ca, clientCert := testPKI(t, consensus.PeerCommonName)
	if _, err := newEtcdProxy("/"+strings.Repeat("x", 120), "127.0.0.1:1", ca.Certificate(), clientCert); err == nil {
		t.Error("accepted a socket path longer than a unix socket address holds")
	}
}

func testPKI(t *testing.T, clientCN string) (*pki.CA, tls.Certificate) {
	t.Helper()
	ca, err := pki.NewCA("test CA", 2*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return ca, issue(t, ca, clientCN)
}

func issue(t *testing.T, ca *pki.CA, cn string) tls.Certificate {
	t.Helper()
	pub, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := ca.IssueServiceCertificate(pki.ServiceRequest{
		CommonName: cn, IPAddresses: []net.IP{net.IPv4(10, 0, 0, 1)}, Usage: pki.ServicePeer, PublicKey: pub,
	}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tc, err := pki.TLSCertificate(cert, key)
	if err != nil {
		t.Fatal(err)
	}
	return tc
}

// TestEtcdProxyEndsConnectionsOfADeadUpstream: when the member's end of a forwarded connection
// dies (its process ends) or stops answering after the apiserver closed its side, the
// forwarded connection ends too, rather than leaving the apiserver a stream that never
// answers.
func TestEtcdProxyEndsConnectionsOfADeadUpstream(t *testing.T) {
	ca, clientCert := testPKI(t, consensus.PeerCommonName)
	serverCert := issue(t, ca, consensus.PeerCommonName)
	l, err := tls.Listen("tcp", "127.0.0.1:0", pki.ServerConfig(ca.Certificate(), serverCert, pki.RequireClientCert))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	upstream := make(chan net.Conn, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			// Finish the handshake, then hold the connection without a word, as a hung member.
			_ = c.(*tls.Conn).Handshake()
			upstream <- c
		}
	}()
	p, err := newEtcdProxy(filepath.Join(t.TempDir(), "etcd.sock"), l.Addr().String(), ca.Certificate(), clientCert)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	t.Run("upstream dies", func(t *testing.T) {
		local, proxied := net.Pipe()
		defer local.Close()
		go p.forward(ctx, proxied)
		var up net.Conn
		select {
		case up = <-upstream:
		case <-time.After(10 * time.Second):
			t.Fatal("the proxy did not connect upstream")
		}
		up.Close()
		local.SetReadDeadline(time.Now().Add(10 * time.Second))
		if _, err := local.Read(make([]byte, 1)); err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("the apiserver's side is still open after its upstream died: %v", err)
		}
	})
	t.Run("upstream hangs after the apiserver closed", func(t *testing.T) {
		local, proxied := net.Pipe()
		ended := make(chan struct{})
		go func() {
			p.forward(ctx, proxied)
			close(ended)
		}()
		var up net.Conn
		select {
		case up = <-upstream:
		case <-time.After(10 * time.Second):
			t.Fatal("the proxy did not connect upstream")
		}
		defer up.Close()
		local.Close()
		select {
		case <-ended:
		case <-time.After(halfOpenGrace + 10*time.Second):
			t.Fatalf("the forwarded connection still open %v after the apiserver closed it, its upstream silent", halfOpenGrace+10*time.Second)
		}
	})
}
