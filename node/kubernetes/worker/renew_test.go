package worker

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"k8s.io/client-go/rest"

	cpb "metropolis.dev/metropolis/api/curator/v1"
	kpki "metropolis.dev/metropolis/node/kubernetes/pki"
	"metropolis.dev/metropolis/osbase/supervisor"
)

// shortLivedCurator issues worker credentials valid for validity from now, from a real
// Kubernetes CA: what the curator does, but with lifetimes a test can wait out.
type shortLivedCurator struct {
	cpb.CuratorClient
	ca       *kpki.CA
	validity time.Duration

	mu     sync.Mutex
	issued int
}

func (c *shortLivedCurator) IssueKubernetesWorkerCredentials(_ context.Context, req *cpb.IssueKubernetesWorkerCredentialsRequest, _ ...grpc.CallOption) (*cpb.IssueKubernetesWorkerCredentialsResponse, error) {
	c.mu.Lock()
	c.issued++
	c.mu.Unlock()
	var certs [3][]byte
	for i, r := range []struct {
		key    []byte
		server bool
	}{{req.KubeletPublicKey, false}, {req.KubeletPublicKey, true}, {req.ProxyPublicKey, false}} {
		pub, err := x509.ParsePKIXPublicKey(r.key)
		if err != nil {
			return nil, err
		}
		usage := x509.ExtKeyUsageClientAuth
		if r.server {
			usage = x509.ExtKeyUsageServerAuth
		}
		serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
		now := time.Now()
		tmpl := &x509.Certificate{
			SerialNumber: serial, Subject: pkix.Name{CommonName: "system:node:test"},
			IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, NotBefore: now, NotAfter: now.Add(c.validity),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		}
		if certs[i], err = x509.CreateCertificate(rand.Reader, tmpl, c.ca.Certificate, pub, c.ca.Key); err != nil {
			return nil, err
		}
	}
	return &cpb.IssueKubernetesWorkerCredentialsResponse{
		KubeletClientCertificate: certs[0], KubeletServingCertificate: certs[1], ProxyCertificate: certs[2],
		CaCertificate: c.ca.Certificate.Raw, ApiserverEndpoints: []string{"192.0.2.1:6443"},
	}, nil
}

// TestRenewerReplacesCertificates runs the renewer against certificates that last three
// seconds, with a client built as the worker builds its own (clientset) calling a server that
// requires a client certificate: the client must present the renewed certificates without a
// restart, and never fail twice in a row while files are replaced.
func TestRenewerReplacesCertificates(t *testing.T) {
	ca, err := kpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	cur := &shortLivedCurator{ca: ca, validity: 3 * time.Second}
	loopback := net.IPv4(127, 0, 0, 1)
	s := &Service{cfg: Config{StateDir: t.TempDir(), Curator: cur, Address: loopback}}
	creds, err := fetchCredentials(context.Background(), cur, loopback)
	if err != nil {
		t.Fatal(err)
	}
	if err := creds.write(s.pkiDir(), "https://"+proxyAddress()); err != nil {
		t.Fatal(err)
	}

	pool := x509.NewCertPool()
	pool.AddCert(ca.Certificate)
	var mu sync.Mutex
	seen := map[string]bool{}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.TLS.PeerCertificates[0].SerialNumber.String()] = true
		mu.Unlock()
		w.Header().Set("Connection", "close") // every request shakes hands anew
	}))
	srv.TLS = &tls.Config{ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	srv.StartTLS()
	defer srv.Close()
	certKey := filepath.Join(s.pkiDir(), proxyClientFile)
	transport, err := rest.TransportFor(&rest.Config{Host: srv.URL, TLSClientConfig: rest.TLSClientConfig{
		Insecure: true, CertFile: certKey, KeyFile: certKey,
	}})
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Transport: transport}

	r := &renewer{s: s, current: creds}
	supervisor.TestHarness(t, r.run)
	for deadline := time.Now().Add(7 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		res, err := client.Get(srv.URL)
		if err != nil {
			// client-go closes its connections when it loads a new certificate, failing a
			// request in flight; its callers retry, and so does this one, once.
			if res, err = client.Get(srv.URL); err != nil {
				t.Fatalf("request while certificates are renewed, retried: %v", err)
			}
		}
		res.Body.Close()
	}
	cur.mu.Lock()
	issued := cur.issued
	cur.mu.Unlock()
	if issued < 3 {
		t.Errorf("curator issued credentials %d times in 7 s of 3-second certificates, want at least 3 (start and two renewals)", issued)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) < 2 {
		t.Errorf("server saw %d distinct client certificates, want the renewed ones too", len(seen))
	}
	for _, f := range []string{kubeletClientFile, kubeletServingFile, proxyClientFile} {
		path := filepath.Join(s.pkiDir(), f)
		pair, err := tls.LoadX509KeyPair(path, path)
		if err != nil {
			t.Errorf("%s: %v", f, err)
			continue
		}
		if time.Now().After(pair.Leaf.NotAfter) {
			t.Errorf("%s expired at %s: not renewed", f, pair.Leaf.NotAfter)
		}
	}
}

func TestCheckIssued(t *testing.T) {
	ca, err := kpki.NewCA()
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	res, err := (&shortLivedCurator{ca: ca, validity: time.Hour}).IssueKubernetesWorkerCredentials(context.Background(),
		&cpb.IssueKubernetesWorkerCredentialsRequest{KubeletPublicKey: pub, ProxyPublicKey: pub})
	if err != nil {
		t.Fatal(err)
	}
	if err := checkIssued(res, net.IPv4(127, 0, 0, 1)); err != nil {
		t.Errorf("certified for the node's address: %v", err)
	}
	err = checkIssued(res, net.ParseIP("192.0.2.20"))
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(err.Error(), "the node is at 192.0.2.20: its new address has not reached the curator yet") {
		t.Errorf("certified for another address: %v, want FailedPrecondition saying so", err)
	}
	res.ApiserverEndpoints = nil
	if err := checkIssued(res, nil); status.Code(err) != codes.FailedPrecondition {
		t.Errorf("no controller: %v", err)
	}
}
