package pki

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.etcd.io/etcd/server/v3/etcdserver/api/v3client"
)

func TestIssuedCertificatesVerify(t *testing.T) {
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	addr := net.IPv4(10, 1, 2, 3)
	for _, tc := range []struct {
		name    string
		req     Request
		usage   x509.ExtKeyUsage
		dnsName string
	}{
		{"serving by address", ServingRequest(addr), x509.ExtKeyUsageServerAuth, "10.1.2.3"},
		{"serving by service name", ServingRequest(addr), x509.ExtKeyUsageServerAuth, "kubernetes.default.svc"},
		{"serving by service IP", ServingRequest(addr), x509.ExtKeyUsageServerAuth, "10.96.0.1"},
		{"component client", ClientRequest(UserScheduler), x509.ExtKeyUsageClientAuth, ""},
		{"admin client", ClientRequest(UserController, GroupMasters), x509.ExtKeyUsageClientAuth, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			certPEM, keyPEM, err := ca.IssueWithKey(tc.req)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParsePrivateKeyPEM(keyPEM); err != nil {
				t.Fatalf("issued key does not parse: %v", err)
			}
			cert := parseCert(t, certPEM)
			opts := x509.VerifyOptions{Roots: pool(ca), DNSName: tc.dnsName, KeyUsages: []x509.ExtKeyUsage{tc.usage}}
			if _, err := cert.Verify(opts); err != nil {
				t.Errorf("does not verify against its CA: %v", err)
			}
			opts.Roots = pool(other)
			if _, err := cert.Verify(opts); err == nil {
				t.Error("verifies against another CA")
			}
			if cert.Subject.CommonName != tc.req.CommonName || fmt.Sprint(cert.Subject.Organization) != fmt.Sprint(tc.req.Organizations) {
				t.Errorf("subject %v, want CN %q O %v", cert.Subject, tc.req.CommonName, tc.req.Organizations)
			}
		})
	}
}

func TestIssueRefusesBadRequests(t *testing.T) {
	ca, err := NewCA()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		req  Request
	}{
		{"no common name", Request{Validity: time.Hour}},
		{"server without names", Request{CommonName: "x", Server: true, Validity: time.Hour}},
		{"no validity", Request{CommonName: "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, _, err := ca.IssueWithKey(tc.req); err == nil {
				t.Error("issued, want an error")
			}
		})
	}
}

// TestEnsureCreatesOnce runs concurrent controllers against one etcd: all must end up with the
// same CA and service-account key.
func TestEnsureCreatesOnce(t *testing.T) {
	kv := startEtcd(t)
	ctx := context.Background()
	if _, err := LoadCA(ctx, kv); err != ErrNotCreated {
		t.Fatalf("LoadCA on an empty etcd: %v, want ErrNotCreated", err)
	}
	const n = 4
	cas := make([]*CA, n)
	frontProxyCAs := make([]*CA, n)
	saKeys := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ca, err := EnsureCA(ctx, kv)
			if err != nil {
				t.Errorf("EnsureCA: %v", err)
				return
			}
			fp, err := EnsureFrontProxyCA(ctx, kv)
			if err != nil {
				t.Errorf("EnsureFrontProxyCA: %v", err)
				return
			}
			frontProxyCAs[i] = fp
			sa, err := EnsureServiceAccountKey(ctx, kv)
			if err != nil {
				t.Errorf("EnsureServiceAccountKey: %v", err)
				return
			}
			cas[i] = ca
			raw, err := sa.Bytes()
			if err != nil {
				t.Errorf("service-account key: %v", err)
				return
			}
			saKeys[i] = string(raw)
		})
	}
	wg.Wait()
	loaded, err := LoadCA(ctx, kv)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if cas[i] == nil || !cas[i].Certificate.Equal(loaded.Certificate) {
			t.Errorf("controller %d has another CA than the stored one", i)
		}
		if frontProxyCAs[i] == nil || !frontProxyCAs[i].Certificate.Equal(frontProxyCAs[0].Certificate) {
			t.Errorf("controller %d has another front proxy CA", i)
		}
		if frontProxyCAs[i] != nil && frontProxyCAs[i].Certificate.Equal(loaded.Certificate) {
			t.Errorf("controller %d: the front proxy CA is the Kubernetes CA; it must be a CA of its own", i)
		}
		if saKeys[i] != saKeys[0] {
			t.Errorf("controller %d has another service-account key", i)
		}
	}
}

func FuzzParseCAPEM(f *testing.F) {
	ca, err := NewCA()
	if err != nil {
		f.Fatal(err)
	}
	keyPEM, _ := EncodePrivateKeyPEM(ca.Key)
	f.Add(append(ca.CertificatePEM(), keyPEM...))
	f.Add(ca.CertificatePEM())
	f.Add([]byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		parsed, err := ParseCAPEM(data)
		if err == nil && (parsed.Certificate == nil || parsed.Key == nil) {
			t.Fatal("parsed without error but incomplete")
		}
	})
}

func parseCert(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		t.Fatal("issued certificate is not a PEM CERTIFICATE")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func pool(ca *CA) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Certificate)
	return p
}

// startEtcd runs a one-member etcd without TLS on loopback for the test.
func startEtcd(t *testing.T) clientv3.KV {
	t.Helper()
	cfg := embed.NewConfig()
	cfg.Dir = t.TempDir()
	cfg.UnsafeNoFsync = true
	cfg.LogLevel = "error"
	peer, client := localURL(t), localURL(t)
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peer}, []url.URL{peer}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{client}, []url.URL{client}
	cfg.InitialCluster = cfg.Name + "=" + peer.String()
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(time.Minute):
		t.Fatal("etcd not ready after a minute")
	}
	c := v3client.New(e.Server)
	t.Cleanup(func() { c.Close() })
	return c
}

func localURL(t *testing.T) url.URL {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return url.URL{Scheme: "http", Host: l.Addr().String()}
}
